"""The pool of Meet spaces, against the real database, broker and the Meet emulator under Google's quota
(compressed with the tests' time, ``tests.conftest.TIME_SCALE``): spaces made ahead and shared by events,
the reuse policy, dates told when their link is late, and the warning before a call is cut."""

import asyncio
import itertools
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from tests.conftest import wait_for
from tests.support.events import confirmed_event, insert_event, state_of
from tests.support.factories import create_participant
from tests.support.journey import by_user, notifications, types_of

pytestmark = pytest.mark.usefixtures("datemaker")


@contextmanager
def space_policy(datemaker, policy: str):
    """The in-process datemaker follows ``policy`` (MEET_SPACE_POLICY) for the test."""
    from datemaker.domain.spaces import SpacePolicy

    before = datemaker.runner.policy
    datemaker.runner.policy = datemaker.space_pool.policy = SpacePolicy(policy)
    try:
        yield
    finally:
        datemaker.runner.policy = datemaker.space_pool.policy = before


@contextmanager
def google_quota(meet, per_account: int, window: float):
    """Google answers RESOURCE_EXHAUSTED beyond ``per_account`` creations per ``window`` seconds."""
    before = (meet.creation_quota, meet.quota_window_seconds, meet.project_quota)
    meet.set_creation_quota(per_account, window_seconds=window, project_limit=before[2])
    try:
        yield
    finally:
        meet.set_creation_quota(before[0], window_seconds=before[1], project_limit=before[2])


async def spaces(pool):
    return await pool.fetch("SELECT * FROM meet_spaces ORDER BY id")


async def until_finished(bot, pool, event, people: int, timeout: float = 40):
    async def done():
        finals = {s.user_id for s in notifications(bot, event) if s.type == "send_final_dating_message"}
        return await state_of(pool, event) == "FINISHED" and len(finals) == people

    await wait_for(done, timeout=timeout)


async def join_calls(bot, meet, event, stop: asyncio.Event) -> None:
    """Everyone joins their call when its link comes, as people do."""
    joined = set()
    while not stop.is_set():
        for item in notifications(bot, event):
            if item.type == "invite_to_meeting" and item.message_id not in joined:
                joined.add(item.message_id)
                meet.join(item.body["url"], f"user{item.user_id}")
        await asyncio.sleep(0.05)


async def test_spaces_are_made_from_the_first_seat_and_a_cancelled_events_serve_the_next(bot, clean_db, meet):
    from datemaker.adapters.postgres.lifecycle import PostgresLifecycleDatabase
    from datemaker.service.lifecycle import cancel_event

    far = await insert_event(clean_db, starts_in=3600, max_rounds=2)
    for gender in "FFMM":
        user = await create_participant(clean_db, gender=gender)
        assert (await bot.call("register_event", {"event_id": far}, user_id=user))["ok"]
    # Long before planning, the pool holds the most dates these seats can make: 2 rounds of 2 tables.
    await wait_for(lambda: clean_db.fetchval("SELECT count(*) = 4 FROM meet_spaces"), timeout=15)
    made = {row["name"] for row in await spaces(clean_db)}
    await asyncio.sleep(1)  # ... and no more
    assert len(await spaces(clean_db)) == 4

    await cancel_event(PostgresLifecycleDatabase(clean_db), far, datetime.now(UTC))
    created_before = meet.stats()["spaces_created"]
    event, people = await confirmed_event(clean_db, women=2, men=2, max_rounds=2)
    await until_finished(bot, clean_db, event, len(people))
    used = {
        r["space_name"] for r in await clean_db.fetch("SELECT space_name FROM event_dates WHERE event_id = $1", event)
    }
    assert used <= made and len(used) == 4, "the cancelled event's spaces served the next one"
    assert meet.stats()["spaces_created"] == created_before, "no space was made for it"


