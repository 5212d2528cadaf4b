"""``python -m datemaker schedules ...`` and ``organizers ...`` as real processes against the run's database (and
the in-process datemaker, which makes the schedules' events)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import wait_for
from tests.support.cli import Run, check_refusals, datemaker_cli, events_cli
from tests.support.factories import create_participant

MOSCOW = ZoneInfo("Europe/Moscow")


def schedules(*args: str, **env: str):
    return datemaker_cli("schedules", *args, **env)


def organizers(*args: str, **env: str):
    return datemaker_cli("organizers", *args, **env)


def ok(run: Run) -> str:
    assert run.code == 0 and "Traceback" not in run.err, f"status {run.code}: {run.err}"
    return run.out


@pytest.mark.usefixtures("datemaker")
async def test_an_organizer_sets_a_weekly_night_once_and_the_calendar_stays_filled(clean_db):
    added = ok(
        await schedules(
            "add", "--days", "mon,fri", "--time", "19:00", "--timezone", "Asia/Yekaterinburg", "--capacity", "16",
            "--min-age", "25", "--max-age", "45", "--horizon", "4", "--extra-when-waitlist", "6", "--round", "7m",
        )
    )  # fmt: skip
    (schedule,) = map(
        int, re.findall(r"^created schedule (\d+): Mon, Fri at 19:00 \(Asia/Yekaterinburg\)$", added, re.M)
    )
    assert "capacity 16" in added and "ages 25 to 45" in added and "rounds of 7 min" in added
    assert "keeps the next 4 event(s) open" in added
    assert "an extra night (the next free slot) when 6 are waiting" in added
    assert "organizers told when under 50% full 1 day before confirmations open" in added
    first = re.search(r"first      (.*) \(a running datemaker", added).group(1).split(", ")
    assert len(first) == 4 and all(day.startswith(("Mon ", "Fri ")) and day.endswith(" 19:00") for day in first)

    # datemaker makes them by itself.
    rows = await wait_for(
        lambda: _fetch_if(
            clean_db, "SELECT * FROM dating_events WHERE schedule_id = $1 ORDER BY start_dttm", schedule, 4
        )
    )
    yekaterinburg = ZoneInfo("Asia/Yekaterinburg")
    assert [f"{r['start_dttm'].astimezone(yekaterinburg):%a %Y-%m-%d %H:%M}" for r in rows] == first
    assert {(r["users_limit"], r["min_age"], r["max_age"], r["round_seconds"]) for r in rows} == {(16, 25, 45, 420)}

    listing, shown, events = await asyncio.gather(
        schedules("list"), schedules("show", str(schedule)), events_cli("list")
    )
    header, line = ok(listing).splitlines()
    assert header.split() == ["ID", "STATE", "DAYS", "TIME", "TIMEZONE", "CAPACITY", "OPEN", "NEXT", "EXTRA", "ALERT"]
    assert line.split()[:7] == [str(schedule), "active", "Mon,Fri", "19:00", "Asia/Yekaterinburg", "16", "4/4"]
    assert line.endswith("6 waiting  <50%") and first[0] in line
    text = ok(shown)
    assert text.startswith(f"Schedule {schedule}: active\n  rule       Mon, Fri at 19:00 (Asia/Yekaterinburg)\n")
    for row in rows:
        assert re.search(rf"^\s+{row['id']}\s+.*(NOT_STARTED|REG_CONFIRM)\s+0/16\s+0\s+-$", text, re.M), text
    assert all(line.rstrip().endswith(f"  {schedule}") for line in ok(events).splitlines()[1:])

    # Demand rules are switched off and on.
    changed = ok(await schedules("set", str(schedule), "--extra-when-waitlist", "off", "--alert-below", "30"))
    assert "demand     organizers told when under 30% full" in changed and "extra night" not in changed
    row = await clean_db.fetchrow("SELECT * FROM event_schedules WHERE id = $1", schedule)
    assert (row["extra_when_waitlist"], row["alert_below_percent"], row["horizon"]) == (None, 30, 4)

    # Paused, it makes nothing more (an event gone is not made again); resumed, it does; ended, it is over.
    assert "paused schedule" in ok(await schedules("pause", str(schedule)))
    await clean_db.execute("DELETE FROM dating_events WHERE id = $1", rows[-1]["id"])
    await asyncio.sleep(1.5)  # three passes of the in-process datemaker
    assert await clean_db.fetchval("SELECT count(*) FROM dating_events WHERE schedule_id = $1", schedule) == 3
    assert "resumed schedule" in ok(await schedules("resume", str(schedule)))
    await wait_for(lambda: _fetch_if(clean_db, "SELECT id FROM dating_events WHERE schedule_id = $1", schedule, 4))
    assert "ended schedule" in ok(await schedules("end", str(schedule)))
    assert ok(await schedules("list")).startswith("no active or paused schedules")
    assert f"{schedule}  ended" in ok(await schedules("list", "--all"))

    # Every change is logged as the console's are, by the command line (organizer 0) and the system's user.
    log = await clean_db.fetch("SELECT organizer_id, action, details FROM organizer_actions ORDER BY id")
    assert [r["action"] for r in log] == [
        "add_schedule", "change_schedule", "pause_schedule", "resume_schedule", "end_schedule",
    ]  # fmt: skip
    assert {r["organizer_id"] for r in log} == {0}
    assert all(r["details"]["via"] == "command line" and r["details"]["schedule_id"] == schedule for r in log)
    assert log[1]["details"]["alert_below"] == 30 and log[0]["details"]["capacity"] == 16


async def _fetch_if(pool, query, arg, count):
    rows = await pool.fetch(query, arg)
    return rows if len(rows) == count else None


async def test_organizers_are_added_listed_and_removed(clean_db):
    anna = await create_participant(clean_db, name="Anna", username="anna_k")
    added, stranger = await asyncio.gather(organizers("add", str(anna)), organizers("add", "555000111"))
    assert ok(added).strip() == f"added organizer {anna} (Anna, @anna_k)"
    assert "555000111 (no profile yet" in ok(stranger)
    assert ok(await organizers("add", str(anna))).startswith("already an organizer:")
    header, *lines = ok(await organizers("list")).splitlines()
    assert header.split() == ["USER_ID", "NAME", "USERNAME", "ADDED"]
    listed = {line.split()[0]: line.split()[1:3] for line in lines}
    assert listed == {str(anna): ["Anna", "@anna_k"], "555000111": ["(no", "profile"]}
    assert ok(await organizers("remove", "555000111")).strip() == "removed organizer 555000111"
    assert await clean_db.fetchval("SELECT array_agg(user_id) FROM organizers") == [anna]
    log = await clean_db.fetch("SELECT action, user_id FROM organizer_actions WHERE organizer_id = 0 ORDER BY id")
    assert sorted((r["action"], r["user_id"]) for r in log) == [
        ("add_organizer", anna), ("add_organizer", 555000111), ("remove_organizer", 555000111),
    ]  # fmt: skip


BAD_INPUT = {
    "no days": (["schedules", "add", "--time", "19:00"], ["--days"]),
    "unknown day": (["schedules", "add", "--days", "mon,funday", "--time", "19:00"], ["unknown day 'funday'"]),
    "not a time": (["schedules", "add", "--days", "mon", "--time", "25:00"], ["'25:00' is not a time of day"]),
    "unknown timezone": (
        ["schedules", "add", "--days", "mon", "--time", "19:00", "--timezone", "Mars/Olympus"],
        ["unknown timezone 'Mars/Olympus'"],
    ),
    "hostile numbers": (
        [
            "schedules", "add", "--days", "daily", "--time", "19:00", "--capacity", "9" * 30, "--horizon", "-1",
            "--extra-when-waitlist", "0", "--alert-below", "1000", "--round", "-5",
        ],
        [
            "the horizon must be between 1 and 52 events, not -1",
            "the waitlist threshold must be between 1 and the capacity",
            "the alert percentage must be between 1 and 100, not 1000",
            "the round duration must be positive, not -5",
            "the capacity is too large",
        ],
    ),
    "a threshold the waitlist can never reach": (
        ["schedules", "add", "--days", "mon", "--time", "19:00", "--capacity", "10", "--extra-when-waitlist", "11"],
        ["a waitlist holds at most as many people as the event seats"],
    ),
    "ages": (["schedules", "add", "--days", "mon", "--time", "19:00", "--min-age", "50", "--max-age", "30"],
             ["minimum age (50) is above the maximum age (30)"]),
    "not a number": (["schedules", "add", "--days", "mon", "--time", "19:00", "--horizon", "three"],
                     ["'three' is not a whole number"]),
    "not an offset": (["schedules", "add", "--days", "mon", "--time", "19:00", "--extra-offset", "soon"],
                      ["not a duration"]),
    "unknown schedule to show": (["schedules", "show", "987654"], ["there is no schedule 987654"]),
    "unknown schedule to pause": (["schedules", "pause", "987654"], ["there is no schedule 987654"]),
    "unknown schedule to set": (["schedules", "set", "987654", "--horizon", "2"], ["there is no schedule 987654"]),
    "not a schedule id": (["schedules", "show", "-3"], ["'-3' is not a schedule id"]),
    "an id beyond 64 bits": (["schedules", "end", str(2**64)], ["is not a schedule id"]),
    "nothing to set": (["schedules", "set", "ACTIVE"], ["nothing to change"]),
    "set a bad horizon": (["schedules", "set", "ACTIVE", "--horizon", "53"], ["between 1 and 52 events, not 53"]),
    "resume an active schedule": (["schedules", "resume", "ACTIVE"], ["is active already"]),
    "pause an ended schedule": (["schedules", "pause", "ENDED"], ["has ended: an ended schedule stays ended"]),
    "change an ended schedule": (["schedules", "set", "ENDED", "--horizon", "2"], ["has ended: it cannot be changed"]),
    "remove someone who is not an organizer": (["organizers", "remove", "42"], ["user 42 is not an organizer"]),
    "not a user id": (["organizers", "add", "0"], ["'0' is not a Telegram user id"]),
    "no database server": (["schedules", "list", "--env", "POSTGRES_PORT=1"], ["cannot reach PostgreSQL at"]),
}  # fmt: skip
"""Each case: arguments (with placeholders), and what its one line on stderr must say."""


async def test_bad_input_gets_one_line_and_status_2(clean_db):
    from datemaker.adapters.postgres.schedules import ScheduleQueries
    from datemaker.domain.schedules import ScheduleState
    from tests.support.schedules import add_schedule

    active = await add_schedule(clean_db, "mon", "19:00", horizon=2)
    ended = await add_schedule(clean_db, "tue", "19:00")
    await ScheduleQueries(clean_db).set_state(ended, ScheduleState.ENDED, datetime.now(UTC))
    substitutions = {"ACTIVE": str(active), "ENDED": str(ended)}

    await check_refusals(BAD_INPUT, substitutions)
    # Nothing was made or changed.
    assert await clean_db.fetchval("SELECT count(*) FROM event_schedules") == 2
    row = await clean_db.fetchrow("SELECT state, horizon FROM event_schedules WHERE id = $1", active)
    assert (row["state"], row["horizon"]) == ("active", 2)


async def test_events_show_says_which_schedule_an_event_came_from(clean_db):
    from tests.support.factories import create_event
    from tests.support.schedules import add_schedule

    schedule = await add_schedule(clean_db, "mon", "19:00")
    full = await create_event(clean_db, schedule_id=schedule, min_age=21)
    extra = await create_event(clean_db, schedule_id=schedule, extra_for=full, starts_in=timedelta(days=4))
    waiting = await create_participant(clean_db)
    await clean_db.execute(
        "INSERT INTO seat_offers (event_id, user_id, from_event_id, offered_at) VALUES ($1, $2, $3, now())",
        extra,
        waiting,
        full,
    )
    shown_full, shown_extra = await asyncio.gather(events_cli("show", str(full)), events_cli("show", str(extra)))
    assert f"  schedule   {schedule}\n" in ok(shown_full) and "ages       21 to any" in ok(shown_full)
    text = ok(shown_extra)
    assert f"  schedule   {schedule}, the extra night for event {full}'s waitlist (1 seat(s) offered, 0 taken)" in text
    assert "  held       1 seat(s) for waitlisted people offered one, until they answer" in text
