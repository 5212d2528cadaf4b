"""The organizer's console (organizer_* commands) through RabbitMQ and a running datemaker: only organizers,
events created, listed, shown with a balance preview, cancelled, reports listed and people banned; every change
logged with who and when."""

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.conftest import wait_for
from tests.support.factories import create_event, create_participant, register

pytestmark = pytest.mark.usefixtures("datemaker")


def ok(reply):
    assert reply["ok"] is True, reply
    return reply["data"]


def error(reply):
    assert reply["ok"] is False, reply
    return reply["error"]["code"]


async def organizer(pool) -> int:
    user = await create_participant(pool, name="Olga")
    await pool.execute("INSERT INTO organizers (user_id) VALUES ($1)", user)
    return user


async def test_a_participant_is_refused_every_organizer_command(bot, clean_db):
    someone = await create_participant(clean_db)
    event = await create_event(clean_db)
    for command, body in [
        ("organizer_list_events", {}),
        ("organizer_show_event", {"event_id": event}),
        ("organizer_create_event", {"start": "2030-01-01 19:00"}),
        ("organizer_cancel_event", {"event_id": event}),
        ("organizer_list_reports", {}),
        ("organizer_ban_user", {"user_id": someone, "reason": "x"}),
        ("organizer_dismiss_report", {"report_id": 1}),
        ("organizer_unban_user", {"user_id": someone}),
        ("organizer_list_schedules", {}),
        ("organizer_show_schedule", {"schedule_id": 1}),
        ("organizer_add_schedule", {"days": "mon,fri", "time": "19:00"}),
        ("organizer_set_schedule_state", {"schedule_id": 1, "action": "pause"}),
    ]:
        assert error(await bot.call(command, body, user_id=someone)) == "not_an_organizer", command
    assert await clean_db.fetchval("SELECT state_id FROM dating_events WHERE id = $1", event) == 0
    assert await clean_db.fetchval("SELECT count(*) FROM organizer_actions") == 0
    assert await clean_db.fetchval("SELECT count(*) FROM event_schedules") == 0


async def test_create_list_show_and_cancel_an_event(bot, clean_db):
    boss = await organizer(clean_db)
    start = (datetime.now(UTC) + timedelta(days=5)).strftime("%Y-%m-%d 19:00")
    body = {"start": start, "timezone": "Asia/Novosibirsk", "capacity": 12, "min_age": 25, "max_age": 40}
    event = ok(await bot.call("organizer_create_event", body, user_id=boss))["event_id"]
    row = await clean_db.fetchrow("SELECT * FROM dating_events WHERE id = $1", event)
    assert (row["users_limit"], row["min_age"], row["max_age"], row["timezone"]) == (12, 25, 40, "Asia/Novosibirsk")
    for bad in (
        {"start": "tomorrow"},
        {"start": "2001-01-01 19:00"},
        {"start": start, "timezone": "Mars/Olympus"},
        {"start": start, "min_age": 40, "max_age": 30},
        {"start": start, "capacity": 10**30},
        {"start": start, "min_age": -5},
    ):
        assert error(await bot.call("organizer_create_event", bad, user_id=boss)) == "bad_request", bad

    listed = ok(await bot.call("organizer_list_events", {}, user_id=boss))["events"]
    assert [(e["event_id"], e["capacity"], e["min_age"], e["max_age"]) for e in listed] == [(event, 12, 25, 40)]
    assert listed[0]["starts_at"].endswith("+07:00")

    women = [await create_participant(clean_db, gender="F", birthday=date(1995, 1, 1)) for _ in range(3)]
    men = [await create_participant(clean_db, gender="M", birthday=date(1993, 1, 1)) for _ in range(2)]
    picky = await create_participant(clean_db, gender="M", birthday=date(1990, 1, 1), partner_age_min=45)
    for user in [*women, *men, picky]:
        await register(clean_db, event, user)
    board = ok(await bot.call("organizer_show_event", {"event_id": event}, user_id=boss))
    assert board["counts"] == {"registered": 6}
    preview = board["preview"]
    assert preview["participants"] == 6 and preview["match_nobody"] == [picky]
    assert preview["dates"] == 6 and all(preview["dates_per_person"][str(m)] == 3 for m in men)
    assert preview["sit_outs"].get("F", 0) >= 1 and not preview["sit_outs"].get("M")
    assert {p["user_id"] for p in board["people"]} == {*women, *men, picky}
    assert error(await bot.call("organizer_show_event", {"event_id": 987654}, user_id=boss)) == "event_not_found"

    cancelled = ok(await bot.call("organizer_cancel_event", {"event_id": event, "reason": "snow"}, user_id=boss))
    assert cancelled == {"cancelled": True, "told": 6}
    assert await clean_db.fetchval("SELECT state_id FROM dating_events WHERE id = $1", event) == 6
    assert error(await bot.call("organizer_cancel_event", {"event_id": event}, user_id=boss)) == "bad_request"
    log = await clean_db.fetch("SELECT organizer_id, action, event_id, at FROM organizer_actions ORDER BY id")
    assert [(r["organizer_id"], r["action"], r["event_id"]) for r in log] == [
        (boss, "create_event", event),
        (boss, "cancel_event", event),
    ]


