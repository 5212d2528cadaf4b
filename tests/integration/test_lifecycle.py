"""Whole events run by datemaker against the real database, broker and the Meet emulator."""

import asyncio
from datetime import UTC, datetime

import pytest

from tests.conftest import wait_for
from tests.support.factories import create_participant
from tests.support.journey import by_user, notifications, types_of

pytestmark = pytest.mark.usefixtures("datemaker")

SHORT = {
    "confirm_open_seconds": 60,
    "confirm_deadline_seconds": 4,
    "rules_lead_seconds": 2,
    "round_seconds": 2,
    "break_seconds": 1,
    "max_rounds": 3,
}


async def insert_event(pool, starts_in: float, **columns) -> int:
    """The seed's INSERT, plus short timeline columns."""
    values = {**SHORT, **columns}
    names = ", ".join(values)
    placeholders = ", ".join(f"${i + 2}" for i in range(len(values)))
    return await pool.fetchval(
        f"""INSERT INTO public.dating_events (start_dttm, {names})
            VALUES (now() + make_interval(secs => $1), {placeholders}) RETURNING id""",
        starts_in,
        *values.values(),
    )


async def state_of(pool, event_id):
    return await pool.fetchval(
        "SELECT s.state_name FROM dating_events e JOIN event_states s ON s.id = e.state_id WHERE e.id = $1", event_id
    )


async def test_whole_event_from_insert_to_finished(bot, clean_db, meet):
    from datemaker.adapters.metrics import FUNNEL

    funnel_before = {
        stage: FUNNEL.labels(stage, "finished")._value.get() for stage in ("registered", "seated", "joined")
    }
    women = [await create_participant(clean_db, name=f"Woman{i}", gender="F") for i in range(3)]
    men = [await create_participant(clean_db, name=f"Man{i}", gender="M") for i in range(4)]
    silent = men[-1]  # never confirms
    event = await insert_event(clean_db, starts_in=8)
    for user in women + men:
        assert (await bot.call("register_event", {"event_id": event}, user_id=user))["data"]["status"] == "registered"

    # Everyone is asked; all but one confirm.
    await wait_for(lambda: len([s for s in notifications(bot, event) if s.type == "confirm_registration"]) == 7)
    for user in women + men[:-1]:
        reply = await bot.call("confirm_registration", {"event_id": event, "attending": True}, user_id=user)
        assert reply["data"]["status"] == "confirmed"

    # Rounds: people join their calls when the link comes, and rate their partners afterwards.
    joined, rated = set(), set()
    finished = False
    while not finished:
        for item in notifications(bot, event):
            if item.type == "invite_to_meeting" and item.message_id not in joined:
                joined.add(item.message_id)
                meet.join(item.body["url"], f"user{item.user_id}")
            if item.type == "send_partner_rating_request" and item.message_id not in rated:
                rated.add(item.message_id)
                partner = item.body["partner"]["user_id"]
                verdict = "like" if {item.user_id, partner} & {women[0]} else "dislike"
                if item.user_id == women[1] and item.body["round"] == 1:
                    verdict = "report"
                reply = await bot.call(
                    "rate_partner", {"event_id": event, "partner_id": partner, "verdict": verdict}, user_id=item.user_id
                )
                assert reply["ok"], reply
        finished = await state_of(clean_db, event) == "FINISHED"
        await asyncio.sleep(0.1)
    await wait_for(lambda: clean_db.fetchval("SELECT results_collected_at FROM dating_events WHERE id = $1", event))

    sent = notifications(bot, event)
    mine = by_user(sent)
    assert len({s.message_id for s in sent}) == len(sent), "a message arrived twice"

    # The one who did not confirm is told so and hears nothing else.
    assert types_of(mine[silent]) == ["confirm_registration", "send_user_will_not_take_part_in_event"]
    assert mine[silent][1].body["reason"] == "not_confirmed"

    # Each participant's story, in order.
    dates = await clean_db.fetch("SELECT * FROM event_dates WHERE event_id = $1 ORDER BY round_no", event)
    for user in women + men[:-1]:
        story = types_of(mine[user])
        assert story[:3] == ["confirm_registration", "send_user_will_take_part_in_event", "send_rules"], story
        assert story[-2:] == ["send_final_dating_message", "send_match_message"], story
        rounds = story[3:-2]
        my_dates = [d for d in dates if user in (d["user_a"], d["user_b"])]
        assert rounds.count("invite_to_meeting") == len(my_dates)
        assert rounds.count("send_partner_rating_request") == len(my_dates)
        for invite in (s for s in mine[user] if s.type == "invite_to_meeting"):
            assert invite.body["url"].startswith("https://meet.google.com/")
            assert invite.body["partner"]["name"]

    # Nobody met anyone twice; three women and three men: everyone dates in each of the three rounds.
    pairs = [(d["user_a"], d["user_b"]) for d in dates]
    assert len(pairs) == len(set(pairs)) == 9
    assert all(d["invited_at"] is not None and d["ended_at"] is not None for d in dates)

    # Mutual likes became matches, told to both; the report blocks the pair for the future.
    matches = {s.user_id: [m["user_id"] for m in s.body["matches"]] for s in sent if s.type == "send_match_message"}
    for partner in (
        d["user_a"] if d["user_b"] == women[0] else d["user_b"] for d in dates if women[0] in (d["user_a"], d["user_b"])
    ):
        assert partner in matches[women[0]] and women[0] in matches[partner]
    assert await clean_db.fetchval("SELECT count(*) FROM reports WHERE event_id = $1", event) == 1

    # Results: who joined which call.
    assert await clean_db.fetchval(
        "SELECT count(*) FROM date_attendance a JOIN event_dates d ON d.id = a.date_id WHERE d.event_id = $1", event
    ) == 2 * len(dates)
    assert meet.stats()["conferences_ended"] >= len(dates)

    # The funnel counts this event's people once it is over (no user ids anywhere).
    funnel = {stage: FUNNEL.labels(stage, "finished")._value.get() - funnel_before[stage] for stage in funnel_before}
    assert funnel == {"registered": 7, "seated": 6, "joined": 6}


