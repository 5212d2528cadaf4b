"""End to end: ``python -m chathub_bot`` as a child process, the Bot API emulator, real RabbitMQ and a real
datemaker. Simulated users go through the control API over HTTP, as the demo drives them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chathub_common.rabbit import Broker
from chathub_sim.telegram import EmulatorClient
from contracts import topology
from tests.support.bot import running_bot
from tests.support.factories import create_event, create_participant
from tests.support.promtool import check_metrics

pytestmark = pytest.mark.usefixtures("datemaker")

TEXTS = {
    "en": {
        "name?": "What is your name?",
        "text please": "Please answer with text.",
        "buttons please": "Please choose one of the buttons.",
        "woman": "Woman",
        "birthday?": "When is your birthday?",
        "future": "That date is in the future.",
        "adults": "adults only",
        "city?": "Which city",
        "ages?": "Which ages",
        "skip": "Skip",
        "photo?": "Send a photo",
        "saved": "Your profile is saved!",
        "events": "Upcoming events:",
        "registered": "You are registered for the event on",
        "cancel": "❌ Cancel my registration",
        "cancel?": "Cancel your registration",
        "yes cancel": "Yes, cancel it",
        "cancelled": "Your registration is cancelled.",
        "will you come": "Will you come?",
        "confirm": "✅ I will be there",
        "confirmed": "you are confirmed",
        "stale": "This button is out of date.",
        "not partner": "You can only rate people you had a date with at this event.",
        "busy": "busy",
    },
    "ru": {
        "name?": "Как вас зовут?",
        "text please": "Пожалуйста, ответьте текстом.",
        "buttons please": "Пожалуйста, выберите одну из кнопок.",
        "woman": "Женщина",
        "birthday?": "Когда у вас день рождения?",
        "future": "Эта дата ещё не наступила.",
        "adults": "только для взрослых",
        "city?": "В каком городе",
        "ages?": "С кем по возрасту",
        "skip": "Пропустить",
        "photo?": "Пришлите фото",
        "saved": "Анкета сохранена!",
        "events": "Ближайшие встречи:",
        "registered": "Вы записаны на встречу",
        "cancel": "❌ Отменить запись",
        "cancel?": "Отменить запись на встречу",
        "yes cancel": "Да, отменить",
        "cancelled": "Ваша запись отменена.",
        "will you come": "Вы придёте?",
        "confirm": "✅ Приду",
        "confirmed": "участие подтверждено",
        "stale": "Эта кнопка устарела.",
        "not partner": "Оценивать можно только тех, с кем у вас было свидание на этой встрече.",
        "busy": "занят",
    },
}


@pytest.fixture(scope="module")
async def bot_process(emulator, test_env, topology, datemaker):
    async with running_bot(emulator, TG_BOT_CHAT_RATE="5", TG_BOT_GLOBAL_RATE="30") as process:
        yield process


@pytest.fixture
async def client(emulator):
    async with EmulatorClient(emulator.url) as client:
        yield client


@pytest.fixture
async def publisher(settings, topology):
    broker = Broker(
        settings.rabbitmq_url(), exchange=settings.rabbitmq_exchange, env=settings.chathub_env, connection_name="e2e"
    )
    await broker.connect()
    yield broker
    await broker.close()


@pytest.mark.parametrize("language", ["en", "ru"])
async def test_participant_journey(bot_process, client, clean_db, publisher, settings, language):
    t = TEXTS[language]
    user_id = 9100 if language == "en" else 9200
    user = client.user(user_id, first_name="Alex", username=f"alex_{language}", language_code=language)

    # profile, with bad input at every step
    await user.send_text("/start")
    name_question = await user.wait_for(contains=t["name?"])
    await user.send_sticker()
    await user.wait_for(contains=t["text please"])
    await user.send_text("Alexandra")
    gender_question = await user.wait_for(lambda m: t["woman"] in m.button_texts)
    await user.send_text("banana")
    await user.wait_for(contains=t["buttons please"])
    await user.press(gender_question, t["woman"])
    await user.wait_for(contains=t["birthday?"])
    await user.send_sticker()
    await user.wait_for(contains=t["text please"])
    await user.send_text("01.01.2999")
    await user.wait_for(contains=t["future"])
    await user.send_text(f"01.01.{datetime.now(UTC).year - 10}")
    await user.wait_for(contains=t["adults"])
    await user.send_text("24.12.1996")
    await user.wait_for(contains=t["city?"])
    await user.send_text("Novosibirsk")
    await user.wait_for(contains=t["ages?"])
    await user.send_text("25-40")
    bio_question = await user.wait_for(contains=t["skip"].lower() if language == "en" else "о себе")
    await user.press(bio_question, t["skip"])
    await user.wait_for(contains=t["photo?"])
    await user.send_photo()
    await user.wait_for(contains=t["saved"])
    row = await clean_db.fetchrow(
        "SELECT name, gender, birthday, city, photo_file_id, language, partner_age_min, partner_age_max FROM users "
        "WHERE user_id = $1",
        user_id,
    )
    assert (row["partner_age_min"], row["partner_age_max"]) == (25, 40)
    assert (row["name"], row["gender"], str(row["birthday"]), row["city"]) == (
        "Alexandra",
        "F",
        "1996-12-24",
        "Novosibirsk",
    )
    assert row["photo_file_id"] and row["language"] == language

    # a stale button: the gender button of the finished dialog, from a client still showing the old keyboard
    query = await user.press(gender_question, data=gender_question.button(t["woman"])["callback_data"])
    assert (await user.callback_answer(query))["text"].startswith(t["stale"])

    # events: register, cancel with a confirmation step
    event = await create_event(clean_db, starts_in=timedelta(hours=30), timezone="Asia/Novosibirsk", users_limit=10)
    await user.send_text("/date")
    menu = await user.wait_for(contains=t["events"])
    assert "(Asia/Novosibirsk)" in menu.content
    await user.press(menu, menu.buttons[0][0]["text"])
    registered = await user.wait_for(contains=t["registered"])
    assert registered.message_id == menu.message_id and t["cancel"] in registered.button_texts  # the event's own card
    await user.press(registered, t["cancel"])
    question = await user.wait_for(contains=t["cancel?"])
    await user.press(question, t["yes cancel"])
    cancelled = await user.wait_for(contains=t["cancelled"])
    assert cancelled.message_id == menu.message_id
    assert await clean_db.fetchval(
        "SELECT cancelled_at IS NOT NULL FROM registrations WHERE event_id = $1 AND user_id = $2", event, user_id
    )

    # datemaker asks for a confirmation (the lifecycle runner will; here the test publishes it)
    await user.press(cancelled, cancelled.buttons[0][0]["text"])
    await user.wait_for(contains=t["registered"])
    await clean_db.execute(
        "UPDATE registrations SET confirmation_sent_at = now() WHERE event_id = $1 AND user_id = $2", event, user_id
    )
    starts = await clean_db.fetchval("SELECT start_dttm FROM dating_events WHERE id = $1", event)
    request = {
        "event_id": event,
        "starts_at": starts.isoformat(),
        "timezone": "Asia/Novosibirsk",
        "deadline": (starts - timedelta(hours=1)).isoformat(),
    }
    await publisher.publish(
        topology.bot_queue(settings.chathub_env),
        json.dumps(request).encode(),
        type="confirm_registration",
        headers={"user_id": str(user_id), "chat_id": str(user_id), "event_id": event},
    )
    ask = await user.wait_for(contains=t["will you come"])
    await user.press(ask, t["confirm"])
    await user.wait_for(contains=t["confirmed"])
    assert await clean_db.fetchval(
        "SELECT confirmed_at IS NOT NULL FROM registrations WHERE event_id = $1 AND user_id = $2", event, user_id
    )

    # a forged button: rating someone never met
    stranger = await create_participant(clean_db)
    query = await user.press(ask, data=f"r:{event}:{stranger}:like")
    answer = await user.callback_answer(query)
    assert answer["text"] == t["not partner"] and answer["show_alert"]
    assert await clean_db.fetchval("SELECT count(*) FROM likes WHERE user_id = $1", user_id) == 0
    assert name_question.message_id < ask.message_id


async def test_ops_endpoints_and_metrics(bot_process, client, clean_db):
    ready = await bot_process.wait_ready(5)
    assert ready == {"ready": True, "checks": {"broker": True, "telegram": True, "state": True}}
    user = client.user(9300, language_code="en")
    await user.send_text("/help")
    await user.wait_for(contains="/date")
    metrics = await bot_process.metrics()
    assert 'chathub_telegram_sends_total{method="sendMessage",outcome="ok"}' in metrics
    for name in (
        "chathub_telegram_retry_after_total",
        "chathub_bot_outbox_messages",
        "chathub_telegram_undeliverable_total",
    ):
        assert name in metrics
    assert "user_id" not in metrics
    check_metrics(metrics)