async def reported_twice(pool) -> tuple[int, int, int, int, int]:
    """An organizer, a past event, and Bob reported there by Anna ('rude', first) and Kate ('spam'); their ids."""
    boss = await organizer(pool)
    past = await create_event(pool, starts_in=timedelta(days=-2), state_id=4)
    anna = await create_participant(pool, name="Anna", gender="F")
    bob = await create_participant(pool, name="Bob", gender="M")
    kate = await create_participant(pool, name="Kate", gender="F")
    await pool.execute(
        "INSERT INTO reports (event_id, user_id, partner_id, reason) VALUES ($1, $2, $4, 'rude'), ($1, $3, $4, 'spam')",
        past,
        anna,
        kate,
        bob,
    )
    return boss, past, anna, bob, kate


async def test_reports_are_listed_and_a_ban_takes_the_user_out(bot, clean_db):
    boss, _, anna, bob, kate = await reported_twice(clean_db)
    reports = ok(await bot.call("organizer_list_reports", {}, user_id=boss))["reports"]
    assert [(r["reporter"], r["reported"], r["reason"]) for r in reports] == [(kate, bob, "spam"), (anna, bob, "rude")]
    assert [r["reported_before"] for r in reports] == [1, 0] and reports[0]["reported_name"] == "Bob"

    upcoming = await create_event(clean_db, users_limit=2)
    await register(clean_db, upcoming, bob)
    await register(clean_db, upcoming, anna)
    man = await create_participant(clean_db, gender="M")
    woman = await create_participant(clean_db, gender="F")
    await register(clean_db, upcoming, woman, waitlisted=True)
    await register(clean_db, upcoming, man, waitlisted=True)  # waited less, but men are now the short side

    assert error(await bot.call("organizer_ban_user", {"user_id": boss, "reason": "x"}, user_id=boss)) == "bad_request"
    banned = ok(await bot.call("organizer_ban_user", {"user_id": bob, "reason": "two reports"}, user_id=boss))
    assert banned == {"banned": True, "removed_from": [upcoming]}
    seated = await clean_db.fetch(
        "SELECT user_id FROM registrations WHERE event_id = $1 AND NOT waitlisted AND cancelled_at IS NULL", upcoming
    )
    assert {r["user_id"] for r in seated} == {anna, man}
    assert error(await bot.call("register_event", {"event_id": upcoming}, user_id=bob)) == "banned"
    other = await create_event(clean_db)
    assert error(await bot.call("register_event", {"event_id": other}, user_id=bob)) == "banned"
    told = await clean_db.fetchval("SELECT count(*) FROM outbox WHERE user_id = $1 AND type = 'user_banned'", bob)
    assert told == 1
    assert ok(await bot.call("organizer_list_reports", {}, user_id=boss))["reports"] == []
    assert len(ok(await bot.call("organizer_list_reports", {"open": False}, user_id=boss))["reports"]) == 2
    action = await clean_db.fetchrow(
        "SELECT *, details ->> 'reason' AS reason FROM organizer_actions WHERE action = 'ban_user'"
    )
    assert (action["organizer_id"], action["user_id"], action["reason"]) == (boss, bob, "two reports")