async def test_too_few_confirmed_is_skipped_and_everyone_is_told(bot, clean_db):
    woman = await create_participant(clean_db, gender="F")
    man = await create_participant(clean_db, gender="M")
    event = await insert_event(clean_db, starts_in=6)
    for user in (woman, man):
        await bot.call("register_event", {"event_id": event}, user_id=user)
    await wait_for(lambda: len([s for s in notifications(bot, event) if s.type == "confirm_registration"]) == 2)
    await bot.call("confirm_registration", {"event_id": event, "attending": True}, user_id=woman)
    await wait_for(lambda: state_of(clean_db, event), timeout=10)
    await wait_for(lambda: _is(clean_db, event, "SKIPPED"), timeout=10)
    told = {
        s.user_id: s.body["reason"]
        for s in notifications(bot, event)
        if s.type == "send_user_will_not_take_part_in_event"
    }
    await wait_for(lambda: len(_told(bot, event)) == 2)
    told = _told(bot, event)
    assert told == {woman: "not_enough_participants", man: "not_confirmed"}


def _told(bot, event):
    return {
        s.user_id: s.body["reason"]
        for s in notifications(bot, event)
        if s.type == "send_user_will_not_take_part_in_event"
    }


async def _is(pool, event, state):
    return await state_of(pool, event) == state


async def test_an_organizer_cancels_an_event_and_everyone_registered_is_told(bot, clean_db, datemaker):
    from datemaker.adapters.postgres.lifecycle import PostgresLifecycleDatabase
    from datemaker.domain.errors import DomainError
    from datemaker.service.lifecycle import cancel_event

    event = await insert_event(clean_db, starts_in=3600)
    people = [await create_participant(clean_db, gender=g) for g in "FMF"]
    for user in people:
        await bot.call("register_event", {"event_id": event}, user_id=user)
    await bot.call("cancel_registration", {"event_id": event}, user_id=people[2])
    lifecycle = PostgresLifecycleDatabase(clean_db)
    await datemaker.relay.stop(drain_seconds=0)  # a message is queued for the event, not sent yet, at the cancel
    try:
        await clean_db.execute(
            """INSERT INTO outbox (message_id, event_id, user_id, type, headers, body)
               VALUES ('queued-rules', $1, $2, 'send_rules', $3, '{}')""",
            event,
            people[0],
            {"user_id": people[0], "event_id": event},
        )
        told = await cancel_event(lifecycle, event, datetime.now(UTC))
    finally:
        datemaker.relay.start()
    assert told == 2 and await state_of(clean_db, event) == "CANCELLED"
    await wait_for(
        lambda: {s.user_id for s in notifications(bot, event) if s.type == "event_cancelled"} == set(people[:2])
    )
    assert not [s for s in notifications(bot, event) if s.message_id == "queued-rules"], "nothing follows the cancel"
    assert await clean_db.fetchval("SELECT count(*) FROM outbox WHERE message_id = 'queued-rules'") == 0
    with pytest.raises(DomainError, match="from CANCELLED to CANCELLED"):
        await cancel_event(lifecycle, event, datetime.now(UTC))
    with pytest.raises(DomainError) as unknown:
        await cancel_event(lifecycle, 987654, datetime.now(UTC))
    assert unknown.value.code == "event_not_found"
    reply = await bot.call("register_event", {"event_id": event}, user_id=people[2])
    assert reply["error"]["code"] == "registration_closed"


