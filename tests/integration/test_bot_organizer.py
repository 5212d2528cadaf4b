"""The organizer's console in Telegram, through the real dispatcher and aiogram against the emulator and the real
datemaker: an organizer creates an event with /new, participants of mixed ages register (one is refused), /event
shows the balance preview, /board the night (refreshed in place), /reports a ban and a dismissal, /unban lifts the
ban; a participant is refused and never gets the organizer's menu."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chathub_bot.callbacks import EventAction, EventCb, OrganizerAction, OrganizerCb
from tests.conftest import wait_for
from tests.support.bot import BotHarness
from tests.support.factories import create_event, create_participant, register


def buttons(message) -> list[str]:
    return [button["text"] for row in message.buttons for button in row]


@pytest.fixture
async def harness(settings, datemaker, clean_db):
    async with BotHarness(settings, clean_db) as harness:
        yield harness
    assert not harness.errors.records, [r.getMessage() for r in harness.errors.records]


async def test_an_organizer_creates_an_event_and_watches_it_from_telegram(harness, clean_db):
    boss = harness.user(500, "en", first_name="Olga")
    await harness.create_profile(boss, "Olga")
    await clean_db.execute("INSERT INTO organizers (user_id) VALUES ($1)", boss)
    [welcome] = await harness.say(boss, "/start")
    assert welcome.text.startswith("Welcome back, Olga!")
    menu = [c["command"] for c in harness.emulator.commands_for(boss, "en")]
    assert {"events", "new", "board", "reports", "unban", "date"} <= set(menu)

    day = (datetime.now(UTC) + timedelta(days=4)).date()
    [question] = await harness.say(boss, "/new")
    assert "Which day?" in question.text
    [reask] = await harness.say(boss, "31.02.2020")
    assert reask.text.startswith("I could not read that day")
    [question] = await harness.say(boss, day.strftime("%d.%m.%Y"))
    [reask] = await harness.say(boss, "25:99")
    assert reask.text.startswith("I could not read that time")
    [zones] = await harness.say(boss, "19:30")
    assert "Asia/Novosibirsk" in buttons(zones)
    [reask] = await harness.say(boss, "Mars/Olympus")
    assert reask.text.startswith("I do not know that time zone")
    [capacity], _ = await harness.press(boss, zones, "Asia/Novosibirsk")
    assert buttons(capacity) == ["Skip"]
    [reask] = await harness.say(boss, "10" * 30)
    assert reask.text.startswith("Send a number")
    [ages] = await harness.say(boss, "6")
    assert "Which ages may come?" in ages.text
    [created] = await harness.say(boss, "25-40")
    assert created.text.startswith("Event ") and "is created" in created.text
    event = await clean_db.fetchrow("SELECT * FROM dating_events ORDER BY id DESC LIMIT 1")
    assert (event["users_limit"], event["min_age"], event["max_age"]) == (6, 25, 40)
    assert event["timezone"] == "Asia/Novosibirsk" and event["start_dttm"].astimezone(UTC).hour == 12

    people = [
        (501, "Anna", "F", "1995"),
        (502, "Bob", "M", "1993"),
        (503, "Kate", "F", "1990"),
        (504, "Tim", "M", "2005"),
    ]
    for user, name, gender, year in people:
        harness.user(user, "en")
        await create_participant(clean_db, user, name=name, gender=gender, birthday=date(int(year), 3, 1))
        [menu] = await harness.say(user, "/date")
        assert "ages 25–40" in menu.text
        answered, _ = await harness.press(
            user, menu, data=EventCb(action=EventAction.REGISTER, event_id=event["id"]).pack()
        )
        if name == "Tim":
            assert any("another age range" in m.text for m in answered), [m.text for m in answered]
        else:
            assert not any("another age range" in m.text for m in answered)
    registered = await clean_db.fetchval("SELECT count(*) FROM registrations WHERE event_id = $1", event["id"])
    assert registered == 3

    weekly = await clean_db.fetchval(
        "INSERT INTO event_schedules (weekdays, local_time) VALUES ('{5}', '19:00') RETURNING id"
    )
    scheduled = await create_event(clean_db, schedule_id=weekly)
    [listing] = await harness.say(boss, "/events")
    assert f"<b>{event['id']}</b>" in listing.source or str(event["id"]) in listing.text
    [line] = [line for line in listing.text.splitlines() if line.startswith(str(scheduled))]
    assert f"schedule {weekly}" in line and "schedule" not in listing.text.replace(line, "")
    [card] = await harness.say(boss, f"/event {event['id']}")
    assert "Balance preview" in card.text and "2 dates for 3 people" in card.text
    assert "Sit-out rounds: Woman 2" in card.text  # two rounds, one woman waiting in each
    [board] = await harness.say(boss, f"/board {event['id']}")
    assert "Anna (registered)" in board.text and "Tim" not in board.text and "No round is running." in board.text
    refreshed, _ = await harness.press(boss, board, "🔄 Refresh")
    assert all(m.message_id == board.message_id for m in refreshed)  # the same message, updated in place

    # a participant asks for the organizer's commands: refused, and their menu never shows them
    [refused] = await harness.say(501, f"/board {event['id']}")
    assert refused.text.startswith("This command is for organizers.")
    [refused] = await harness.say(501, "/new")
    assert refused.text.startswith("This command is for organizers.")
    await harness.say(501, "/start")
    assert "board" not in [c["command"] for c in harness.emulator.commands_for(501, "en")]

    # a report reaches the organizer, who bans the reported person
    past = await clean_db.fetchval(
        "INSERT INTO dating_events (start_dttm, state_id) VALUES (now() - interval '2 days', 4) RETURNING id"
    )
    await clean_db.execute(
        "INSERT INTO reports (event_id, user_id, partner_id, reason) VALUES ($1, 501, 502, 'rude')", past
    )
    [reports] = await harness.say(boss, "/reports")
    assert "Anna" in reports.text and "Bob" in reports.text and "Rude or offensive" in reports.text  # its words
    [question], _ = await harness.press(boss, reports, "🚫 Ban Bob")
    [done], _ = await harness.press(boss, question, "Yes, ban 502")
    assert "banned" in done.text and "1 upcoming" in done.text
    assert await clean_db.fetchval(
        "SELECT cancelled_at IS NOT NULL FROM registrations WHERE event_id = $1 AND user_id = 502", event["id"]
    )

    # a harmless report is dismissed: it leaves the list, its button the message; twice is fine
    await clean_db.execute(
        "INSERT INTO reports (event_id, user_id, partner_id, reason) VALUES ($1, 502, 503, 'boring')", past
    )
    harmless = await clean_db.fetchval("SELECT id FROM reports WHERE reason = 'boring'")
    [reports] = await harness.say(boss, "/reports")
    assert f"#{harmless} · " in reports.text and "boring" in reports.text and "Rude" not in reports.text
    assert buttons(reports) == ["🚫 Ban Kate", f"✅ Dismiss #{harmless}"]
    assert "/unban USER_ID" in reports.text
    dismiss = OrganizerCb(action=OrganizerAction.DISMISS, target=harmless).pack()
    [], toast = await harness.press(501, harness.last(501), data=dismiss)  # a participant forges it
    assert toast.startswith("This command is for organizers.")
    [edited], toast = await harness.press(boss, reports, f"✅ Dismiss #{harmless}")
    assert toast == f"Report #{harmless} is dismissed." and buttons(edited) == ["🚫 Ban Kate"]
    [], toast = await harness.press(boss, reports, data=dismiss)  # a stale copy of the button
    assert toast == f"Report #{harmless} was dismissed already."
    assert await clean_db.fetchval("SELECT resolved_by FROM reports WHERE id = $1", harmless) == boss
    for forged in (OrganizerCb(action=OrganizerAction.DISMISS, target=987654).pack(), "g:d:0", "g:d:-4", "g:d:9" * 3):
        [], toast = await harness.press(boss, reports, data=forged)
        assert toast and toast.startswith("This button is out of date."), forged
    [none] = await harness.say(boss, "/reports")
    assert none.text == "No open reports."

    # the ban was a mistake: lifted with /unban; a participant cannot
    [refused] = await harness.say(501, "/unban 502")
    assert refused.text.startswith("This command is for organizers.")
    [which] = await harness.say(boss, "/unban")
    assert which.text.startswith("Whose ban?")
    [lifted] = await harness.say(boss, "/unban 502")
    assert "no longer banned" in lifted.text
    [again] = await harness.say(boss, "/unban 502")
    assert again.text == "User 502 is not banned."
    assert await clean_db.fetchval("SELECT count(*) FROM banned_users") == 0
    assert await clean_db.fetchval("SELECT count(*) FROM outbox WHERE user_id = 502 AND type = 'user_unbanned'") == 1
    assert await clean_db.fetchval(
        "SELECT cancelled_at IS NOT NULL FROM registrations WHERE event_id = $1 AND user_id = 502", event["id"]
    )  # not put back
    [reports] = await harness.say(boss, "/reports")  # the report about Bob is open again
    assert "Rude or offensive" in reports.text and "🚫 Ban Bob" in buttons(reports)
    actions = await clean_db.fetch("SELECT action FROM organizer_actions ORDER BY id")
    assert [a["action"] for a in actions][-3:] == ["ban_user", "dismiss_report", "unban_user"]

    [question] = await harness.say(boss, f"/cancel {event['id']}")
    [cancelled], _ = await harness.press(boss, question, f"Yes, cancel event {event['id']}")
    assert "is cancelled" in cancelled.text
    assert await clean_db.fetchval("SELECT state_id FROM dating_events WHERE id = $1", event["id"]) == 6
    [nothing] = await harness.say(boss, "/cancel")
    assert nothing.text.startswith("There is nothing to cancel.")


async def test_now_and_matches_in_the_chat(harness, clean_db):
    anna = harness.user(601, "en")
    await create_participant(clean_db, anna, name="Anna", gender="F")
    bob = await create_participant(clean_db, 602, name="Bob", gender="M", username="bob_b")
    [nothing] = await harness.say(anna, "/now")
    assert nothing.text.startswith("You have no date now or later tonight.")
    [none] = await harness.say(anna, "/matches")
    assert none.text.startswith("No mutual matches yet.")

    running = await clean_db.fetchval(
        """INSERT INTO dating_events (start_dttm, state_id, round_seconds, rounds_planned, rounds_started)
           VALUES (now() - interval '10 seconds', 3, 300, 2, 1) RETURNING id"""
    )
    for user in (anna, bob):
        await clean_db.execute("INSERT INTO registrations (event_id, user_id) VALUES ($1, $2)", running, user)
    await clean_db.execute(
        """INSERT INTO event_dates (event_id, group_no, round_no, user_a, user_b, meeting_uri, invited_at)
           VALUES ($1, 0, 0, $2, $3, 'https://meet.google.com/abc-mnop-xyz', now())""",
        running,
        anna,
        bob,
    )
    [now] = await harness.say(anna, "/now")
    assert "Round 1 of 2" in now.text and "Bob" in now.text and "abc-mnop-xyz" in now.text
    assert buttons(now) == ["📹 Join the call"]

    past = await clean_db.fetchval(
        "INSERT INTO dating_events (start_dttm, state_id) VALUES (now() - interval '3 days', 4) RETURNING id"
    )
    await clean_db.execute(
        "INSERT INTO likes (event_id, user_id, partner_id) VALUES ($1, $2, $3), ($1, $3, $2)", past, anna, bob
    )
    [matches] = await harness.say(anna, "/matches")
    assert "Your mutual matches" in matches.text and "@bob_b" in matches.text
    menu = [c["command"] for c in harness.emulator.commands_for(anna, "en")]
    assert "board" not in menu


async def calendar_filled(pool, schedule: int) -> None:
    """datemaker has made the schedule's events: the listing shows them, and does not change under a later press
    (a stale button edits the listing only when it says something new)."""

    async def filled() -> bool:
        made = await pool.fetchval("SELECT count(*) FROM dating_events WHERE schedule_id = $1", schedule)
        return made >= await pool.fetchval("SELECT horizon FROM event_schedules WHERE id = $1", schedule)

    await wait_for(filled, timeout=20)


async def test_an_organizer_keeps_weekly_schedules_from_telegram(harness, clean_db):
    boss = harness.user(700, "en", first_name="Olga")
    await harness.create_profile(boss, "Olga")
    await clean_db.execute("INSERT INTO organizers (user_id) VALUES ($1)", boss)
    await harness.say(boss, "/start")
    menu = [c["command"] for c in harness.emulator.commands_for(boss, "en")]
    assert {"schedules", "newschedule"} <= set(menu)
    [empty] = await harness.say(boss, "/schedules")
    assert empty.text.startswith("No schedules.")

    [question] = await harness.say(boss, "/newschedule")
    assert "On which days?" in question.text
    [reask] = await harness.say(boss, "mon,funday")
    assert reask.text.startswith("I could not read those days")
    await harness.say(boss, "Fri, mon")
    [reask] = await harness.say(boss, "24:00")
    assert reask.text.startswith("I could not read that time")
    [zones] = await harness.say(boss, "19:30")
    assert "Asia/Novosibirsk" in buttons(zones)
    [reask] = await harness.say(boss, "Mars/Olympus")
    assert reask.text.startswith("I do not know that time zone")
    [capacity], _ = await harness.press(boss, zones, "Asia/Novosibirsk")
    assert buttons(capacity) == ["Skip"]
    [reask] = await harness.say(boss, "1")
    assert reask.text.startswith("Send a number")
    [created] = await harness.say(boss, "12")
    assert created.text.startswith("Schedule ") and "is created: Mon, Fri at 19:30 (Asia/Novosibirsk)" in created.text
    row = await clean_db.fetchrow("SELECT * FROM event_schedules ORDER BY id DESC LIMIT 1")
    weekly = row["id"]
    await calendar_filled(clean_db, weekly)
    assert (sorted(row["weekdays"]), str(row["local_time"]), row["timezone"], row["users_limit"]) == (
        [1, 5],
        "19:30:00",
        "Asia/Novosibirsk",
        12,
    )
    # a second one through Skip: daily, typed time zone, 20 seats
    await harness.say(boss, "/newschedule")
    await harness.say(boss, "daily")
    await harness.say(boss, "9:05")
    [capacity] = await harness.say(boss, "Europe/Samara")
    [created], _ = await harness.press(boss, capacity, "Skip")
    assert "every day at 09:05 (Europe/Samara)" in created.text
    daily = await clean_db.fetchval("SELECT id FROM event_schedules WHERE timezone = 'Europe/Samara'")
    await calendar_filled(clean_db, daily)
    assert await clean_db.fetchval("SELECT users_limit FROM event_schedules WHERE id = $1", daily) == 20

    [card] = await harness.say(boss, f"/schedule {weekly}")
    assert card.text.startswith(f"{weekly} · Mon, Fri at 19:30 (Asia/Novosibirsk)") and "Its events:" in card.text
    events = [line for line in card.text.splitlines() if "NOT_STARTED" in line]
    assert events and all("0/12, 0 waiting" in line for line in events), card.text
    assert "less than 50 percent full" in card.text and "extra night" not in card.text.lower()
    [unknown] = await harness.say(boss, "/schedule 987654")
    assert "there is no schedule 987654" in unknown.text
    [which] = await harness.say(boss, "/schedule")
    assert which.text.startswith("Which schedule?")

    [listing] = await harness.say(boss, "/schedules")
    [line] = [line for line in listing.text.splitlines() if line.startswith(f"{weekly} ")]
    assert "Mon, Fri at 19:30 (Asia/Novosibirsk)" in line and "active" in line and "12 seats" in line
    assert buttons(listing) == [f"⏸ Pause {weekly}", f"⏹ End {weekly}", f"⏸ Pause {daily}", f"⏹ End {daily}"]

    # a participant: refused, and their forged buttons change nothing
    harness.user(701, "en")
    await create_participant(clean_db, 701, name="Anna", gender="F")
    [refused] = await harness.say(701, "/schedules")
    assert refused.text.startswith("This command is for organizers.")
    [refused] = await harness.say(701, "/newschedule")
    assert refused.text.startswith("This command is for organizers.")
    pause = OrganizerCb(action=OrganizerAction.SCHEDULE_PAUSE, target=weekly).pack()
    [], toast = await harness.press(701, harness.last(701), data=pause)
    assert toast.startswith("This command is for organizers.")
    assert await clean_db.fetchval("SELECT state FROM event_schedules WHERE id = $1", weekly) == "active"

    # pause, resume, end (after a confirmation)
    [paused], toast = await harness.press(boss, listing, f"⏸ Pause {weekly}")
    assert toast.startswith(f"Schedule {weekly} is paused")
    assert paused.message_id == listing.message_id and f"▶️ Resume {weekly}" in buttons(paused)
    assert await clean_db.fetchval("SELECT state FROM event_schedules WHERE id = $1", weekly) == "paused"
    [], toast = await harness.press(boss, listing, data=pause)  # a stale copy: harmless
    assert toast.startswith(f"Schedule {weekly} is paused")
    [resumed], toast = await harness.press(boss, paused, f"▶️ Resume {weekly}")
    assert toast == f"Schedule {weekly} is running again." and f"⏸ Pause {weekly}" in buttons(resumed)
    [question], _ = await harness.press(boss, resumed, f"⏹ End {weekly}")
    assert question.text.startswith(f"End schedule {weekly} for good?")
    assert await clean_db.fetchval("SELECT state FROM event_schedules WHERE id = $1", weekly) == "active"
    [ended], toast = await harness.press(boss, question, f"Yes, end schedule {weekly}")
    assert "has ended" in ended.text
    assert await clean_db.fetchval("SELECT state FROM event_schedules WHERE id = $1", weekly) == "ended"
    [listing] = await harness.say(boss, "/schedules")
    assert not any(line.startswith(f"{weekly} ") for line in listing.text.splitlines()) and buttons(listing) == [
        f"⏸ Pause {daily}",
        f"⏹ End {daily}",
    ]

    # forged and out-of-date buttons: the answer for buttons out of date, nothing changes
    resume_ended = OrganizerCb(action=OrganizerAction.SCHEDULE_RESUME, target=weekly).pack()
    unknown = OrganizerCb(action=OrganizerAction.SCHEDULE_END_CONFIRMED, target=987654).pack()
    for forged in (resume_ended, unknown, "g:p:0", "g:f:-4", "g:r:" + "9" * 25, "g:e:0"):
        [], toast = await harness.press(boss, listing, data=forged)
        assert toast and toast.startswith("This button is out of date."), forged
    assert await clean_db.fetchval("SELECT state FROM event_schedules WHERE id = $1", weekly) == "ended"
    actions = await clean_db.fetch("SELECT action FROM organizer_actions ORDER BY id")
    assert [a["action"] for a in actions] == [
        "add_schedule",
        "add_schedule",
        "pause_schedule",
        "resume_schedule",
        "end_schedule",
    ]


async def test_a_live_board_goes_on_refreshing_after_the_bot_restarts(harness, clean_db, monkeypatch):
    from chathub_bot.handlers import organizer as console

    monkeypatch.setattr(console, "BOARD_REFRESH_SECONDS", 0.2)
    boss = harness.user(520, "en", first_name="Olga")
    await create_participant(clean_db, boss, name="Olga")
    await clean_db.execute("INSERT INTO organizers (user_id) VALUES ($1)", boss)
    event = await create_event(clean_db)
    anna = await create_participant(clean_db, name="Anna", gender="F")
    await register(clean_db, event, anna)
    [board] = await harness.say(boss, f"/board {event}")
    assert "Anna (registered)" in board.text
    [kept] = await harness.boards.all()
    assert (kept.chat_id, kept.message_id, kept.event_id, kept.locale) == (boss, board.message_id, event, "en")

    await console.stop_boards()  # the bot stops; someone registers meanwhile
    await register(clean_db, event, await create_participant(clean_db, name="Boris", gender="M"))
    assert await console.resume_boards(harness.bot, harness.gateway, harness.boards, harness.i18n) == 1

    def shown():
        [message] = [m for m in harness.emulator.bot_messages(boss) if m.message_id == board.message_id]
        return message.text

    await wait_for(lambda: "Boris (registered)" in shown())
    await clean_db.execute("UPDATE dating_events SET state_id = 6 WHERE id = $1", event)  # cancelled: it ends
    await wait_for(lambda: _no_boards(harness), timeout=5)


async def _no_boards(harness) -> bool:
    return not await harness.boards.all()


async def test_a_removed_organizer_loses_the_organizer_menu_at_the_next_start(harness, clean_db):
    boss = harness.user(530, "en", first_name="Olga")
    await create_participant(clean_db, boss, name="Olga")
    await clean_db.execute("INSERT INTO organizers (user_id) VALUES ($1)", boss)
    await harness.say(boss, "/start")
    assert "board" in [c["command"] for c in harness.emulator.commands_for(boss, "en")]
    await clean_db.execute("DELETE FROM organizers WHERE user_id = $1", boss)  # `datemaker organizers remove`
    [refused] = await harness.say(boss, "/events")
    assert refused.text.startswith("This command is for organizers.")
    await harness.say(boss, "/start")
    menu = harness.emulator.commands_for(boss, "en")
    assert "board" not in [c["command"] for c in menu] and menu == harness.emulator.commands_for(None, "en")
