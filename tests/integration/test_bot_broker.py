"""The whole bot in this process (polling the emulator, consuming its queue) with real RabbitMQ and a real
datemaker: replies matched to pending requests, datemaker's commands acked, dead-lettered or counted."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import aio_pika
import aiohttp
import pytest
from prometheus_client import REGISTRY

from chathub_bot.app import ChathubBot
from chathub_common.rabbit import Broker
from chathub_sim.telegram import BotApiEmulator
from contracts import topology
from tests.conftest import wait_for
from tests.support.bot import forget_bot_state, live_settings
from tests.support.factories import create_event, create_participant, register
from tests.support.processes import free_port

pytestmark = pytest.mark.usefixtures("datemaker")


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def emulator():
    emulator = BotApiEmulator(global_rate=100, chat_rate=20)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def live_bot(emulator, settings, topology):
    await forget_bot_state()
    bot = ChathubBot(live_settings(emulator))
    await bot.start()
    yield bot
    await bot.stop(grace=5)


@pytest.fixture
async def publisher(settings, topology):
    broker = Broker(
        settings.rabbitmq_url(), exchange=settings.rabbitmq_exchange, env=settings.chathub_env, connection_name="tests"
    )
    await broker.connect()
    yield broker
    await broker.close()


async def publish_to_bot(publisher, settings, command: str, body: dict, user_id: int, **headers) -> str:
    return await publisher.publish(
        topology.bot_queue(settings.chathub_env),
        json.dumps(body).encode(),
        type=command,
        headers={"user_id": user_id, "chat_id": user_id, **headers},
    )


async def test_profile_and_registration_through_datemaker(live_bot, emulator, clean_db):
    user = 7001
    emulator.user(user, first_name="Mila", language_code="en", username="mila_m")
    emulator.send_text(user, "/start")
    await emulator.wait_for(user, lambda m: "What is your name?" in (m.text or ""))
    for answer in ("Mila", None, "12.03.1993", "Tver", "skip", "skip", "skip"):  # partner ages, bio, photo
        after = emulator.version
        if answer is None:
            emulator.press(user, emulator.bot_messages(user)[-1].message_id, text="Woman")
        elif answer == "skip":
            emulator.press(user, emulator.bot_messages(user)[-1].message_id, text="Skip")
        else:
            emulator.send_text(user, answer)
        await emulator.wait_for(user, after=after)
    saved = await emulator.wait_for(user, lambda m: "Your profile is saved!" in (m.text or ""))
    assert "Mila, " in saved.text
    row = await clean_db.fetchrow("SELECT name, gender, city, username, language FROM users WHERE user_id = $1", user)
    assert dict(row) == {"name": "Mila", "gender": "F", "city": "Tver", "username": "mila_m", "language": "en"}

    event = await create_event(clean_db, starts_in=timedelta(days=2), timezone="Asia/Yekaterinburg", users_limit=8)
    after = emulator.version
    emulator.send_text(user, "/date")
    menu = await emulator.wait_for(user, lambda m: "Upcoming events:" in (m.text or ""), after=after)
    assert "(Asia/Yekaterinburg) — 8 spots left" in menu.text
    after = emulator.version
    emulator.press(user, menu.message_id, data=f"e:r:{event}")
    registered = await emulator.wait_for(user, lambda m: "registered for the event" in (m.text or ""), after=after)
    assert registered.message_id == menu.message_id
    assert await clean_db.fetchval("SELECT count(*) FROM registrations WHERE user_id = $1", user) == 1


async def test_a_late_reply_is_ignored(live_bot, emulator, clean_db):
    live_bot.gateway.timeout = 0.3
    late = metric("chathub_bot_replies_total", outcome="late")
    emulator.user(7002, language_code="en")
    async with clean_db.acquire() as conn, conn.transaction():
        # datemaker cannot read the events until this transaction ends: its reply comes after the bot gave up
        # (a tiny timeout alone is not enough: a reply may come while the command is still being published)
        await conn.execute("LOCK TABLE dating_events IN ACCESS EXCLUSIVE MODE")
        emulator.send_text(7002, "/date")
        busy = await emulator.wait_for(7002, lambda m: "busy" in (m.text or ""))
    assert [b["text"] for row in busy.buttons for b in row] == ["Try again", "« Back to events"]
    await wait_for(lambda: metric("chathub_bot_replies_total", outcome="late") > late)
    live_bot.gateway.timeout = 5.0
    after = emulator.version
    emulator.press(7002, busy.message_id, text="Try again")
    menu = await emulator.wait_for(7002, after=after)
    assert menu.message_id == busy.message_id and "Speed dating" in menu.text


async def test_confirmation_requested_by_datemaker(live_bot, emulator, clean_db, publisher, settings):
    user = await create_participant(clean_db, name="Oleg", gender="M")
    starts = datetime.now(UTC) + timedelta(hours=20)
    event = await create_event(clean_db, starts_in=starts - datetime.now(UTC))
    await register(clean_db, event, user, confirmation_sent_at=datetime.now(UTC))
    emulator.user(user, language_code="en")
    body = {
        "event_id": event,
        "starts_at": starts.isoformat(),
        "timezone": "Europe/Moscow",
        "deadline": (starts - timedelta(hours=1)).isoformat(),
        "language": "en",
    }
    await publish_to_bot(publisher, settings, "confirm_registration", body, user)
    request = await emulator.wait_for(user, lambda m: "Will you come?" in (m.text or ""))
    after = emulator.version
    emulator.press(user, request.message_id, text="✅ I will be there")
    await emulator.wait_for(user, lambda m: "you are confirmed" in (m.text or ""), after=after)
    assert await clean_db.fetchval(
        "SELECT confirmed_at IS NOT NULL FROM registrations WHERE event_id = $1 AND user_id = $2", event, user
    )


async def test_forged_rating_is_refused_by_datemaker(live_bot, emulator, clean_db):
    user = await create_participant(clean_db)
    stranger = await create_participant(clean_db)
    event = await create_event(clean_db)
    emulator.user(user, language_code="en")
    emulator.send_text(user, "/help")
    help_message = await emulator.wait_for(user)
    update = emulator.press(user, help_message.message_id, data=f"r:{event}:{stranger}:like")
    query = update["callback_query"]["id"]
    await wait_for(lambda: emulator.callback_answer(query).answered)
    assert emulator.callback_answer(query).answer_text == "You can only rate people you had a date with at this event."
    assert emulator.callback_answer(query).show_alert
    assert await clean_db.fetchval("SELECT count(*) FROM likes") == 0


async def test_invalid_command_goes_to_the_dead_letter_queue(live_bot, emulator, publisher, settings):
    bad = await publish_to_bot(publisher, settings, "invite_to_meeting", {"event_id": 1, "round": "first"}, 7003)
    unknown = await publish_to_bot(publisher, settings, "no_such_command", {"event_id": 1}, 7003)
    dead = await dead_letters(settings, {bad, unknown})
    assert {m.type for m in dead} == {"invite_to_meeting", "no_such_command"}
    assert emulator.bot_messages(7003) == []
    body = {"event_id": 1, "starts_at": "2030-01-01T10:00:00+00:00"}
    await publish_to_bot(publisher, settings, "event_cancelled", body, 7003)
    await emulator.wait_for(7003)  # the bot goes on working


async def dead_letters(settings, message_ids: set[str], timeout: float = 15.0) -> list:
    """Take the messages of ``message_ids`` from the bot's dead-letter queue (others are put back)."""
    connection = await aio_pika.connect(settings.rabbitmq_url())
    found = []
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(topology.dead_letter_queue(topology.bot_queue(settings.chathub_env)))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(found) < len(message_ids) and loop.time() < deadline:
            message = await queue.get(fail=False)
            if message is None:
                await asyncio.sleep(0.1)
            elif message.message_id in message_ids:
                await message.ack()
                found.append(message)
            else:
                await message.nack(requeue=True)
    finally:
        await connection.close()
    return found