async def run_quick_event(bot, pool, women=2, men=2, starts_in=4):
    from tests.support.events import confirmed_event

    event, people = await confirmed_event(pool, women=women, men=men, starts_in=starts_in, max_rounds=2)
    await wait_for(lambda: _finished_and_told(bot, pool, event, len(people)), timeout=40)
    return event


async def _finished_and_told(bot, pool, event, people):
    finals = {s.user_id for s in notifications(bot, event) if s.type == "send_final_dating_message"}
    return await state_of(pool, event) == "FINISHED" and len(finals) == people


async def all_dates_linked_and_closed(pool, event):
    return await pool.fetchval(
        """SELECT bool_and(invited_at IS NOT NULL AND ended_at IS NOT NULL) AND count(*) > 0
           FROM event_dates WHERE event_id = $1""",
        event,
    )


async def test_meet_quota_refusals_then_success_lose_no_round(bot, clean_db, meet):
    meet.fail_next(3, "RESOURCE_EXHAUSTED")
    event = await run_quick_event(bot, clean_db)
    assert await all_dates_linked_and_closed(clean_db, event)


async def test_meet_unavailable_for_a_while_delays_links_but_loses_none(bot, clean_db, meet):
    meet.fail_next(15, "UNAVAILABLE")  # more than the adapter's own retries of one call
    event = await run_quick_event(bot, clean_db)
    assert await all_dates_linked_and_closed(clean_db, event)


async def test_calls_that_fail_to_end_are_ended_later(bot, clean_db, meet):
    meet.fail_next(12, "UNAVAILABLE", method="EndActiveConference")
    event = await run_quick_event(bot, clean_db)
    await wait_for(lambda: all_dates_linked_and_closed(clean_db, event), timeout=15)


async def test_reports_block_pairs_and_past_dates_become_met_before(clean_db):
    """What the planner is told about the people of a new event, from earlier events."""
    from datemaker.adapters.postgres.lifecycle import PostgresLifecycleDatabase
    from tests.support.factories import create_event, register

    ann, bob, cat, dan = [await create_participant(clean_db, gender=g) for g in "FMFM"]
    earlier = await create_event(clean_db)
    for a, b, invited in [(ann, bob, True), (cat, dan, False)]:  # cat and dan's date never happened
        await clean_db.execute(
            """INSERT INTO event_dates (event_id, group_no, round_no, user_a, user_b, invited_at)
               VALUES ($1, 0, 0, $2, $3, CASE WHEN $4 THEN now() END)""",
            earlier, min(a, b), max(a, b), invited,
        )  # fmt: skip
    await clean_db.execute(
        "INSERT INTO reports (event_id, user_id, partner_id, reason) VALUES ($1, $2, $3, 'rude')", earlier, dan, ann
    )
    event = await create_event(clean_db)
    for user in (ann, bob, cat, dan):
        await register(clean_db, event, user, confirmation_sent_at=datetime.now(UTC), confirmed_at=datetime.now(UTC))
    async with PostgresLifecycleDatabase(clean_db).transaction() as store:
        data = await store.planning_input(event)
    assert data.blocked == [(min(ann, dan), max(ann, dan))]
    assert data.met_before == [(min(ann, bob), max(ann, bob))]
    assert {p.user_id for p in data.confirmed} == {ann, bob, cat, dan}