async def test_a_running_event_cancelled_mid_round_ends_its_calls_and_its_spaces_serve_the_next(bot, clean_db, meet):
    """Cancelled while its first round's calls are on: those calls are ended (retried when Meet fails), every space
    of the event goes back to the pool and serves the next event, and its people hear nothing but the one notice."""
    from datemaker.adapters.postgres.lifecycle import PostgresLifecycleDatabase
    from datemaker.adapters.postgres.spaces import PostgresPoolDatabase
    from datemaker.service.lifecycle import cancel_event

    event, people = await confirmed_event(clean_db, women=2, men=2, max_rounds=2, round_seconds=8)
    stop = asyncio.Event()
    joining = asyncio.create_task(join_calls(bot, meet, event, stop))
    try:

        def in_calls():
            links = {s.body["url"] for s in notifications(bot, event) if s.type == "invite_to_meeting"}
            return len(links) == 2 and all(meet.find_space(url).active_conference.conference_record for url in links)

        await wait_for(in_calls, timeout=20)
    finally:
        stop.set()
        await joining
    row = await clean_db.fetchrow("SELECT rounds_started, rounds_ended FROM dating_events WHERE id = $1", event)
    assert await state_of(clean_db, event) == "RUNNING" and (row["rounds_started"], row["rounds_ended"]) == (1, 0)
    in_call = {
        r["space_name"]
        for r in await clean_db.fetch(
            "SELECT space_name FROM event_dates WHERE event_id = $1 AND invited_at IS NOT NULL", event
        )
    }
    assert len(in_call) == 2
    assert all(meet.find_space(name).active_conference.conference_record for name in in_call)
    last_message = await clean_db.fetchval("SELECT max(id) FROM outbox WHERE event_id = $1", event)

    failures = meet.injected_failures
    meet.fail_next(10, "UNAVAILABLE", method="EndActiveConference")  # both calls fail every attempt the first time
    assert await cancel_event(PostgresLifecycleDatabase(clean_db), event, datetime.now(UTC)) == len(people)

    async def calls_ended():
        return await clean_db.fetchval(
            "SELECT count(*) = 0 FROM event_dates WHERE event_id = $1 AND space_id IS NOT NULL AND ended_at IS NULL",
            event,
        )

    await wait_for(calls_ended, timeout=30)  # the calls that failed to end are tried again, as after a round
    assert meet.injected_failures - failures == 10, "the first try failed: the calls were ended by the retry"
    assert not any(meet.find_space(name).active_conference.conference_record for name in in_call), "calls ended"
    total = await clean_db.fetchval("SELECT count(*) FROM meet_spaces")
    assert await PostgresPoolDatabase(clean_db).free_spaces() == total, "every space is back in the pool"

    created_before = meet.stats()["spaces_created"]
    following, following_people = await confirmed_event(clean_db, women=2, men=2, max_rounds=2)
    await until_finished(bot, clean_db, following, len(following_people))
    used = {
        r["space_name"]
        for r in await clean_db.fetch("SELECT space_name FROM event_dates WHERE event_id = $1", following)
    }
    assert in_call <= used, "the spaces whose calls were cut served the next event"
    assert meet.stats()["spaces_created"] == created_before, "no space was made for it"

    # The cancelled event's second round would be over by now: its people were told once, and nothing else.
    after = await clean_db.fetch(
        "SELECT user_id, type FROM outbox WHERE event_id = $1 AND id > $2 ORDER BY id", event, last_message
    )
    assert sorted((r["user_id"], r["type"]) for r in after) == sorted((u, "event_cancelled") for u in people)
    await wait_for(lambda: {s.user_id for s in notifications(bot, event) if s.type == "event_cancelled"} == set(people))
    for user in people:
        story = types_of(by_user(notifications(bot, event))[user])
        assert story.count("event_cancelled") == 1, story
        assert story.count("invite_to_meeting") == 1, story
        assert story[-1] == "event_cancelled", story