async def test_blocked_user_is_acked_and_counted_not_retried(live_bot, emulator, publisher, settings):
    emulator.block(7004)
    undeliverable = metric("chathub_telegram_undeliverable_total", reason="forbidden")
    sent = metric("chathub_bot_commands_total", command="event_cancelled", outcome="sent")
    body = {"event_id": 1, "starts_at": "2030-01-01T10:00:00+00:00"}
    await publish_to_bot(publisher, settings, "event_cancelled", body, 7004)
    await publish_to_bot(publisher, settings, "event_cancelled", body, 7005)
    await wait_for(lambda: metric("chathub_bot_commands_total", command="event_cancelled", outcome="sent") > sent)
    await wait_for(lambda: metric("chathub_telegram_undeliverable_total", reason="forbidden") > undeliverable)
    await asyncio.sleep(0.5)
    assert emulator.stats.errors[403] == 1  # one attempt, no redelivery
    assert metric("chathub_telegram_undeliverable_total", reason="forbidden") == undeliverable + 1


async def test_invites_overtake_a_backlog(emulator, settings, topology, publisher):
    """With a backlog of reminders in the queue, meeting links published after them are sent first."""
    emulator.limits.configure(global_rate=20, chat_rate=20)
    for chat in range(8000, 8060):
        await publish_to_bot(
            publisher,
            settings,
            "send_rules",
            {
                "event_id": 1,
                "starts_at": "2030-01-01T10:00:00+00:00",
                "rounds": 3,
                "round_seconds": 300,
                "break_seconds": 60,
            },
            chat,
        )
    invite = {
        "event_id": 1,
        "round": 1,
        "url": "https://meet.google.com/aaa-bbbb-ccc",
        "starts_at": "2030-01-01T10:00:00+00:00",
        "ends_at": "2030-01-01T10:05:00+00:00",
        "partner": {"user_id": 1, "name": "Ann"},
    }
    for chat in range(8100, 8110):
        await publish_to_bot(publisher, settings, "invite_to_meeting", invite, chat)
    bot = ChathubBot(live_settings(emulator))
    await bot.start()
    try:
        await wait_for(lambda: len(emulator.stats.send_times) >= 70, timeout=15)
    finally:
        await bot.stop(grace=5)
    order = sorted(
        (m for chat in [*range(8000, 8060), *range(8100, 8110)] for m in emulator.bot_messages(chat)),
        key=lambda m: m.version,
    )
    first_invites = [i for i, m in enumerate(order) if "Round 1" in (m.text or "") or "Раунд 1" in (m.text or "")]
    assert len(first_invites) == 10
    assert max(first_invites) < 30, first_invites  # all in the first of three seconds, ahead of 60 reminders
    assert emulator.stats.too_many_requests == 0