async def test_a_stopping_relay_first_publishes_what_is_left(bot, clean_db, datemaker):
    """A step taken just before datemaker stops reaches its people at the stop, not when another instance starts."""
    from contracts import notifications as n
    from datemaker.adapters.postgres.store import enqueue
    from datemaker.domain.notices import Notice

    await datemaker.relay.stop(drain_seconds=0)  # the workers are gone: nothing publishes on its own now
    try:
        user = await create_participant(clean_db)
        left = [Notice(0, user, user, "en", n.UserUnbanned(event_id=0), f"drain.{i}") for i in range(300)]
        async with clean_db.acquire() as conn:
            assert await enqueue(conn, left) == 300
        await asyncio.sleep(1.5)  # longer than the workers' idle poll: had any been left, it would have published
        assert not [s for s in notifications(bot) if s.message_id.startswith("chathub.e0.drain.")]

        await datemaker.relay.stop()  # more than one batch (250) is left

        await wait_for(lambda: len({s.message_id for s in notifications(bot) if ".drain." in s.message_id}) == 300)
        assert await clean_db.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0
    finally:
        datemaker.relay.start()  # this datemaker serves the session's other tests


async def test_a_ban_mid_event_takes_the_person_out_of_the_rest_of_it(bot, clean_db):
    """Banned during round 1: no more links for them, their later partners sit those rounds out and are told when
    they play next, and they are nobody's match (nor told their own) at the end."""
    women = [await create_participant(clean_db, name=f"Woman{i}", gender="F") for i in range(3)]
    men = [await create_participant(clean_db, name=f"Man{i}", gender="M") for i in range(3)]
    boss = await create_participant(clean_db, name="Olga")
    await clean_db.execute("INSERT INTO organizers (user_id) VALUES ($1)", boss)
    event = await insert_event(clean_db, starts_in=6, round_seconds=3, break_seconds=2)
    for user in women + men:
        await bot.call("register_event", {"event_id": event}, user_id=user)
    await wait_for(lambda: len([s for s in notifications(bot, event) if s.type == "confirm_registration"]) == 6)
    for user in women + men:
        await bot.call("confirm_registration", {"event_id": event, "attending": True}, user_id=user)

    banned = men[0]
    invited = await wait_for(
        lambda: [s for s in notifications(bot, event) if s.type == "invite_to_meeting" and s.user_id == banned],
        timeout=30,
    )
    assert invited[0].body["round"] == 1
    reply = await bot.call("organizer_ban_user", {"user_id": banned, "reason": "rude on camera"}, user_id=boss)
    assert reply["data"] == {"banned": True, "removed_from": [event]}
    first = invited[0].body["partner"]["user_id"]
    for user, partner in ((banned, first), (first, banned)):  # they had liked each other: no match comes of it
        assert (
            await bot.call("rate_partner", {"event_id": event, "partner_id": partner, "verdict": "like"}, user_id=user)
        )["ok"]

    finished = "SELECT results_collected_at FROM dating_events WHERE id = $1"
    await wait_for(lambda: clean_db.fetchval(finished, event), timeout=60, interval=0.2)
    await wait_for(lambda: [s for s in notifications(bot, event) if s.type == "send_final_dating_message"])
    await asyncio.sleep(1)  # whatever else was coming has come

    mine = by_user(notifications(bot, event))
    assert [s.body["round"] for s in mine[banned] if s.type == "invite_to_meeting"] == [1]
    assert not [s for s in mine[banned] if s.type in ("send_final_dating_message", "send_match_message")]
    later = await clean_db.fetch(
        "SELECT round_no, user_a, user_b FROM event_dates WHERE event_id = $1 AND $2 IN (user_a, user_b)", event, banned
    )
    assert [d["round_no"] for d in later] == [0], "the dates not held yet were dropped"
    sat_out = {
        (s.user_id, s.body["round"])
        for s in notifications(bot, event)
        if s.type == "send_break_message" and s.body["sitting_out"]
    }
    others = [w for w in women if w != first]
    assert {w for w, _ in sat_out} == set(others), "each woman he would have met later sits that round out"
    assert all(len([1 for w, _ in sat_out if w == woman]) == 1 for woman in others)
    for woman in women:
        finals = [s for s in mine[woman] if s.type == "send_final_dating_message"]
        assert len(finals) == 1
        for match in (s for s in mine[woman] if s.type == "send_match_message"):
            assert banned not in [m["user_id"] for m in match.body["matches"]]
    listed = await bot.call("list_matches", {}, user_id=first)
    assert banned not in [m["user_id"] for m in listed["data"]["matches"]]
    assert (await bot.call("list_matches", {}, user_id=banned))["data"]["matches"] == []
