"""The participant's dialogs through the real dispatcher (``dp.feed_raw_update``) and the real aiogram bot
against the emulator, talking to the real datemaker over RabbitMQ; assertions on what the bot sent and on
what datemaker stored."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from chathub_bot.callbacks import ConfirmCb, EventAction, EventCb, RateCb, ReportCb
from chathub_bot.fsm import ExpiringMemoryStorage
from chathub_common.delivery import Disposition
from contracts.commands import ReportReason, Verdict
from tests.support.bot import BotHarness
from tests.support.factories import create_event, create_participant, register


def buttons(message) -> list[str]:
    return [button["text"] for row in message.buttons for button in row]


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def harness(settings, datemaker, clean_db):
    async with BotHarness(settings, clean_db) as harness:
        yield harness
    assert not harness.errors.records, [r.getMessage() for r in harness.errors.records]


# --- profile ------------------------------------------------------------------------------------


async def test_new_user_fills_in_the_profile_with_helpful_reasks(harness):
    user = harness.user(1, "en", first_name="Anna", username="anna_k")
    [greeting] = await harness.say(user, "/start")
    assert "Hi, Anna!" in greeting.text and "What is your name?" in greeting.text

    [reask] = await harness.sticker(user)
    assert reask.text.startswith("Please answer with text.") and "What is your name?" in reask.text
    [reask] = await harness.say(user, "x" * 65)
    assert reask.text.startswith("That is too long.")
    [reask] = await harness.say(user, "/whatever")
    assert reask.text.startswith("That looks like a command")
    [gender] = await harness.say(user, "  Anna  ")
    assert buttons(gender) == ["Man", "Woman"]

    [reask] = await harness.say(user, "banana")
    assert reask.text.startswith("Please choose one of the buttons.") and buttons(reask) == ["Man", "Woman"]
    [birthday], _ = await harness.press(user, reask, "Woman")
    assert birthday.message_id == reask.message_id and "birthday" in birthday.text  # edited in place

    for answer, problem in [
        ("sticker", "Please answer with text."),
        ("yesterday", "I could not read that date."),
        ("31.02.1990", "I could not read that date."),
        ("01.01.2999", "That date is in the future."),
        ("01.01.2015", "Sorry, our events are for adults only (18+)."),
        ("01.01.1850", "Please check the year."),
    ]:
        [reask] = await (harness.sticker(user) if answer == "sticker" else harness.say(user, answer))
        assert reask.text.startswith(problem), (answer, reask.text)
    [city] = await harness.say(user, "1995-05-17")
    assert "city" in city.text
    [reask] = await harness.photo(user)
    assert reask.text.startswith("Please answer with text.")
    [ages] = await harness.say(user, "Moscow")
    assert buttons(ages) == ["Skip"] and "ages" in ages.text
    for answer in ("young", "17-30", "40-30", "25-999", "1" * 5000):
        [reask] = await harness.say(user, answer)
        assert reask.text.startswith("I could not read that range"), answer
    [bio] = await harness.say(user, "25 - 35")
    assert buttons(bio) == ["Skip"]
    [reask] = await harness.say(user, "b" * 1001)
    assert reask.text.startswith("That is too long.")
    [photo_question] = await harness.say(user, "I like <b>hiking</b> & books")
    assert buttons(photo_question) == ["Skip"]
    [reask] = await harness.say(user, "here is no photo")
    assert reask.text.startswith("That is not a photo.")
    [saved] = await harness.photo(user)
    assert saved.text.startswith("Your profile is saved!") and "Anna, " in saved.text and "/date" in saved.text

    profile = await harness.profile(user)
    assert {k: profile[k] for k in ("name", "gender", "birthday", "city", "bio", "username", "language")} == {
        "name": "Anna",
        "gender": "F",
        "birthday": date(1995, 5, 17),
        "city": "Moscow",
        "bio": "I like <b>hiking</b> & books",
        "username": "anna_k",
        "language": "en",
    }
    assert profile["photo_file_id"] and profile["chat_id"] == user
    assert (profile["partner_age_min"], profile["partner_age_max"]) == (25, 35)
    assert "Partner ages: 25–35" in saved.text
    [back] = await harness.say(user, "/start")
    assert back.text.startswith("Welcome back, Anna!")


async def test_gender_and_skips_by_text(harness):
    user = harness.user(2, "en")
    await harness.say(user, "/start")
    await harness.say(user, "Bob")
    await harness.say(user, "man")
    await harness.say(user, "17.05.1990")
    await harness.say(user, "Kazan")
    await harness.say(user, "30+")
    await harness.say(user, "/skip")
    [saved] = await harness.say(user, "/skip")
    assert saved.text.startswith("Your profile is saved!")
    profile = await harness.profile(user)
    assert profile["gender"] == "M" and profile["bio"] is None
    assert (profile["partner_age_min"], profile["partner_age_max"]) == (30, None)


async def test_russian_by_default_and_for_other_languages(harness):
    for user, language in [(3, "ru"), (4, "de"), (5, "")]:
        harness.user(user, language)
        [greeting] = await harness.say(user, "/start")
        assert "Как вас зовут?" in greeting.text, language
    harness.user(6, "en-GB")
    [greeting] = await harness.say(6, "/start")
    assert "What is your name?" in greeting.text


async def test_profile_shows_and_edits_one_field(harness):
    user = harness.user(7, "en")
    await harness.create_profile(user, "Kate")
    [card] = await harness.say(user, "/profile")
    assert "Kate" in card.text and "City: Moscow" in card.text
    assert buttons(card)[:7] == ["Name", "Gender", "Birthday", "City", "About me", "Partner ages", "Photo"]
    [question], _ = await harness.press(user, card, "City")
    assert "Which city" in question.text
    [saved] = await harness.say(user, "Saint Petersburg")
    assert "City: Saint Petersburg" in saved.text
    profile = await harness.profile(user)
    assert profile["city"] == "Saint Petersburg" and profile["name"] == "Kate"

    await harness.press(user, card, "Photo")
    [saved] = await harness.photo(user)
    assert "Photo: yes" in saved.text
    [card] = await harness.say(user, "/profile")
    assert card.photo == (await harness.profile(user))["photo_file_id"] and "Kate" in card.caption


async def test_cancel_stops_the_dialog(harness):
    user = harness.user(8, "en")
    await harness.say(user, "/start")
    [stopped] = await harness.say(user, "/cancel")
    assert stopped.text.startswith("Stopped.")
    [confused] = await harness.say(user, "Anna")
    assert confused.text.startswith("Sorry, I did not understand that.")
    [nothing] = await harness.say(user, "/cancel")
    assert nothing.text.startswith("There is nothing to cancel.")


async def test_dialog_state_expires_after_an_hour_of_silence(harness):
    now = [1000.0]
    harness.storage = ExpiringMemoryStorage(3600, clock=lambda: now[0])
    harness.dp.fsm.storage = harness.storage
    user = harness.user(9, "en")
    await harness.say(user, "/start")
    now[0] += 3599
    [gender] = await harness.say(user, "Anna")
    assert buttons(gender) == ["Man", "Woman"]
    now[0] += 3601
    [confused] = await harness.say(user, "man")
    assert confused.text.startswith("Sorry, I did not understand that.")
    assert harness.storage.size == 0


async def test_busy_datemaker_gives_a_polite_answer_and_late_replies_are_ignored(harness):
    harness.gateway.timeout = 0.3
    user = harness.user(10, "en")
    await harness.silence()
    [busy] = await harness.say(user, "/start")
    assert "The service is busy right now" in busy.text
    [busy] = await harness.say(user, "/date")
    assert "busy" in busy.text and buttons(busy) == ["Try again", "« Back to events"]

    harness.speak()
    await create_event(harness.pool)
    late = metric("chathub_bot_replies_total", outcome="late")
    from contracts.envelope import Incoming

    command_id = "never-answered-in-time"
    assert (
        await harness.gateway.take_reply(
            Incoming(b'{"ok": true, "data": {}}', f"{command_id}.result", "x.result", command_id)
        )
        is Disposition.ACK
    )
    assert metric("chathub_bot_replies_total", outcome="late") == late + 1
    [menu], _ = await harness.press(user, busy, "Try again")
    assert menu.message_id == busy.message_id and "Upcoming events:" in menu.text


async def test_replies_delivered_twice_are_handled_once(harness):
    user = harness.user(11, "en")
    harness.duplicate_replies = True
    duplicates = metric("chathub_bot_replies_total", outcome="duplicate")
    await harness.create_profile(user)
    await asyncio.sleep(0.05)
    assert set(harness.dispositions) == {Disposition.ACK}
    assert harness.replies >= 2
    assert metric("chathub_bot_replies_total", outcome="duplicate") - duplicates == harness.replies


# --- dating menu --------------------------------------------------------------------------------


async def test_events_register_and_cancel_in_one_message(harness):
    user = harness.user(20, "en")
    await harness.create_profile(user)
    [empty] = await harness.say(user, "/date")
    assert "There are no upcoming events yet." in empty.text
    first = await create_event(harness.pool, starts_in=timedelta(days=2), timezone="Asia/Vladivostok")
    full = await create_event(harness.pool, starts_in=timedelta(days=4), users_limit=1)
    await register(harness.pool, full, await create_participant(harness.pool))

    [menu] = await harness.say(user, "/date")
    assert "(Asia/Vladivostok) — 20 spots left" in menu.text
    assert "only the waiting list is open" in menu.text
    labels = buttons(menu)
    assert labels[0].startswith("📝 ") and "20 spots left" in labels[0] and labels[-2:] == ["Rules", "🔄 Refresh"]

    [answer], _ = await harness.press(user, menu, data=EventCb(action=EventAction.REGISTER, event_id=first).pack())
    assert answer.message_id == menu.message_id
    assert answer.text.startswith("✅ You are registered for the event on ") and "Asia/Vladivostok" in answer.text
    assert "19 spots left" in answer.text  # the reply's own summary: no second round trip
    assert buttons(answer) == ["❌ Cancel my registration", "« Back to events"]
    [answer], _ = await harness.press(user, answer, data=EventCb(action=EventAction.REGISTER, event_id=first).pack())
    assert answer.text.startswith("You are already registered")
    [answer], _ = await harness.press(user, answer, data=EventCb(action=EventAction.REGISTER, event_id=full).pack())
    assert answer.text.startswith("⏳ The event on") and "waiting list" in answer.text
    assert "Your registration: ⏳ on the waiting list" in answer.text

    [details], _ = await harness.press(user, answer, data=EventCb(action=EventAction.OPEN, event_id=first).pack())
    assert "Your registration: ✅ you are registered" in details.text
    [question], _ = await harness.press(user, details, "❌ Cancel my registration")
    assert question.text.startswith("Cancel your registration for the event on")
    [kept], _ = await harness.press(user, question, "No, keep it")
    assert await registration(harness, first, user) == (None,) and "Upcoming events:" in kept.text
    await harness.press(user, kept, data=EventCb(action=EventAction.CANCEL, event_id=first).pack())
    [cancelled], _ = await harness.press(user, kept, "Yes, cancel it")
    assert cancelled.text.startswith("Your registration is cancelled.")
    [cancelled_at] = await registration(harness, first, user)
    assert cancelled_at is not None

    [question], _ = await harness.press(user, cancelled, "Cancel all my registrations")
    assert question.text == "Cancel all your registrations for upcoming events?"
    [done], _ = await harness.press(user, question, "Yes, cancel all")
    assert done.text.startswith("Cancelled 1 registration.")
    [done], _ = await harness.press(user, done, data="m:cy")
    assert done.text.startswith("You had no registrations to cancel.")
    [rules], _ = await harness.press(user, done, "Rules")
    assert "How speed dating works" in rules.text and buttons(rules) == ["« Back to events"]


async def registration(harness: BotHarness, event_id: int, user_id: int) -> tuple | None:
    """(cancelled_at,) of the user's registration, or None."""
    row = await harness.pool.fetchrow(
        "SELECT cancelled_at FROM registrations WHERE event_id = $1 AND user_id = $2", event_id, user_id
    )
    return tuple(row) if row else None


