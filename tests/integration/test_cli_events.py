"""``python -m datemaker events ...`` as real processes against the run's database (and, for ``cancel``,
the in-process datemaker relaying the outbox to the bot's queue)."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import wait_for
from tests.support.cli import check_refusals, events_cli
from tests.support.factories import create_event, create_participant, register
from tests.support.journey import notifications
from tests.support.past_events import event_that_ran

MOSCOW = ZoneInfo("Europe/Moscow")


def local(days: int, at: str = "19:00") -> str:
    """A local time ``days`` from today, as an organizer types it."""
    return f"{(datetime.now(MOSCOW) + timedelta(days=days)):%Y-%m-%d} {at}"


async def test_create_one_event_and_a_weekly_series_then_list_them(clean_db):
    start = local(30)
    single, series, bad = await asyncio.gather(
        events_cli(
            "create", "--start", start, "--capacity", "12", "--round", "7m", "--break", "90",
            "--confirm-open", "2d", "--confirm-deadline", "7200", "--max-rounds", "6", "--group-size", "8",
            "--mode", "open", "--rules-lead", "600",
        ),
        events_cli("create", "--start", local(40, "20:30"), "--timezone", "Asia/Yekaterinburg",
                   "--repeat", "weekly", "--count", "3"),
        events_cli("create", "--start", "2026-13-01 19:00"),
    )  # fmt: skip
    assert single.code == 0, single.err
    (single_id,) = map(int, re.findall(r"created event (\d+): ", single.out))
    row = await clean_db.fetchrow("SELECT * FROM dating_events WHERE id = $1", single_id)
    assert row["start_dttm"] == datetime.strptime(start, "%Y-%m-%d %H:%M").replace(tzinfo=MOSCOW)
    assert row["timezone"] == "Europe/Moscow"
    assert (row["users_limit"], row["round_seconds"], row["break_seconds"], row["rules_lead_seconds"]) == (
        12,
        420,
        90,
        600,
    )
    assert (row["confirm_open_seconds"], row["confirm_deadline_seconds"], row["max_rounds"]) == (172800, 7200, 6)
    assert (row["group_size"], row["mode"], row["state_id"]) == (8, "open", 0)
    assert (
        f"created event {single_id}: {datetime.strptime(start, '%Y-%m-%d %H:%M'):%a %Y-%m-%d %H:%M} Europe/Moscow"
        in (single.out)
    )

    assert series.code == 0, series.err
    assert series.out.startswith("created 3 events (weekly):")
    ids = [int(i) for i in re.findall(r"created event (\d+): ", series.out)]
    rows = await clean_db.fetch("SELECT * FROM dating_events WHERE id = ANY($1) ORDER BY start_dttm", ids)
    assert [r["id"] for r in rows] == ids
    yekaterinburg = ZoneInfo("Asia/Yekaterinburg")
    starts = [r["start_dttm"].astimezone(yekaterinburg) for r in rows]
    assert [f"{s:%H:%M}" for s in starts] == ["20:30"] * 3
    assert [(b - a).days for a, b in itertools.pairwise(starts)] == [7, 7]
    assert {r["timezone"] for r in rows} == {"Asia/Yekaterinburg"}
    # Settings not given take the table's defaults.
    assert {(r["users_limit"], r["round_seconds"], r["confirm_deadline_seconds"], r["mode"]) for r in rows} == {
        (20, 300, 3600, "bipartite")
    }
    for event_id, when in zip(ids, starts, strict=True):
        assert f"created event {event_id}: {when:%a %Y-%m-%d %H:%M} Asia/Yekaterinburg" in series.out

    assert bad.code == 2 and "not a time" in bad.err
    logged = await clean_db.fetch("SELECT organizer_id, action, event_id FROM organizer_actions ORDER BY event_id")
    assert [(r["organizer_id"], r["action"], r["event_id"]) for r in logged] == [
        (0, "create_event", event) for event in sorted([single_id, *ids])
    ]

    # Registrations show up in the list: one seated and confirmed, one waitlisted.
    a, b = await create_participant(clean_db), await create_participant(clean_db)
    await register(clean_db, single_id, a, confirmed_at=datetime.now(UTC))
    await register(clean_db, single_id, b, waitlisted=True)
    old = await create_event(clean_db, starts_in=-timedelta(days=60), state_id=4)

    listing, everything, limited = await asyncio.gather(
        events_cli("list"), events_cli("list", "--all"), events_cli("list", "--limit", "2")
    )
    assert listing.code == everything.code == limited.code == 0, listing.err + everything.err + limited.err
    header, *lines = listing.out.splitlines()
    assert header.split() == ["ID", "START", "TIMEZONE", "STATE", "REGISTERED", "WAITLISTED", "CONFIRMED", "SCHEDULE"]
    assert [int(line.split()[0]) for line in lines] == [single_id, *ids]  # by start; the old event is left out
    assert lines[0].split()[1:] == [
        *f"{row['start_dttm'].astimezone(MOSCOW):%a %Y-%m-%d %H:%M}".split(),
        "Europe/Moscow",
        "NOT_STARTED",
        "1/12",
        "1",
        "1",
        "-",  # made by hand, not by a schedule
    ]
    assert int(everything.out.splitlines()[1].split()[0]) == old
    assert len(everything.out.splitlines()) == 1 + 5
    assert limited.out.splitlines()[-1] == "(2 of 4 events shown; see more with --limit 4)"


BAD_INPUT = {
    "start in the past": (["create", "--start", "2020-01-01 19:00"], ["is in the past"]),
    "registration would be closed": (["create", "--start", "NOW+30min"], ["would already be closed"]),
    "unknown timezone": (["create", "--start", "FUTURE", "--timezone", "Mars/Olympus"], ["unknown timezone"]),
    "non-positive capacity and durations, deadline beyond the window": (
        [
            "create", "--start", "FUTURE", "--capacity", "0", "--round", "0", "--break", "-60",
            "--confirm-open", "3600", "--confirm-deadline", "7200",
        ],
        [
            "capacity must be positive, not 0",
            "round duration must be positive, not 0",
            "break duration cannot be negative (-60)",
            "confirmation deadline (7200 s before the start) must be shorter than the confirmation window",
        ],
    ),
    "not a duration": (["create", "--start", "FUTURE", "--round", "five minutes"], ["not a duration"]),
    "count without repeat": (["create", "--start", "FUTURE", "--count", "3"], ["--count needs --repeat"]),
    "no start": (["create"], ["--start"]),
    "unknown event to show": (["show", "987654"], ["there is no event 987654"]),
    "not an event id": (["show", "abc"], ["not an event id"]),
    "an unknown option": (["show", "1", "--verbose"], ["unrecognized arguments: --verbose"]),
    "unknown event to cancel": (["cancel", "987654", "--yes"], ["there is no event 987654"]),
    "unknown event to export": (["export", "987654"], ["there is no event 987654"]),
    "cancel a finished event": (["cancel", "FINISHED", "--yes"], ["is FINISHED already"]),
    "cancel a cancelled event": (["cancel", "CANCELLED", "--yes"], ["is CANCELLED already"]),
    "no database server": (["list", "--env", "POSTGRES_PORT=1"], ["cannot reach PostgreSQL at", "docker compose"]),
    "no such database": (
        ["list", "--env", "POSTGRES_DB=chathub_no_such_db"],
        ["chathub_no_such_db does not exist", "`datemaker migrate`"],
    ),
}  # fmt: skip
"""Each case: arguments (with placeholders), and what its one line on stderr must say."""


async def test_bad_input_gets_one_line_and_status_2(clean_db):
    finished = await create_event(clean_db, starts_in=-timedelta(days=2), state_id=4)
    cancelled = await create_event(clean_db, starts_in=timedelta(days=2), state_id=6)
    future, soon = local(10), datetime.now(MOSCOW) + timedelta(minutes=30)
    substitutions = {
        "FUTURE": future,
        "NOW+30min": f"{soon:%Y-%m-%d %H:%M}",
        "FINISHED": str(finished),
        "CANCELLED": str(cancelled),
    }

    await check_refusals(BAD_INPUT, substitutions, events_cli)
    # Nothing was created, nothing was cancelled.
    assert await clean_db.fetchval("SELECT count(*) FROM dating_events") == 2
    assert await clean_db.fetchval("SELECT state_id FROM dating_events WHERE id = $1", finished) == 4


async def test_show_and_export_an_event_that_has_run(clean_db, tmp_path):
    past = await event_that_ran(clean_db)
    p = past.people
    output = tmp_path / "export.csv"
    show, exported, to_file = await asyncio.gather(
        events_cli("show", str(past.event_id)),
        events_cli("export", str(past.event_id)),
        events_cli("export", str(past.event_id), "--output", str(output)),
    )
    assert show.code == 0, show.err
    text = show.out
    berlin = ZoneInfo("Europe/Berlin")
    start = past.start.astimezone(berlin)

    def who(name: str) -> str:
        return f"{name} ({p[name]})"

    assert text.startswith(f"Event {past.event_id}: FINISHED\n")
    assert f"start      {start:%a %Y-%m-%d %H:%M} Europe/Berlin" in text
    assert "Registrations: 5 registered (5 confirmed), 1 waitlisted, 1 declined, 1 cancelled" in text
    assert "Plan: 1 group(s), 2 round(s), 4 dates" in text
    assert "Group 1 (5 people, 2 rounds)" in text
    pairs = {pair: f"{who(pair.split('&')[0])} & {who(pair.split('&')[1])}" for pair in past.dates}
    assert re.search(r"round 1\s+" + re.escape(pairs["Anna&Boris"]) + r"\s+held, joined: Anna, Boris", text)
    assert re.search(re.escape(pairs["Bella&Cyril"]) + r"\s+held, joined: Bella$", text, re.M)
    assert re.search(re.escape(pairs["Vera&Boris"]) + r"\s+held, joined: (Vera K, Boris|Boris, Vera K)", text)
    assert re.search(re.escape(pairs["Anna&Cyril"]) + r"\s+not held", text)
    assert f"sits out: {who('Vera')}" in text and f"sits out: {who('Bella')}" in text
    assert re.search(r"round 1\s+" + re.escape(f"{start:%a %Y-%m-%d %H:%M}"), text)  # the timeline
    assert "dates held       3 of 4 planned" in text
    assert "joined calls     5 people in 3 of 3 calls" in text
    assert "4 likes, 1 dislikes, 1 reports; 1 mutual matches" in text

    assert exported.code == 0, exported.err
    assert to_file.code == 0 and "exported 8 registrant(s)" in to_file.err, to_file.err
    assert to_file.out == ""
    assert output.read_bytes().decode() == exported.out
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(exported.out))}
    assert set(rows) == set(p)
    picked = ["status", "group", "dates", "joined_calls", "likes_given", "likes_received", "matches", "matched_with"]
    table = {name: [row[c] for c in picked] for name, row in rows.items()}
    assert table == {
        "Anna": ["confirmed", "1", "1", "1", "1", "1", "1", str(p["Boris"])],
        "Boris": ["confirmed", "1", "2", "2", "1", "2", "1", str(p["Anna"])],
        "Bella": ["confirmed", "1", "1", "1", "1", "0", "0", ""],
        "Cyril": ["confirmed", "1", "1", "0", "0", "1", "0", ""],
        "Vera": ["confirmed", "1", "1", "1", "1", "0", "0", ""],
        "Dasha": ["waitlisted", "", "0", "0", "0", "0", "0", ""],
        "Egor": ["cancelled", "", "0", "0", "0", "0", "0", ""],
        "Fedor": ["declined", "", "0", "0", "0", "0", "0", ""],
    }
    anna = rows["Anna"]
    assert anna["user_id"] == str(p["Anna"]) and anna["username"] == f"user{p['Anna']}"
    confirmed_at = datetime.fromisoformat(anna["confirmed_at"])
    assert confirmed_at.utcoffset() == start.utcoffset()  # the event's timezone
    assert confirmed_at == past.start - timedelta(hours=20)
    assert rows["Egor"]["cancelled_at"] and not rows["Anna"]["cancelled_at"]
    assert rows["Fedor"]["declined_at"] and not rows["Fedor"]["confirmed_at"]
    assert list(rows["Anna"]) == next(csv.reader(io.StringIO(exported.out)))


async def test_show_an_event_not_planned_yet(clean_db):
    event = await create_event(clean_db, starts_in=timedelta(days=5), timezone="Europe/Moscow", max_rounds=4)
    run = await events_cli("show", str(event))
    assert run.code == 0, run.err
    assert f"Event {event}: NOT_STARTED" in run.out
    assert "rounds 1–4" in run.out and "if planned (up to 4, one every 6 min)" in run.out
    assert "Plan: not made yet" in run.out
    assert "Results" not in run.out


@pytest.mark.usefixtures("datemaker")
async def test_cancel_asks_first_then_tells_every_participant(clean_db, bot):
    event = await create_event(clean_db, starts_in=timedelta(days=3))
    people = [await create_participant(clean_db, name=f"P{i}") for i in range(3)]
    for user in people[:2]:
        await register(clean_db, event, user)
    await register(clean_db, event, people[2], cancelled_at=datetime.now(UTC))

    declined = await events_cli("cancel", str(event), stdin="n\n")
    assert declined.code == 1
    assert f"Cancel event {event} (" in declined.out and "[y/N]" in declined.out
    assert "not cancelled" in declined.err
    assert await clean_db.fetchval("SELECT state_id FROM dating_events WHERE id = $1", event) == 0

    confirmed = await events_cli("cancel", str(event), "--reason", "the venue flooded", stdin="yes\n")
    assert confirmed.code == 0, confirmed.err
    assert f"cancelled event {event}; 2 participant(s) will be told" in confirmed.out
    row = await clean_db.fetchrow("SELECT state_id, closing_reason FROM dating_events WHERE id = $1", event)
    assert (row["state_id"], row["closing_reason"]) == (6, "the venue flooded")
    told = await wait_for(
        lambda: {s.user_id for s in notifications(bot, event) if s.type == "event_cancelled"} == set(people[:2])
    )
    assert told

    again = await events_cli("cancel", str(event), "--yes")
    assert again.code == 2 and "is CANCELLED already" in again.err
    log = await clean_db.fetch(
        "SELECT organizer_id, action, details ->> 'reason' AS reason FROM organizer_actions WHERE event_id = $1", event
    )
    assert [(r["organizer_id"], r["action"], r["reason"]) for r in log] == [(0, "cancel_event", "the venue flooded")], (
        "logged once: the declined and the refused cancel changed nothing"
    )


async def test_show_previews_the_balance_and_board_shows_each_person(clean_db):
    from datetime import date

    event = await create_event(clean_db, starts_in=timedelta(days=5), max_rounds=3)
    anna = await create_participant(clean_db, name="Anna", gender="F", birthday=date(1994, 1, 1))
    kate = await create_participant(clean_db, name="Kate", gender="F", birthday=date(1995, 1, 1))
    bob = await create_participant(clean_db, name="Bob", gender="M", birthday=date(1993, 1, 1))
    picky = await create_participant(clean_db, name="Picky", gender="M", birthday=date(1990, 1, 1), partner_age_max=25)
    for user in (anna, kate, bob, picky):
        await register(clean_db, event, user)
    shown = await events_cli("show", str(event))
    assert shown.code == 0, shown.err
    assert "Balance preview" in shown.out and "2 for 4 people" in shown.out
    assert f"no match   Picky ({picky})" in shown.out and "sit-outs   F 2" in shown.out

    board = await events_cli("board", str(event), "--once")
    assert board.code == 0, board.err
    assert "no round is running" in board.out
    assert re.search(rf"{anna}\s+Anna\s+registered\s+-\s+-\s+-\s+-\s+\?\s+0", board.out), board.out
    missing = await events_cli("board", "987654", "--once")
    assert missing.code == 2 and "987654" in missing.err
    bad = await events_cli("board", str(event), "--every", "0")
    assert bad.code == 2 and "--every" in bad.err


GOOGLE_QUOTA = {"MEET_CREATIONS_PER_MINUTE": "10", "MEET_PROJECT_CREATIONS_PER_MINUTE": "100"}
"""Google's real spaces.create quota (the test run lifts it for everything else), one account."""


