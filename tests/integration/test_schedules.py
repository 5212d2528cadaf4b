"""Schedules against the real PostgreSQL (and RabbitMQ): a schedule fills its horizon once and moves with time, a
pause stops it, many keepers (and two datemaker processes) make each event once, organizers are told about an event
far from full, and an overflowing waitlist opens an extra night whose seats go to those who accept, through the bot."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from contracts import commands as c
from datemaker.adapters.postgres.schedules import ScheduleQueries
from datemaker.domain.schedules import Demand, ScheduleState
from tests.conftest import wait_for
from tests.support.factories import create_participant, register
from tests.support.journey import notifications
from tests.support.schedules import Clock, add_schedule, keeper

T0 = datetime(2030, 1, 7, 6, 0, tzinfo=UTC)  # Monday, 09:00 in Moscow
MOSCOW = ZoneInfo("Europe/Moscow")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def events_of(pool, schedule_id):
    return await pool.fetch("SELECT * FROM dating_events WHERE schedule_id = $1 ORDER BY start_dttm, id", schedule_id)


async def starts_of(pool, schedule_id):
    return [row["start_dttm"] for row in await events_of(pool, schedule_id)]


async def test_a_schedule_fills_its_horizon_once_moves_with_time_and_a_pause_stops_it(isolated):
    pool = isolated.pool
    schedule = await add_schedule(
        pool, "mon,wed,fri", "19:00", horizon=3, users_limit=12, min_age=25, max_age=40, round_seconds=420
    )
    clock = Clock(T0)
    calendar = keeper(pool, clock)
    await calendar.keep_all()
    first = await events_of(pool, schedule)
    assert [r["start_dttm"] for r in first] == [
        utc("2030-01-07 16:00"),
        utc("2030-01-09 16:00"),
        utc("2030-01-11 16:00"),
    ]
    for row in first:  # the schedule's settings, the table's defaults for the rest
        assert (row["timezone"], row["users_limit"], row["min_age"], row["max_age"]) == ("Europe/Moscow", 12, 25, 40)
        assert (row["round_seconds"], row["break_seconds"], row["state_id"], row["extra_for"]) == (420, 60, 0, None)
    assert clock.woken == []  # no messages: alerts are off

    await calendar.keep_all()  # nothing to do
    assert await starts_of(pool, schedule) == [r["start_dttm"] for r in first]

    # Tonight's registration closes (an hour before): the horizon moves on by one slot.
    clock.now = utc("2030-01-07 15:00")
    await calendar.keep_all()
    assert (await starts_of(pool, schedule))[-1] == utc("2030-01-14 16:00")
    assert len(await starts_of(pool, schedule)) == 4

    # A cancelled night is not made again; a slot whose event is gone is.
    await pool.execute("UPDATE dating_events SET state_id = 6 WHERE id = $1", first[1]["id"])
    await pool.execute("DELETE FROM dating_events WHERE id = $1", first[2]["id"])
    await calendar.keep_all()
    rows = await events_of(pool, schedule)
    assert [(r["start_dttm"], r["state_id"]) for r in rows] == [
        (utc("2030-01-07 16:00"), 0),
        (utc("2030-01-09 16:00"), 6),
        (utc("2030-01-11 16:00"), 0),
        (utc("2030-01-14 16:00"), 0),
    ]
    assert rows[2]["id"] != first[2]["id"]

    # Paused: nothing more is made, however much time passes.
    queries = ScheduleQueries(pool)
    await queries.set_state(schedule, ScheduleState.PAUSED, clock.now)
    clock.now = utc("2030-01-21 09:00")
    await calendar.keep_all()
    assert len(await starts_of(pool, schedule)) == 4

    # Resumed: the horizon as of now; ended: nothing again.
    await queries.set_state(schedule, ScheduleState.ACTIVE, clock.now)
    await calendar.keep_all()
    assert (await starts_of(pool, schedule))[4:] == [
        utc("2030-01-21 16:00"),
        utc("2030-01-23 16:00"),
        utc("2030-01-25 16:00"),
    ]
    await queries.set_state(schedule, ScheduleState.ENDED, clock.now)
    clock.now = utc("2030-02-21 09:00")
    await calendar.keep_all()
    assert len(await starts_of(pool, schedule)) == 7
    # The seed's INSERT still works and belongs to no schedule.
    await pool.execute("INSERT INTO public.dating_events (start_dttm) VALUES ('2030-01-08'::TIMESTAMP)")
    assert await pool.fetchval("SELECT count(*) FROM dating_events WHERE schedule_id IS NULL") == 1


async def test_a_schedule_across_a_dst_change_keeps_its_local_time(isolated):
    schedule = await add_schedule(isolated.pool, "sun", "02:30", "Europe/Berlin", horizon=3)
    await keeper(isolated.pool, Clock(utc("2030-03-20 12:00"))).keep_all()
    # 31 March 2030: the clocks skip 02:00-03:00 in Berlin, so that night starts at 03:30 CEST.
    assert await starts_of(isolated.pool, schedule) == [
        utc("2030-03-24 01:30"),
        utc("2030-03-31 01:30"),
        utc("2030-04-07 00:30"),
    ]


async def test_many_keepers_at_once_make_each_slot_extra_night_and_offer_once(isolated):
    pool = isolated.pool
    schedule = await add_schedule(
        pool, "daily", "19:00", horizon=5, users_limit=2, demand=Demand(extra_when_waitlist=1)
    )
    clock = Clock(T0)
    keepers = [keeper(pool, clock) for _ in range(8)]  # leases always granted: only the database keeps order
    await asyncio.gather(*(k.keep(schedule) for k in keepers))
    rows = await events_of(pool, schedule)
    assert len(rows) == 5

    full = rows[0]["id"]
    people = [await create_participant(pool, gender=g) for g in "FMF"]
    await register(pool, full, people[0])
    await register(pool, full, people[1])
    await register(pool, full, people[2], waitlisted=True)
    reports = await asyncio.gather(*(k.keep(schedule) for k in keepers))
    rows = await events_of(pool, schedule)
    extras = [r for r in rows if r["extra_for"] is not None]
    assert len(rows) == 6 and len(extras) == 1
    extra = extras[0]
    assert (extra["extra_for"], extra["start_dttm"]) == (full, utc("2030-01-12 16:00"))  # the next free slot
    assert sum(len(r.extras) for r in reports) == 1
    offers = await pool.fetch("SELECT * FROM seat_offers")
    assert [(o["event_id"], o["user_id"], o["from_event_id"]) for o in offers] == [(extra["id"], people[2], full)]
    assert extra["held_seats"] == 1
    outbox = await pool.fetch("SELECT * FROM outbox WHERE type = 'offer_extra_seat'")
    assert [(o["user_id"], o["body"]["event_id"], o["body"]["from_event_id"]) for o in outbox] == [
        (people[2], extra["id"], full)
    ]
    assert sum(r.offers for r in reports) == 1


async def test_two_datemakers_make_each_event_once_and_one_takes_over_when_the_other_dies(isolated):
    pool = isolated.pool
    schedules = [await add_schedule(pool, "daily", f"{hour:02d}:30", horizon=4) for hour in (9, 11, 13, 15, 17, 19)]
    instances = [isolated.datemaker(f"instance{i}").start() for i in range(2)]
    count = "SELECT count(*) FROM dating_events"
    try:
        await wait_for(lambda: _equals(pool.fetchval(count), 24), timeout=30)
        await asyncio.sleep(2)  # a few more passes of both
        assert await pool.fetchval(count) == 24
        per_slot = await pool.fetch("SELECT schedule_id, start_dttm, count(*) FROM dating_events GROUP BY 1, 2")
        assert {row["schedule_id"] for row in per_slot} == set(schedules)
        assert {row["count"] for row in per_slot} == {1}

        instances[0].kill()  # its leases go with its connection
        await pool.execute(
            "DELETE FROM dating_events WHERE id IN (SELECT min(id) FROM dating_events GROUP BY schedule_id)"
        )
        await wait_for(lambda: _equals(pool.fetchval(count), 24), timeout=30)
    finally:
        for instance in instances:
            instance.stop()
    for instance in instances:
        log = instance.log.read_text()
        assert "keeping its calendar failed" not in log, log[-3000:]


async def _equals(value, expected):
    return await value == expected


async def test_organizers_are_told_once_about_an_event_far_from_full(bot, clean_db, datemaker):
    organizer = await create_participant(clean_db, name="Olga", language="en")
    other = 777_000_001  # an organizer without a profile
    await clean_db.execute("INSERT INTO organizers (user_id) VALUES ($1), ($2)", organizer, other)
    soon = datetime.now(UTC) + timedelta(hours=3)  # within two days: the alert is due at once
    local = soon.astimezone(MOSCOW)
    schedule = await add_schedule(
        clean_db, "daily", f"{local:%H}:00", horizon=1, users_limit=10, demand=Demand(alert_below_percent=50)
    )
    [event] = await wait_for(lambda: events_of(clean_db, schedule), timeout=10)
    person = await create_participant(clean_db)
    await register(clean_db, event["id"], person)

    def alerts():
        return [s for s in notifications(bot, event["id"]) if s.type == "event_underfilled"]

    await wait_for(lambda: len(alerts()) == 2, timeout=10)
    await asyncio.sleep(1.5)  # three more passes: told once
    told = {s.user_id: s.body for s in alerts()}
    assert set(told) == {organizer, other} and len(alerts()) == 2
    assert told[organizer]["schedule_id"] == schedule and told[organizer]["capacity"] == 10
    assert told[organizer]["registered"] in (0, 1)
    message = next(m for m in bot.notifications if m.type == "event_underfilled" and m.headers["user_id"] == organizer)
    assert message.headers["language"] == "en"


# --- an overflowing waitlist, through the bot --------------------------------------------------------------


async def test_a_waitlist_overflow_opens_an_extra_night_whose_seats_go_to_those_who_accept(
    settings, clean_db, datemaker
):
    from datemaker.adapters.metrics import EVENTS_CREATED, WAITLIST_OFFERS
    from tests.support.bot import BotHarness

    def counted():
        return (
            EVENTS_CREATED.labels("demand")._value.get(),
            WAITLIST_OFFERS.labels("made")._value.get(),
            WAITLIST_OFFERS.labels("accepted")._value.get(),
        )

    before = counted()
    async with BotHarness(settings, clean_db) as harness:
        people = [harness.user(880_000_000 + i, language_code="en") for i in range(5)]
        for user in people:
            await harness.create_profile(user, name=f"P{user % 10}")
        local = (datetime.now(UTC) + timedelta(hours=5)).astimezone(MOSCOW)
        schedule = await add_schedule(
            clean_db, "daily", f"{local:%H}:00", horizon=1, users_limit=2, demand=Demand(extra_when_waitlist=2)
        )
        [full] = await wait_for(lambda: events_of(clean_db, schedule), timeout=10)
        from chathub_bot.gateway import Actor

        statuses = [
            (await harness.gateway.request(c.RegisterEvent(event_id=full["id"]), Actor(user, user))).status
            for user in people[:4]
        ]
        assert statuses == ["registered", "registered", "waitlisted", "waitlisted"]

        # The extra night opens by itself; the two people waiting are offered its seats, held for them.
        def offers():
            return [m for m in harness.notifications if m.type == "offer_extra_seat"]

        await wait_for(lambda: len(offers()) == 2, timeout=10)
        extra = await clean_db.fetchrow("SELECT * FROM dating_events WHERE extra_for = $1", full["id"])
        assert extra["schedule_id"] == schedule and extra["start_dttm"] == full["start_dttm"] + timedelta(days=1)
        assert extra["held_seats"] == 2
        assert {m.headers["user_id"] for m in offers()} == set(people[2:4])
        for message in offers():
            await harness.inbox(message)  # the bot shows it, with its button
        waiting_a, waiting_b = people[2], people[3]
        offer = harness.last(waiting_a)
        assert "is full, so we are opening another one" in offer.text
        assert "keep your place on the waiting list" in offer.text

        # Someone else sees only the seats that are not held.
        listing = await harness.gateway.request(c.ListEvents(), Actor(people[4], people[4]))
        assert next(e for e in listing.events if e.event_id == extra["id"]).spots_left == 0

        # The first one accepts: a seat at the extra night, off the first night's waitlist.
        answered, toast = await harness.press(waiting_a, offer, "✅ Take the seat")
        assert "The seat is yours" in answered[-1].text and "left the waiting list" in answered[-1].text, answered
        seats = await clean_db.fetch(
            "SELECT event_id, waitlisted, cancelled_at IS NOT NULL AS cancelled FROM registrations WHERE user_id = $1",
            waiting_a,
        )
        assert {(r["event_id"], r["waitlisted"], r["cancelled"]) for r in seats} == {
            (full["id"], True, True),
            (extra["id"], False, False),
        }
        extra_now = await clean_db.fetchrow("SELECT * FROM dating_events WHERE id = $1", extra["id"])
        assert (extra_now["registered_count"], extra_now["held_seats"]) == (1, 1)

        # Pressed again: a clear answer, nothing changes.
        _, toast = await harness.press(waiting_a, offer.message_id, data=f"o:{extra['id']}")
        assert toast == "You have taken this seat already."
        # Someone who was offered nothing (a forged button) is told so.
        _, toast = await harness.press(people[0], harness.last(people[0]), data=f"o:{extra['id']}")
        assert toast == "There is no seat offered to you at this event."

        # The second one waits too long: the extra night's registration closes, the offer with it.
        await clean_db.execute(  # it closes two days before it starts: that was a day ago
            "UPDATE dating_events SET confirm_deadline_seconds = 172800, confirm_open_seconds = 172801 WHERE id = $1",
            extra["id"],
        )
        late = harness.last(waiting_b)
        answered, toast = await harness.press(waiting_b, late, "✅ Take the seat")
        assert toast == "Sorry, this offer has expired."
        assert "this offer has expired" in harness.last(waiting_b).text  # the button is gone from the offer
        waiting = await clean_db.fetchval(
            "SELECT waitlisted AND cancelled_at IS NULL FROM registrations WHERE event_id = $1 AND user_id = $2",
            full["id"],
            waiting_b,
        )
        assert waiting  # still on the first night's waitlist
        assert not harness.errors.records
    after = counted()
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 2, 1]


# --- the command's bad input ----------------------------------------------------------------------------


async def offer(pool, extra, user, full):
    """A seat at ``extra`` offered to ``user``, waiting at ``full`` (as the keeper offers it)."""
    await pool.execute(
        "INSERT INTO seat_offers (event_id, user_id, from_event_id, offered_at) VALUES ($1, $2, $3, now())",
        extra,
        user,
        full,
    )


async def test_accept_extra_seat_refuses_bad_input_unknown_repeated_and_late_offers(bot, clean_db, datemaker):
    from tests.support.factories import create_event

    full = await create_event(clean_db, users_limit=1)
    extra = await create_event(clean_db, users_limit=3, starts_in=timedelta(days=4))
    seated, waiting, stranger = [await create_participant(clean_db, gender=g) for g in "FMM"]
    await register(clean_db, full, seated)
    await register(clean_db, full, waiting, waitlisted=True)
    await offer(clean_db, extra, waiting, full)
    for body, fragment in [
        ({}, "event_id: field required"),
        ({"event_id": "7"}, "event_id"),
        ({"event_id": -1}, "greater than 0"),
        ({"event_id": 2**70}, "event_id"),
        ({"event_id": 1.5}, "event_id"),
        ({"event_id": True}, "event_id"),
    ]:
        reply = await bot.call("accept_extra_seat", body, user_id=waiting)
        assert reply["error"]["code"] == "bad_request" and fragment in reply["error"]["message"], (body, reply)
    for event_id in (extra, 987_654_321):
        reply = await bot.call("accept_extra_seat", {"event_id": event_id}, user_id=stranger)
        assert reply["error"]["code"] == "offer_not_found", reply

    message_id = await bot.send("accept_extra_seat", {"event_id": extra}, user_id=waiting)
    accepted = await bot.reply_to(message_id)
    assert accepted["ok"] and accepted["data"]["status"] == "registered", accepted
    assert accepted["data"]["left_waitlist_of"] == full
    assert accepted["data"]["event"]["spots_left"] == 2
    again = await bot.call("accept_extra_seat", {"event_id": extra}, user_id=waiting, message_id=message_id)
    assert again == accepted  # the same message: the same reply, nothing done twice
    repeated = await bot.call("accept_extra_seat", {"event_id": extra}, user_id=waiting)
    assert repeated["error"]["code"] == "offer_already_accepted", repeated
    assert await clean_db.fetchval("SELECT registered_count FROM dating_events WHERE id = $1", extra) == 1

    # Withdrawn: someone promoted at the full event after all no longer holds a seat elsewhere.
    other = await create_participant(clean_db, gender="F")
    await register(clean_db, full, other, waitlisted=True)
    await offer(clean_db, extra, other, full)
    assert await clean_db.fetchval("SELECT held_seats FROM dating_events WHERE id = $1", extra) == 1
    await bot.call("cancel_registration", {"event_id": full}, user_id=seated)  # the seat goes to `other`
    assert await clean_db.fetchval("SELECT held_seats FROM dating_events WHERE id = $1", extra) == 0
    withdrawn = await bot.call("accept_extra_seat", {"event_id": extra}, user_id=other)
    assert withdrawn["error"]["code"] == "offer_expired" and "withdrawn" in withdrawn["error"]["message"]

    # Late: the extra night's registration has closed.
    late_user = await create_participant(clean_db, gender="M")
    await register(clean_db, full, late_user, waitlisted=True)
    await offer(clean_db, extra, late_user, full)
    await clean_db.execute(  # it closes five days before it starts: that was a day ago
        "UPDATE dating_events SET confirm_deadline_seconds = 432000, confirm_open_seconds = 432001 WHERE id = $1", extra
    )
    late = await bot.call("accept_extra_seat", {"event_id": extra}, user_id=late_user)
    assert late["error"]["code"] == "offer_expired" and "expired" in late["error"]["message"], late
    assert await clean_db.fetchval("SELECT registered_count FROM dating_events WHERE id = $1", extra) == 1