async def test_under_reuse_a_table_keeps_its_space_and_each_date_has_its_own_attendance(bot, clean_db, meet, datemaker):
    with space_policy(datemaker, "reuse"):
        event, people = await confirmed_event(clean_db, women=3, men=3, max_rounds=3, round_seconds=3)
        stop = asyncio.Event()
        joining = asyncio.create_task(join_calls(bot, meet, event, stop))
        try:
            await until_finished(bot, clean_db, event, len(people))
        finally:
            stop.set()
            await joining
    dates = await clean_db.fetch("SELECT * FROM event_dates WHERE event_id = $1 ORDER BY space_id, round_no", event)
    assert len(dates) == 9 and all(d["space_id"] is not None for d in dates)
    assert len({d["space_id"] for d in dates}) == 3, "one space per table"
    assert [d["reused"] for d in dates].count(True) == 6, "every date after a table's first took it over"
    for space in {d["space_id"] for d in dates}:
        rounds = [d for d in dates if d["space_id"] == space]
        for before, after in itertools.pairwise(rounds):
            assert before["ended_at"] <= after["invited_at"], "a space never serves two dates at once"
    await wait_for(lambda: clean_db.fetchval("SELECT results_collected_at FROM dating_events WHERE id = $1", event))
    attendance = await clean_db.fetch(
        """SELECT a.date_id, count(*) AS people FROM date_attendance a JOIN event_dates d ON d.id = a.date_id
           WHERE d.event_id = $1 GROUP BY a.date_id""",
        event,
    )
    assert {r["date_id"] for r in attendance} == {d["id"] for d in dates}
    assert all(r["people"] == 2 for r in attendance), "each date's attendance is its own call's"


async def test_a_date_whose_link_is_late_is_told_at_once_and_gets_the_link_when_it_exists(bot, clean_db, meet):
    from datemaker.adapters.metrics import LINKS_DELAYED

    delayed_before = LINKS_DELAYED._value.get()
    with google_quota(meet, per_account=1, window=2):  # a space every 2 s: round 1's three tables lag
        event, people = await confirmed_event(clean_db, women=3, men=3, max_rounds=2, starts_in=2, round_seconds=7)
        await until_finished(bot, clean_db, event, len(people), timeout=60)
    dates = await clean_db.fetch("SELECT * FROM event_dates WHERE event_id = $1", event)
    late = [d for d in dates if d["delayed_at"] is not None]
    assert late, "Google's quota made some link late"
    assert all(d["invited_at"] is not None for d in dates), "every date got its link in the end"
    mine = by_user(notifications(bot, event))
    for date in late:
        for user in (date["user_a"], date["user_b"]):
            story = types_of(mine[user])
            told = [i for i, t in enumerate(story) if t == "link_delayed"]
            assert told, (user, story)
            assert "invite_to_meeting" in story[told[0] :], "the link followed the apology"
    told = [s for s in notifications(bot, event) if s.type == "link_delayed"]
    assert len(told) == 2 * len(late), "both people of each late date, once"
    assert LINKS_DELAYED._value.get() - delayed_before == len(late)
    # Rounds after the first need not wait for the quota: each table takes over its space.
    assert any(d["reused"] for d in dates if d["round_no"] > 0)


async def test_everyone_in_a_date_is_warned_before_the_call_is_cut(bot, clean_db):
    event, people = await confirmed_event(
        clean_db, women=2, men=2, max_rounds=2, round_seconds=3, time_left_warning_seconds=1
    )
    quiet, quiet_people = await confirmed_event(clean_db, women=1, men=1, max_rounds=1, time_left_warning_seconds=0)
    await until_finished(bot, clean_db, event, len(people))
    await until_finished(bot, clean_db, quiet, len(quiet_people))
    warnings = [s for s in notifications(bot, event) if s.type == "send_time_left"]
    assert sorted((s.user_id, s.body["round"]) for s in warnings) == sorted(
        (user, round_) for user in people for round_ in (1, 2)
    )
    assert all(0 < s.body["seconds_left"] <= 1 for s in warnings)
    assert all(s.body["expires_at"] for s in warnings), "worthless once the round is over"
    assert not [s for s in notifications(bot, quiet) if s.type == "send_time_left"], "0 turns it off"