async def test_create_judges_the_meet_quota_for_the_event_when_full(clean_db):
    """Whether a new event, once full, can have its spaces in time beside the others (the competition between
    events is the pure outlook's, tests/unit/test_spaces.py: a datemaker running here fills the pool at once)."""
    soon = (datetime.now(MOSCOW) + timedelta(minutes=12)).strftime("%Y-%m-%d %H:%M")
    quick = ("--confirm-open", "10m", "--confirm-deadline", "2m", "--rules-lead", "1m", "--max-rounds", "3")

    far = await events_cli("create", "--start", local(2), "--capacity", "20", **GOOGLE_QUOTA)
    assert far.code == 0, far.err
    assert "Meet spaces when full: up to 100 for it" in far.out and "in time, a fresh space per date" in far.out

    small = await events_cli("create", "--start", soon, "--capacity", "60", *quick, **GOOGLE_QUOTA)
    assert small.code == 0, small.err
    assert "up to 90 for it" in small.out and "in time, a fresh space per date" in small.out, small.out

    # 150 tables for its first round, when one account makes about 115 in the time left
    big = await events_cli("create", "--start", soon, "--capacity", "300", *quick, **GOOGLE_QUOTA)
    assert big.code == 0, big.err
    assert "AT RISK" in big.out and "add a Google account (MEET_TOKEN_FILES" in big.out, big.out
    ten = await events_cli(
        "create", "--start", soon, "--capacity", "300", *quick, **GOOGLE_QUOTA,
        MEET_TOKEN_FILES=",".join(f"token{i}.json" for i in range(10)),
    )  # fmt: skip
    assert ten.code == 0, ten.err
    assert "with 10 Google account(s)" in ten.out and "AT RISK" not in ten.out.splitlines()[1], ten.out


def _created(run) -> int:
    (event_id,) = map(int, re.findall(r"created event (\d+): ", run.out))
    return event_id