async def test_registering_needs_a_profile(harness):
    user = harness.user(21, "en")
    event = await create_event(harness.pool)
    [menu] = await harness.say(user, "/date")
    [answer], _ = await harness.press(user, menu, data=EventCb(action=EventAction.REGISTER, event_id=event).pack())
    assert answer.text == "Please fill in your profile first: /profile"


async def test_stale_and_unknown_buttons_get_a_sensible_answer(harness):
    user = harness.user(22, "ru")
    await harness.create_profile(user)
    event = await create_event(harness.pool)
    [menu] = await harness.say(user, "/date")
    await harness.pool.execute("DELETE FROM dating_events WHERE id = $1", event)
    [answer], _ = await harness.press(user, menu, data=EventCb(action=EventAction.REGISTER, event_id=event).pack())
    assert answer.text == "Этой встречи больше нет." and buttons(answer) == ["« К списку встреч"]
    [], toast = await harness.press(user, menu, data="v1:register:5")
    assert toast == "Эта кнопка устарела. Отправьте /date, чтобы начать заново."
    [], toast = await harness.press(user, menu, data="p:g:M")  # a gender button outside the dialog
    assert toast.startswith("Эта кнопка устарела")


def test_callback_data_fits_in_64_bytes():
    biggest = 2**63 - 1
    for data in (
        RateCb(event_id=biggest, partner_id=biggest, verdict=Verdict.DISLIKE),
        ConfirmCb(event_id=biggest, attending=False),
        EventCb(action=EventAction.CANCEL_CONFIRMED, event_id=biggest),
    ):
        assert len(data.pack().encode()) <= 64


