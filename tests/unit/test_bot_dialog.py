"""The participant's dialogs through the real dispatcher (``dp.feed_raw_update``) and the real aiogram bot
against the emulator, with an in-memory datemaker; assertions on what the bot sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from chathub_bot.callbacks import ConfirmCb, EventAction, EventCb, RateCb, Verdict
from chathub_bot.fsm import ExpiringMemoryStorage
from chathub_common.delivery import Disposition
from tests.support.bot import BotHarness


def buttons(message) -> list[str]:
    return [button["text"] for row in message.buttons for button in row]


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def harness():
    async with BotHarness() as harness:
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
    [bio] = await harness.say(user, "Moscow")
    assert buttons(bio) == ["Skip"]
    [reask] = await harness.say(user, "b" * 1001)
    assert reask.text.startswith("That is too long.")
    [photo_question] = await harness.say(user, "I like <b>hiking</b> & books")
    assert buttons(photo_question) == ["Skip"]
    [reask] = await harness.say(user, "here is no photo")
    assert reask.text.startswith("That is not a photo.")
    [saved] = await harness.photo(user)
    assert saved.text.startswith("Your profile is saved!") and "Anna, " in saved.text and "/date" in saved.text

    profile = harness.datemaker.profiles[user]
    assert profile == {
        "name": "Anna",
        "gender": "F",
        "birthday": "1995-05-17",
        "city": "Moscow",
        "bio": "I like <b>hiking</b> & books",
        "username": "anna_k",
        "language": "en",
        "photo_file_id": profile["photo_file_id"],
    }
    [back] = await harness.say(user, "/start")
    assert back.text.startswith("Welcome back, Anna!")


async def test_gender_and_skips_by_text(harness):
    user = harness.user(2, "en")
    await harness.say(user, "/start")
    await harness.say(user, "Bob")
    await harness.say(user, "man")
    await harness.say(user, "17.05.1990")
    await harness.say(user, "Kazan")
    await harness.say(user, "/skip")
    [saved] = await harness.say(user, "/skip")
    assert saved.text.startswith("Your profile is saved!")
    assert harness.datemaker.profiles[user]["gender"] == "M"
    assert "bio" not in harness.datemaker.profiles[user]


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
    assert buttons(card)[:6] == ["Name", "Gender", "Birthday", "City", "About me", "Photo"]
    [question], _ = await harness.press(user, card, "City")
    assert "Which city" in question.text
    [saved] = await harness.say(user, "Saint Petersburg")
    assert "City: Saint Petersburg" in saved.text
    assert harness.datemaker.profiles[user]["city"] == "Saint Petersburg"
    assert harness.datemaker.profiles[user]["name"] == "Kate"

    await harness.press(user, card, "Photo")
    [saved] = await harness.photo(user)
    assert "Photo: yes" in saved.text
    [card] = await harness.say(user, "/profile")
    assert card.photo == harness.datemaker.profiles[user]["photo_file_id"] and "Kate" in card.caption


async def test_cancel_stops_the_dialog(harness):
    user = harness.user(8, "en")
    await harness.say(user, "/start")
    [stopped] = await harness.say(user, "/cancel")
    assert stopped.text.startswith("Stopped.")
    [confused] = await harness.say(user, "Anna")
    assert confused.text.startswith("Sorry, I did not understand that.")
    [nothing] = await harness.say(user, "/cancel")
    assert nothing.text.startswith("There is nothing to cancel.")


async def test_dialog_state_expires_after_an_hour_of_silence():
    now = [1000.0]
    async with BotHarness() as harness:
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
        assert len(harness.storage) == 0


async def test_busy_datemaker_gives_a_polite_answer_and_late_replies_are_ignored(harness):
    harness.gateway.timeout = 0.3
    user = harness.user(10, "en")
    harness.datemaker.mode = "silent"
    [busy] = await harness.say(user, "/start")
    assert "The service is busy right now" in busy.text
    [busy] = await harness.say(user, "/date")
    assert "busy" in busy.text and buttons(busy) == ["Try again", "« Back to events"]

    harness.datemaker.mode = "normal"
    harness.datemaker.add_event(1)
    late = metric("chathub_bot_replies_total", outcome="late")
    from contracts.envelope import Incoming

    command_id = "never-answered-in-time"
    assert (
        harness.gateway.take_reply(
            Incoming(b'{"ok": true, "data": {}}', f"{command_id}.result", "x.result", command_id)
        )
        is Disposition.ACK
    )
    assert metric("chathub_bot_replies_total", outcome="late") == late + 1
    [menu], _ = await harness.press(user, busy, "Try again")
    assert menu.message_id == busy.message_id and "Upcoming events:" in menu.text


async def test_replies_delivered_twice_are_handled_once(harness):
    user = harness.user(11, "en")
    harness.datemaker.mode = "twice"
    duplicates = metric("chathub_bot_replies_total", outcome="duplicate")
    await harness.create_profile(user)
    import asyncio

    await asyncio.sleep(0.05)
    assert set(harness.datemaker.dispositions) == {Disposition.ACK}
    assert metric("chathub_bot_replies_total", outcome="duplicate") - duplicates == len(harness.datemaker.commands)


# --- dating menu --------------------------------------------------------------------------------


async def test_events_register_and_cancel_in_one_message(harness):
    user = harness.user(20, "en")
    await harness.create_profile(user)
    [empty] = await harness.say(user, "/date")
    assert "There are no upcoming events yet." in empty.text
    harness.datemaker.add_event(1, starts_in=timedelta(days=2), timezone="Asia/Vladivostok")
    harness.datemaker.add_event(2, starts_in=timedelta(days=4), capacity=1)
    harness.datemaker.events[2].registered[999] = "registered"

    [menu] = await harness.say(user, "/date")
    assert "(Asia/Vladivostok) — 20 spots left" in menu.text
    assert "only the waiting list is open" in menu.text
    labels = buttons(menu)
    assert labels[0].startswith("📝 ") and "20 spots left" in labels[0] and labels[-2:] == ["Rules", "🔄 Refresh"]

    [answer], _ = await harness.press(user, menu, data=EventCb(action=EventAction.REGISTER, event_id=1).pack())
    assert answer.message_id == menu.message_id
    assert answer.text.startswith("✅ You are registered for the event on ") and "Asia/Vladivostok" in answer.text
    [answer], _ = await harness.press(user, answer, data=EventCb(action=EventAction.REGISTER, event_id=1).pack())
    assert answer.text.startswith("You are already registered")
    [answer], _ = await harness.press(user, answer, data=EventCb(action=EventAction.REGISTER, event_id=2).pack())
    assert answer.text.startswith("⏳ The event on") and "waiting list" in answer.text
    assert buttons(answer)[2] == "Cancel all my registrations"

    [details], _ = await harness.press(user, answer, data=EventCb(action=EventAction.OPEN, event_id=1).pack())
    assert "Your registration: ✅ you are registered" in details.text
    [question], _ = await harness.press(user, details, "❌ Cancel my registration")
    assert question.text.startswith("Cancel your registration for the event on")
    [kept], _ = await harness.press(user, question, "No, keep it")
    assert user in harness.datemaker.events[1].registered and "Upcoming events:" in kept.text
    await harness.press(user, kept, data=EventCb(action=EventAction.CANCEL, event_id=1).pack())
    [cancelled], _ = await harness.press(user, kept, "Yes, cancel it")
    assert cancelled.text.startswith("Your registration is cancelled.")
    assert user not in harness.datemaker.events[1].registered

    [question], _ = await harness.press(user, cancelled, "Cancel all my registrations")
    assert question.text == "Cancel all your registrations for upcoming events?"
    [done], _ = await harness.press(user, question, "Yes, cancel all")
    assert done.text.startswith("Cancelled 1 registration.")
    [done], _ = await harness.press(user, done, data="m:cy")
    assert done.text.startswith("You had no registrations to cancel.")
    [rules], _ = await harness.press(user, done, "Rules")
    assert "How speed dating works" in rules.text and buttons(rules) == ["« Back to events"]


async def test_registering_needs_a_profile(harness):
    user = harness.user(21, "en")
    harness.datemaker.profiles.clear()
    harness.datemaker.add_event(1)
    [menu] = await harness.say(user, "/date")
    [answer], _ = await harness.press(user, menu, data=EventCb(action=EventAction.REGISTER, event_id=1).pack())
    assert answer.text == "Please fill in your profile first: /profile"


async def test_stale_and_unknown_buttons_get_a_sensible_answer(harness):
    user = harness.user(22, "ru")
    await harness.create_profile(user)
    harness.datemaker.add_event(5)
    [menu] = await harness.say(user, "/date")
    del harness.datemaker.events[5]
    [answer], _ = await harness.press(user, menu, data=EventCb(action=EventAction.REGISTER, event_id=5).pack())
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
}
EXPECTED = {
    "confirm_registration": ("June 1, 19:00 (Europe/Moscow)", ["✅ I will be there", "❌ I can't come"]),
    "send_rules": ("5 rounds of 5 min", []),
    "invite_to_meeting": ("https://meet.google.com/abc-defg-hij", ["📹 Join the call"]),
    "send_partner_profile": ("Your partner in round 1", []),
    "send_partner_rating_request": ("How was your date with Boris", ["👍 Like", "👎 Dislike", "🚩 Report"]),
    "send_break_message": ("the next round starts at 19:06", []),
    "send_final_dating_message": ("You had 3 dates tonight.", []),
    "send_match_message": ("Boris (@boris_b)", []),
    "send_ready_for_event_request": ("Are you ready?", ["🙋 I'm ready"]),
    "send_user_will_take_part_in_event": ("4 rounds", []),
    "send_user_will_not_take_part_in_event": ("no place for you", []),
    "event_cancelled": ("is cancelled", []),
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


async def test_rating_is_shown_in_the_message_and_forged_ratings_refused(harness):
    user = harness.user(40, "en")
    harness.datemaker.dates.add((1, 40, 77))
    body = {"event_id": 1, "language": "en", **COMMANDS["send_partner_rating_request"]}
    await harness.notify("send_partner_rating_request", body, user)
    request = harness.last(user)
    [rated], _ = await harness.press(user, request, "👍 Like")
    assert rated.message_id == request.message_id and rated.text.endswith("Your answer: 👍 like")
    assert buttons(rated) == []
    assert harness.datemaker.ratings == [(1, 40, 77, "like")]

    forged = RateCb(event_id=1, partner_id=12345, verdict=Verdict.REPORT).pack()
    [], toast = await harness.press(user, request, data=forged)
    assert toast == "You can only rate people you had a date with at this event."
    assert harness.datemaker.ratings == [(1, 40, 77, "like")]


async def test_confirmation_request_buttons(harness):
    user = harness.user(41, "en")
    await harness.create_profile(user)
    harness.datemaker.add_event(3)
    harness.datemaker.events[3].registered[user] = "registered"
    await harness.notify("confirm_registration", {"event_id": 3, **COMMANDS["confirm_registration"]}, user)
    request = harness.last(user)
    [answer], _ = await harness.press(user, request, "✅ I will be there")
    assert answer.text.startswith("✅ Thank you, you are confirmed!") and buttons(answer) == []
    assert harness.datemaker.events[3].registered[user] == "confirmed"

    forged = ConfirmCb(event_id=4, attending=True).pack()  # an event they never registered for
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


async def test_an_unexpected_error_is_logged_and_the_user_told():
    async with BotHarness() as harness:

        async def broken(actor):
            raise RuntimeError("a bug")

        harness.gateway.list_events = broken
        user = harness.user(60, "en")
        [sorry] = await harness.say(user, "/date")
        assert sorry.text == "Something went wrong on our side. Please try again later."
        assert any("a bug" in repr(r.exc_info) for r in harness.errors.records)
        [still_working] = await harness.say(user, "/help")
        assert "/date" in still_working.text