async def test_a_report_is_dismissed_once_and_a_ban_lifted(bot, clean_db):
    boss, past, anna, bob, _ = await reported_twice(clean_db)
    harmless, serious = await clean_db.fetchval(
        "SELECT array_agg(id ORDER BY id) FROM reports WHERE partner_id = $1", bob
    )
    someone = await create_participant(clean_db)
    await clean_db.execute(
        "INSERT INTO reports (event_id, user_id, partner_id) VALUES ($1, $2, $3)", past, bob, someone
    )
    assert error(await bot.call("organizer_dismiss_report", {"report_id": harmless}, user_id=anna)) == (
        "not_an_organizer"
    )

    # dismissed: out of the open reports (nobody is told), twice is fine, logged once
    outbox_before = await clean_db.fetchval("SELECT count(*) FROM outbox")
    assert ok(await bot.call("organizer_dismiss_report", {"report_id": harmless}, user_id=boss)) == {
        "dismissed": True,
        "already": False,
    }
    assert ok(await bot.call("organizer_dismiss_report", {"report_id": harmless}, user_id=boss)) == {
        "dismissed": True,
        "already": True,
    }
    assert await clean_db.fetchval("SELECT count(*) FROM outbox") == outbox_before
    for unknown in (987654, 2**63 - 1):
        assert error(await bot.call("organizer_dismiss_report", {"report_id": unknown}, user_id=boss)) == "bad_request"
    open_reports = ok(await bot.call("organizer_list_reports", {}, user_id=boss))["reports"]
    assert sorted(r["report_id"] for r in open_reports) == sorted(
        [serious, await clean_db.fetchval("SELECT id FROM reports WHERE user_id = $1", bob)]
    )
    everything = ok(await bot.call("organizer_list_reports", {"open": False}, user_id=boss))["reports"]
    [dismissed] = [r for r in everything if r["report_id"] == harmless]
    assert dismissed["resolved_by"] == boss and dismissed["resolved_at"] is not None
    assert all(r["resolved_at"] is None for r in everything if r["report_id"] != harmless)
    log = await clean_db.fetch("SELECT * FROM organizer_actions WHERE action = 'dismiss_report'")
    assert [(r["organizer_id"], r["event_id"], r["user_id"]) for r in log] == [(boss, past, bob)]
    # the dismissed report still keeps Anna and Bob apart
    from datemaker.adapters.postgres.lifecycle import blocks_and_meetings

    async with clean_db.acquire() as conn:
        blocked, _ = await blocks_and_meetings(conn, [anna, bob], past)
    assert (min(anna, bob), max(anna, bob)) in {(min(a, b), max(a, b)) for a, b in blocked}

    # unbanned: may register again, told once, not put back where the ban took them out
    upcoming = await create_event(clean_db)
    await register(clean_db, upcoming, bob)
    assert ok(await bot.call("organizer_ban_user", {"user_id": bob, "reason": "spam"}, user_id=boss))[
        "removed_from"
    ] == [upcoming]
    assert ok(await bot.call("organizer_list_reports", {}, user_id=boss))["reports"] == [
        r for r in open_reports if r["reported"] != bob
    ]
    assert error(await bot.call("organizer_unban_user", {"user_id": bob}, user_id=anna)) == "not_an_organizer"
    assert ok(await bot.call("organizer_unban_user", {"user_id": bob}, user_id=boss)) == {"unbanned": True}
    assert ok(await bot.call("organizer_unban_user", {"user_id": bob}, user_id=boss)) == {"unbanned": False}
    assert ok(await bot.call("organizer_unban_user", {"user_id": 987654}, user_id=boss)) == {"unbanned": False}
    assert await clean_db.fetchval("SELECT count(*) FROM banned_users") == 0
    told = await clean_db.fetch("SELECT body FROM outbox WHERE user_id = $1 AND type = 'user_unbanned'", bob)
    assert len(told) == 1
    assert await clean_db.fetchval(
        "SELECT cancelled_at IS NOT NULL FROM registrations WHERE event_id = $1 AND user_id = $2", upcoming, bob
    )
    # the unresolved report about Bob is open again; the dismissed one is not
    reopened = ok(await bot.call("organizer_list_reports", {}, user_id=boss))["reports"]
    assert serious in [r["report_id"] for r in reopened] and harmless not in [r["report_id"] for r in reopened]
    other = await create_event(clean_db)
    assert ok(await bot.call("register_event", {"event_id": other}, user_id=bob))["status"] == "registered"

    # banned again: told again (a new message, not taken for a repeat of the first ban's)
    ok(await bot.call("organizer_ban_user", {"user_id": bob, "reason": "again"}, user_id=boss))
    told = await clean_db.fetchval("SELECT count(*) FROM outbox WHERE user_id = $1 AND type = 'user_banned'", bob)
    assert told == 2
    actions = await clean_db.fetch("SELECT action, user_id, details FROM organizer_actions ORDER BY id")
    assert [a["action"] for a in actions] == ["dismiss_report", "ban_user", "unban_user", "ban_user"]
    assert actions[2]["details"]["ban_reason"] == "spam" and actions[2]["user_id"] == bob