# --- commands from datemaker --------------------------------------------------------------------

STARTS = "2030-06-01T19:00:00+03:00"
PARTNER = {"user_id": 77, "name": "Boris", "age": 30, "city": "Moscow", "bio": "<script>hi</script>"}
COMMANDS = {
    "confirm_registration": {"starts_at": STARTS, "timezone": "Europe/Moscow", "deadline": "2030-06-01T18:00:00+03:00"},
    "send_rules": {"starts_at": STARTS, "rounds": 5, "round_seconds": 300, "break_seconds": 60},
    "invite_to_meeting": {
        "round": 1,
        "url": "https://meet.google.com/abc-defg-hij",
        "starts_at": STARTS,
        "ends_at": "2030-06-01T19:05:00+03:00",
        "partner": PARTNER,
    },
    "send_partner_profile": {"round": 1, "partner": PARTNER},
    "send_partner_rating_request": {"round": 1, "partner": {"user_id": 77, "name": "Boris"}},
    "send_break_message": {"round": 1, "next_round_starts_at": "2030-06-01T19:06:00+03:00"},
    "send_final_dating_message": {"dates": 3},
    "send_match_message": {
        "matches": [{"user_id": 77, "name": "Boris", "username": "boris_b"}, {"user_id": 78, "name": "Vera"}]
    },
    "send_ready_for_event_request": {"starts_at": STARTS},
    "send_user_will_take_part_in_event": {"starts_at": STARTS, "rounds": 4},
    "send_user_will_not_take_part_in_event": {"reason": "not enough participants"},
    "event_cancelled": {"starts_at": STARTS},
    "offer_extra_seat": {
        "from_event_id": 2,
        "from_starts_at": "2030-05-31T19:00:00+03:00",
        "starts_at": STARTS,
        "timezone": "Europe/Moscow",
        "deadline": "2030-06-01T18:00:00+03:00",
    },
    "event_underfilled": {
        "starts_at": STARTS,
        "timezone": "Europe/Moscow",
        "registered": 3,
        "capacity": 20,
        "confirm_opens_at": "2030-05-31T19:00:00+03:00",
        "schedule_id": 4,
    },
    "no_partner_free": {"round": 2, "next_round": 4, "next_starts_at": "2030-06-01T19:18:00+03:00"},
    "user_banned": {"removed_from": [3]},
    "date_given_up": {"round": 2, "next_round": None, "next_starts_at": None},
    "user_unbanned": {},
}
EXPECTED = {
    "confirm_registration": ("June 1, 19:00 (Europe/Moscow)", ["✅ I will be there", "❌ I can't come"]),
    "send_rules": ("5 rounds of 5 min", []),
    "invite_to_meeting": ("https://meet.google.com/abc-defg-hij", ["📹 Join the call", "🙈 My partner isn't here"]),
    "send_partner_profile": ("Your partner in round 1", []),
    "send_partner_rating_request": ("How was your date with Boris", ["👍 Like", "👎 Dislike", "🚩 Report"]),
    "send_break_message": ("the next round starts at 19:06", []),
    "send_final_dating_message": ("You had 3 dates tonight.", []),
    "send_match_message": ("Boris (@boris_b)", []),
    "send_ready_for_event_request": ("Are you ready?", ["🙋 I'm ready"]),
    "send_user_will_take_part_in_event": ("4 rounds", []),
    "send_user_will_not_take_part_in_event": ("no place for you", []),
    "event_cancelled": ("is cancelled", []),
    "offer_extra_seat": ("is kept for you until June 1, 18:00 (Europe/Moscow)", ["✅ Take the seat"]),
    "event_underfilled": ("3 of 20 seats taken. Confirmations open on May 31, 19:00", []),
    "no_partner_free": ("Your next date is in round 4, at 19:18.", []),
    "user_banned": ("You can no longer register", []),
    "date_given_up": ("round 2, so it was given up. Please do not join that call", []),
    "user_unbanned": ("you can register again", []),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
async def test_every_command_from_datemaker_is_rendered(harness, command):
    user = harness.user(30, "en")
    body = {"event_id": 1, "language": "en", **COMMANDS[command]}
    assert await harness.notify(command, body, user) is Disposition.ACK
    message = harness.last(user)
    expected_text, expected_buttons = EXPECTED[command]
    assert expected_text in message.text, message.text
    assert buttons(message) == expected_buttons


async def test_commands_in_russian_by_language_field_or_last_seen_language(harness):
    assert await harness.notify("event_cancelled", {"event_id": 1, "starts_at": STARTS}, 31) is Disposition.ACK
    assert "1 июня, 19:00" in harness.last(31).text and "отменена" in harness.last(31).text
    body = {"event_id": 1, "starts_at": STARTS, "language": "en"}
    await harness.notify("event_cancelled", body, 32)
    assert "is cancelled" in harness.last(32).text
    await harness.notify("event_cancelled", {"event_id": 1, "starts_at": STARTS}, 34, language="en-US")  # header
    assert "is cancelled" in harness.last(34).text
    harness.user(33, "en")
    await harness.say(33, "/help")
    await harness.notify("send_final_dating_message", {"event_id": 1, "dates": 1}, 33)
    assert "You had 1 date tonight." in harness.last(33).text


async def test_the_absent_partner_is_told_not_to_join_in_both_languages(harness):
    body = {"event_id": 1, "round": 1, "next_round": 3, "next_starts_at": "2030-06-01T19:12:00+03:00"}
    await harness.notify("date_given_up", {**body, "language": "en"}, 38)
    text = harness.last(38).text
    assert "round 1, so it was given up" in text and "Your next date is in round 3, at 19:12." in text
    await harness.notify("date_given_up", {**body, "next_round": None, "next_starts_at": None}, 39)
    text = harness.last(39).text
    assert "раунда 1" in text and "не заходите в тот звонок" in text and "Это было ваше последнее" in text, text


async def test_match_contacts_are_links(harness):
    await harness.notify("send_match_message", {"event_id": 1, **COMMANDS["send_match_message"]}, 34)
    source = harness.last(34).source
    assert '<a href="https://t.me/boris_b">Boris</a>' in source and '<a href="tg://user?id=78">Vera</a>' in source
    await harness.notify("send_match_message", {"event_id": 1, "matches": []}, 34)
    assert "Нет" not in harness.last(34).text and "взаимных симпатий нет" in harness.last(34).text


async def test_invite_with_partner_photo_and_escaped_bio(harness):
    photo = harness.emulator.send_photo(35)["message"]["photo"][-1]["file_id"]
    body = {"event_id": 1, **COMMANDS["invite_to_meeting"], "partner": {**PARTNER, "photo_file_id": photo}}
    await harness.notify("invite_to_meeting", body, 35)
    invite = harness.last(35)
    assert invite.photo == photo and "<script>hi</script>" in invite.caption
    body["partner"]["photo_file_id"] = "gone"
    await harness.notify("invite_to_meeting", body, 36)
    assert harness.last(36).photo is None and "Boris" in harness.last(36).text  # falls back to text
    body["partner"] = {**PARTNER, "photo_file_id": photo, "bio": "b" * 600}
    body["url"] = "https://meet.google.com/" + "x" * 500
    await harness.notify("invite_to_meeting", body, 37)
    assert harness.last(37).photo is None and "x" * 500 in harness.last(37).text  # too long for a caption


async def a_date_tonight(harness, user: int, partner: int) -> int:
    """A running event where ``user`` and ``partner`` had their round-1 date; the event's id."""
    event = await create_event(harness.pool, starts_in=timedelta(hours=-1), state_id=3)
    for person in (user, partner):
        await create_participant(harness.pool, person)
        await register(harness.pool, event, person)
    await harness.pool.execute(
        """INSERT INTO event_dates (event_id, group_no, round_no, user_a, user_b, invited_at)
           VALUES ($1, 0, 0, $2, $3, now())""",
        event,
        user,
        partner,
    )
    return event


async def test_rating_is_shown_in_the_message_and_forged_ratings_refused(harness):
    user = harness.user(40, "en")
    event = await a_date_tonight(harness, user, 77)
    body = {"event_id": event, "language": "en", **COMMANDS["send_partner_rating_request"]}
    await harness.notify("send_partner_rating_request", body, user)
    request = harness.last(user)
    [rated], _ = await harness.press(user, request, "👍 Like")
    assert rated.message_id == request.message_id and rated.text.endswith("Your answer: 👍 like")
    assert buttons(rated) == []
    assert await likes(harness) == [(event, 40, 77)]

    forged = ReportCb(event_id=event, partner_id=12345, reason=ReportReason.RUDE).pack()
    [], toast = await harness.press(user, request, data=forged)
    assert toast == "You can only rate people you had a date with at this event."
    assert await likes(harness) == [(event, 40, 77)]
    assert await harness.pool.fetchval("SELECT count(*) FROM reports") == 0


async def test_a_report_says_what_happened(harness):
    user = harness.user(41, "ru")
    event = await a_date_tonight(harness, user, 79)
    body = {"event_id": event, "language": "ru", "round": 1, "partner": {"user_id": 79, "name": "Boris"}}
    await harness.notify("send_partner_rating_request", body, user)
    request = harness.last(user)
    verdicts = buttons(request)
    [asked], toast = await harness.press(user, request, verdicts[-1])  # 🚩
    assert toast.startswith("Что случилось?") and asked.message_id == request.message_id
    assert buttons(asked) == [
        "Грубость или оскорбления", "Сексуальное или нежелательное поведение", "Это не человек из анкеты",
        "Выглядит младше 18", "Другое", "« Назад",
    ]  # fmt: skip
    assert await harness.pool.fetchval("SELECT count(*) FROM reports") == 0, "nothing is sent before the reason"
    [back], _ = await harness.press(user, asked, "« Назад")
    assert buttons(back) == verdicts
    await harness.press(user, back, verdicts[-1])
    [reported], _ = await harness.press(user, request, "Выглядит младше 18")
    assert buttons(reported) == [] and "🚩" in reported.text
    row = await harness.pool.fetchrow("SELECT user_id, partner_id, reason FROM reports")
    assert tuple(row) == (41, 79, "underage")


async def test_a_rating_pressed_after_ratings_closed_says_so_and_takes_the_buttons_away(harness):
    user = harness.user(42, "en")
    event = await create_event(harness.pool, starts_in=timedelta(days=-3), state_id=4)
    await harness.pool.execute(
        "UPDATE dating_events SET finished_at = now() - interval '49 hours' WHERE id = $1", event
    )
    for person in (42, 78):
        await create_participant(harness.pool, person)
        await register(harness.pool, event, person)
    await harness.pool.execute(
        """INSERT INTO event_dates (event_id, group_no, round_no, user_a, user_b, invited_at)
           VALUES ($1, 0, 0, 42, 78, now() - interval '3 days')""",
        event,
    )
    body = {"event_id": event, "language": "en", "round": 1, "partner": {"user_id": 78, "name": "Boris"}}
    await harness.notify("send_partner_rating_request", body, user)
    request = harness.last(user)
    [closed], toast = await harness.press(user, request, "👍 Like")
    assert toast == "Ratings for this event are closed."
    assert closed.message_id == request.message_id and closed.text.endswith("Ratings for this event are closed.")
    assert buttons(closed) == []
    assert await likes(harness) == []


async def likes(harness: BotHarness) -> list[tuple[int, int, int]]:
    rows = await harness.pool.fetch("SELECT event_id, user_id, partner_id FROM likes ORDER BY created_at")
    return [tuple(row) for row in rows]


async def test_confirmation_request_buttons(harness):
    user = harness.user(41, "en")
    await harness.create_profile(user)
    event = await create_event(harness.pool, state_id=1)
    await register(harness.pool, event, user, confirmation_sent_at=datetime.now(UTC))
    await harness.notify("confirm_registration", {"event_id": event, **COMMANDS["confirm_registration"]}, user)
    request = harness.last(user)
    [answer], _ = await harness.press(user, request, "✅ I will be there")
    assert answer.text.startswith("✅ Thank you, you are confirmed!") and buttons(answer) == []
    confirmed_at = await harness.pool.fetchval(
        "SELECT confirmed_at FROM registrations WHERE event_id = $1 AND user_id = $2", event, user
    )
    assert confirmed_at is not None

    forged = ConfirmCb(event_id=event + 1, attending=True).pack()  # an event that does not exist
    [], toast = await harness.press(user, request, data=forged)
    assert toast == "This event no longer exists."
    assert harness.last(user).text.startswith("✅ Thank you")  # the message is left as it was


@pytest.mark.parametrize(
    ("command", "body", "headers"),
    [
        ("invite_to_meeting", {"event_id": 1, "round": 1}, {}),  # missing fields
        ("launch_rockets", {"event_id": 1}, {}),  # unknown command
        ("event_cancelled", {"event_id": 1, "starts_at": STARTS}, {"user_id": "not-a-number"}),
    ],
)
async def test_invalid_commands_are_dead_lettered_not_crashing(harness, command, body, headers):
    before = metric("chathub_bot_messages_dead_lettered_total", reason="invalid_command")
    assert await harness.notify(command, body, 50, **headers) is Disposition.DEAD_LETTER
    assert metric("chathub_bot_messages_dead_lettered_total", reason="invalid_command") == before + 1
    assert harness.emulator.bot_messages(50) == []


async def test_blocked_user_is_acked_and_counted(harness):
    harness.emulator.block(51)
    before = metric("chathub_telegram_undeliverable_total", reason="forbidden")
    body = {"event_id": 1, **COMMANDS["invite_to_meeting"]}
    assert await harness.notify("invite_to_meeting", body, 51) is Disposition.ACK
    assert metric("chathub_telegram_undeliverable_total", reason="forbidden") == before + 1


async def test_a_redelivered_command_is_sent_once(harness):
    from contracts.envelope import Incoming

    incoming = Incoming(
        body=b'{"event_id": 1, "dates": 2}',
        message_id="final-1",
        type="send_final_dating_message",
        headers={"user_id": "52", "chat_id": "52"},  # headers as strings, as the seed's services sent them
    )
    assert await harness.inbox(incoming) is Disposition.ACK
    assert await harness.inbox(incoming) is Disposition.ACK
    assert len(harness.emulator.bot_messages(52)) == 1


async def test_an_unexpected_error_is_logged_and_the_user_told(settings, datemaker, clean_db):
    async with BotHarness(settings, clean_db) as harness:

        async def broken(command, actor):
            raise RuntimeError("a bug")

        harness.gateway.request = broken
        user = harness.user(60, "en")
        [sorry] = await harness.say(user, "/date")
        assert sorry.text == "Something went wrong on our side. Please try again later."
        assert any("a bug" in repr(r.exc_info) for r in harness.errors.records)
        [still_working] = await harness.say(user, "/help")
        assert "/date" in still_working.text