async def test_a_bot_api_refusing_the_menu_at_start_stops_nothing(emulator, settings, topology, caplog):
    """setMyCommands answered by a front's error page (aiogram: ClientDecodeError), setChatMenuButton refused:
    the bot polls and consumes all the same, and sets them once Telegram takes them."""
    emulator.refuse("setMyCommands", "garbage")
    emulator.refuse("setChatMenuButton", "error")
    await forget_bot_state()
    bot = ChathubBot(live_settings(emulator, webapp_url="https://dating.example.org/app/"))
    await bot.start()
    try:
        emulator.user(7010, language_code="en")
        emulator.send_text(7010, "/help")
        await emulator.wait_for(7010)  # polling runs
        body = {"event_id": 1, "starts_at": "2030-01-01T10:00:00+00:00"}
        publisher = bot.broker
        await publish_to_bot(publisher, settings, "event_cancelled", body, 7011)
        await emulator.wait_for(7011)  # and so does the consumer
        assert emulator.commands == [] and "setMyCommands (ru) failed" in caplog.text
        emulator.accept("setMyCommands")
        emulator.accept("setChatMenuButton")
        await wait_for(lambda: emulator.commands and emulator.menu_button()["type"] == "web_app", timeout=15)
    finally:
        await bot.stop(grace=5)


async def test_messages_are_held_through_a_telegram_outage_and_none_dead_lettered(
    emulator, settings, topology, publisher
):
    """Telegram unreachable longer than every retry (the pacer's attempts, the hold, the delivery limit): each
    message is sent once it is back, an expired link is counted and not sent, nothing is dead-lettered."""
    await forget_bot_state()
    bot = ChathubBot(live_settings(emulator, tg_bot_hold_seconds=1.0, tg_bot_send_attempts=2))
    await bot.start()
    expired = metric("chathub_bot_messages_expired_total", command="invite_to_meeting")
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    invite = {
        "event_id": 1, "round": 1, "url": "https://meet.google.com/aaa-bbbb-ccc", "starts_at": soon,
        "ends_at": soon, "partner": {"user_id": 1, "name": "Ann"}, "expires_at": soon,
    }  # fmt: skip
    matches = {"event_id": 1, "matches": [{"user_id": 2, "name": "Bo", "username": "bo"}]}
    sent: set[str] = set()
    try:
        for how in ("network", "bad_gateway", "server_error"):
            emulator.cut(how)
            users = {"network": 7020, "bad_gateway": 7030, "server_error": 7040}[how]
            ids = [
                await publish_to_bot(publisher, settings, "send_match_message", matches, users + i) for i in range(3)
            ]
            if how == "network":
                await publish_to_bot(publisher, settings, "invite_to_meeting", invite, 7029)
            await asyncio.sleep(3.5)  # past the hold (deferred at least twice) and the link's expiry
            assert all(emulator.bot_messages(users + i) == [] for i in range(3))
            emulator.restore()
            for i in range(3):
                await emulator.wait_for(users + i, timeout=20)
            sent.update(ids)
        await asyncio.sleep(1.0)
        assert all(len(emulator.bot_messages(u)) == 1 for u in (7020, 7021, 7022, 7030, 7031, 7040))  # not doubled
        assert emulator.bot_messages(7029) == []
        assert metric("chathub_bot_messages_expired_total", command="invite_to_meeting") == expired + 1
        assert await dead_letters(settings, sent, timeout=1.0) == []
    finally:
        emulator.restore()
        await bot.stop(grace=5)


async def test_updates_by_webhook(emulator, settings, topology, clean_db):
    """With TG_WEBHOOK_URL the bot asks Telegram for a webhook (served beside the Mini App) and does not poll."""
    await forget_bot_state()
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    bot = ChathubBot(live_settings(emulator, tg_webhook_url=url, webapp_port=port))
    await bot.start()
    try:
        await wait_for(lambda: emulator.webhook is not None, timeout=10)
        assert emulator.webhook["url"] == url and emulator.webhook["secret_token"]
        emulator.user(7050, language_code="en")
        emulator.send_text(7050, "/date")
        menu = await emulator.wait_for(7050, timeout=10)
        assert "Speed dating" in menu.text or "Upcoming events" in menu.text
        async with aiohttp.ClientSession() as session, session.post(url, json={"update_id": 1}) as response:
            assert response.status == 401  # not Telegram: no secret token
    finally:
        await bot.stop(grace=5)
        emulator._delete_webhook({})