def message(reply) -> str:
    assert reply["ok"] is False, reply
    assert reply["error"]["code"] == "bad_request", reply
    return reply["error"]["message"]


async def test_schedules_added_listed_paused_resumed_and_ended(bot, clean_db):
    boss = await organizer(clean_db)
    body = {"days": "Mon, fri", "time": "19:30", "timezone": "Asia/Novosibirsk", "capacity": 12, "horizon": 2}
    created = ok(await bot.call("organizer_add_schedule", {**body, "min_age": 25, "max_age": 40}, user_id=boss))
    weekly = created["schedule_id"]
    assert len(created["first_starts"]) == 2 and all(s.endswith("19:30:00+07:00") for s in created["first_starts"])
    row = await clean_db.fetchrow("SELECT * FROM event_schedules WHERE id = $1", weekly)
    assert (sorted(row["weekdays"]), row["timezone"], row["users_limit"], row["horizon"]) == (
        [1, 5],
        "Asia/Novosibirsk",
        12,
        2,
    )
    assert (row["min_age"], row["max_age"], row["state"]) == (25, 40, "active")
    daily = ok(await bot.call("organizer_add_schedule", {"days": "daily", "time": "9:05"}, user_id=boss))
    assert ok(await bot.call("organizer_add_schedule", {"days": "sat", "time": "20:00"}, user_id=boss))

    [listed, *_] = ok(await bot.call("organizer_list_schedules", {}, user_id=boss))["schedules"]
    assert {k: listed[k] for k in ("schedule_id", "weekdays", "local_time", "timezone", "capacity", "horizon")} == {
        "schedule_id": weekly,
        "weekdays": ["mon", "fri"],
        "local_time": "19:30",
        "timezone": "Asia/Novosibirsk",
        "capacity": 12,
        "horizon": 2,
    }
    assert listed["state"] == "active" and (listed["min_age"], listed["max_age"]) == (25, 40)
    assert listed["next_starts_at"] is None or listed["next_starts_at"] in created["first_starts"]

    # shown with its events, once datemaker has made them
    def shown():
        return bot.call("organizer_show_schedule", {"schedule_id": weekly}, user_id=boss)

    details = await wait_for(lambda: _with_events(shown(), 2))
    assert details["schedule"]["schedule_id"] == weekly and details["alert_below_percent"] == 50
    assert details["extra_when_waitlist"] is None
    assert [e["starts_at"] for e in details["events"]] == created["first_starts"]
    assert {(e["state"], e["capacity"], e["registered"], e["extra_for"]) for e in details["events"]} == {
        ("NOT_STARTED", 12, 0, None)
    }
    missing = await bot.call("organizer_show_schedule", {"schedule_id": 987654}, user_id=boss)
    assert error(missing) == "bad_request" and "there is no schedule 987654" in missing["error"]["message"]

    def change(action, schedule=weekly, user=boss):
        return bot.call("organizer_set_schedule_state", {"schedule_id": schedule, "action": action}, user_id=user)

    assert ok(await change("pause")) == {"schedule_id": weekly, "state": "paused", "already": False}
    assert ok(await change("pause")) == {"schedule_id": weekly, "state": "paused", "already": True}
    assert await clean_db.fetchval("SELECT state FROM event_schedules WHERE id = $1", weekly) == "paused"
    assert ok(await change("resume")) == {"schedule_id": weekly, "state": "active", "already": False}
    assert ok(await change("resume"))["already"] is True
    assert ok(await change("end")) == {"schedule_id": weekly, "state": "ended", "already": False}
    assert ok(await change("end"))["already"] is True
    assert "stays ended" in message(await change("resume"))
    assert "stays ended" in message(await change("pause"))
    listed = ok(await bot.call("organizer_list_schedules", {}, user_id=boss))["schedules"]
    assert weekly not in [s["schedule_id"] for s in listed] and daily["schedule_id"] in [
        s["schedule_id"] for s in listed
    ]
    everything = ok(await bot.call("organizer_list_schedules", {"all": True}, user_id=boss))["schedules"]
    assert [s["state"] for s in everything if s["schedule_id"] == weekly] == ["ended"]
    [(_, daily_days)] = [
        (s["schedule_id"], s["weekdays"]) for s in everything if s["schedule_id"] == daily["schedule_id"]
    ]
    assert daily_days == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    # unknown ids: a clear refusal; a participant cannot
    for unknown in (987654, 2**63 - 1):
        assert message(await change("pause", unknown)) == f"there is no schedule {unknown}"
    assert error(await change("pause", daily["schedule_id"], user=await create_participant(clean_db))) == (
        "not_an_organizer"
    )

    # every change logged once, with who and which schedule
    log = await clean_db.fetch("SELECT organizer_id, action, details FROM organizer_actions ORDER BY id")
    assert [r["action"] for r in log] == [
        "add_schedule",
        "add_schedule",
        "add_schedule",
        "pause_schedule",
        "resume_schedule",
        "end_schedule",
    ]
    assert all(r["organizer_id"] == boss for r in log)
    assert log[0]["details"]["schedule_id"] == weekly and log[0]["details"]["rule"].startswith("Mon, Fri at 19:30")
    assert log[-1]["details"]["schedule_id"] == weekly


async def test_bad_schedules_and_hostile_input_are_refused(bot, clean_db):
    boss = await organizer(clean_db)
    good = {"days": "mon,fri", "time": "19:00"}
    for bad, says in (
        ({**good, "days": "mon,funday"}, "unknown day 'funday'"),
        ({**good, "days": " , "}, "no days given"),
        ({**good, "time": "25:00"}, "is not a time of day"),
        ({**good, "time": "7pm"}, "is not a time of day"),
        ({**good, "timezone": "Mars/Olympus"}, "unknown timezone"),
        ({**good, "timezone": "../../etc/passwd"}, "unknown timezone"),
        ({**good, "horizon": 500}, "the horizon must be between 1 and 52"),
        ({**good, "min_age": 40, "max_age": 30}, ""),
    ):
        assert says in message(await bot.call("organizer_add_schedule", bad, user_id=boss)), bad
    for hostile in (
        {},
        {"days": "mon"},
        {**good, "days": "mon," * 40},
        {**good, "days": 5},
        {**good, "time": 1900},
        {**good, "capacity": 10**30},
        {**good, "capacity": 1},
        {**good, "horizon": 0},
        {**good, "horizon": 2**63},
        {**good, "min_age": -5},
        {**good, "timezone": "x" * 65},
    ):
        assert error(await bot.call("organizer_add_schedule", hostile, user_id=boss)) == "bad_request", hostile
    for hostile in (
        {"schedule_id": 1, "action": "delete"},
        {"schedule_id": 0, "action": "pause"},
        {"schedule_id": -1, "action": "pause"},
        {"schedule_id": 2**63, "action": "pause"},
        {"schedule_id": "1", "action": "pause"},
        {"schedule_id": 1},
    ):
        assert error(await bot.call("organizer_set_schedule_state", hostile, user_id=boss)) == "bad_request", hostile
    assert await clean_db.fetchval("SELECT count(*) FROM event_schedules") == 0
    assert await clean_db.fetchval("SELECT count(*) FROM organizer_actions") == 0


async def _with_events(reply, count: int):
    data = (await reply)["data"]
    return data if len(data["events"]) == count else None
