"""The pacer under the emulator's limits: paced within them, urgent first, 429s waited out, errors bounded."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiogram.exceptions import TelegramForbiddenError, TelegramNetworkError
from aiogram.methods import SendMessage

from chathub_bot.app import build_bot
from chathub_bot.pacing import Pacer, Priority, is_paced, priority
from chathub_sim.telegram import BotApiEmulator

TOKEN = "555000:AAOutboxTestTokenOfTheRightShape000000"


@pytest.fixture
async def emulator():
    emulator = BotApiEmulator(TOKEN, global_rate=20, chat_rate=2)
    await emulator.start()
    yield emulator
    await emulator.stop()


async def make_bot(emulator: BotApiEmulator, **pacer_options):
    pacer = Pacer(**pacer_options)
    return build_bot(TOKEN, pacer, emulator.url), pacer


async def close(bot, pacer) -> None:
    await pacer.close()
    await bot.session.close()


def test_paced_methods():
    assert is_paced("sendMessage") and is_paced("sendPhoto") and is_paced("editMessageText")
    assert not is_paced("getUpdates") and not is_paced("answerCallbackQuery") and not is_paced("sendChatAction")


async def test_stays_within_the_limits_with_no_429(emulator):
    bot, pacer = await make_bot(emulator, global_rate=20, chat_rate=2)
    try:
        started = time.monotonic()
        sends = [bot.send_message(100, f"burst {n}") for n in range(5)]
        sends += [bot.send_message(chat, f"to {chat}") for chat in range(1, 41)]
        await asyncio.gather(*sends)
        elapsed = time.monotonic() - started
    finally:
        await close(bot, pacer)
    assert emulator.stats.too_many_requests == 0
    assert len(emulator.stats.send_times) == 45
    # 45 messages at 20/s need a little over 2 s; 5 to one chat at 2/s need 2 s: close to the physical limit.
    assert 2.0 <= elapsed < 3.5, elapsed
    assert [m.text for m in emulator.bot_messages(100)] == [f"burst {n}" for n in range(5)]


async def test_urgent_messages_go_first(emulator):
    bot, pacer = await make_bot(emulator, global_rate=20, chat_rate=2)
    try:
        with priority(Priority.NORMAL):
            normal = [asyncio.create_task(bot.send_message(chat, "reminder")) for chat in range(1, 31)]
        with priority(Priority.URGENT):
            urgent = [asyncio.create_task(bot.send_message(chat, "meeting link")) for chat in range(200, 205)]
        await asyncio.gather(*normal, *urgent)
    finally:
        await close(bot, pacer)
    order = sorted(
        (m for chat in [*range(1, 31), *range(200, 205)] for m in emulator.bot_messages(chat)), key=lambda m: m.version
    )
    assert [m.text for m in order[:5]] == ["meeting link"] * 5
    assert emulator.stats.too_many_requests == 0


async def test_a_429_is_waited_out_and_retried_in_order(emulator):
    # The pacer believes it may send 10/s to a chat; the emulator allows 2/s: Telegram answers 429.
    bot, pacer = await make_bot(emulator, global_rate=20, chat_rate=10)
    try:
        sent = await asyncio.gather(*(bot.send_message(300, f"n{n}") for n in range(3)))
    finally:
        await close(bot, pacer)
    assert [m.text for m in sent] == ["n0", "n1", "n2"]
    assert [m.text for m in emulator.bot_messages(300)] == ["n0", "n1", "n2"]
    assert emulator.stats.too_many_requests >= 1


async def test_blocked_user_fails_at_once_others_unaffected(emulator):
    emulator.block(400)
    bot, pacer = await make_bot(emulator, global_rate=20, chat_rate=2)
    try:
        results = await asyncio.gather(
            bot.send_message(400, "hello?"), bot.send_message(401, "hello!"), return_exceptions=True
        )
    finally:
        await close(bot, pacer)
    assert isinstance(results[0], TelegramForbiddenError)
    assert results[1].text == "hello!"
    assert emulator.stats.errors[403] == 1  # not retried


async def test_network_errors_are_retried_a_bounded_number_of_times():
    pacer = Pacer(global_rate=100, chat_rate=100, max_attempts=3, backoff_base=0.01)
    calls = {"flaky": 0, "dead": 0}
    method = SendMessage(chat_id=1, text="x")

    async def flaky() -> str:
        calls["flaky"] += 1
        if calls["flaky"] < 3:
            raise TelegramNetworkError(method, "connection reset")
        return "sent"

    async def dead() -> str:
        calls["dead"] += 1
        raise TelegramNetworkError(method, "connection refused")

    try:
        assert await pacer.submit(1, flaky) == "sent"
        with pytest.raises(TelegramNetworkError):
            await pacer.submit(2, dead)
    finally:
        await pacer.close()
    assert calls == {"flaky": 3, "dead": 3}


async def test_a_caller_that_gives_up_is_not_sent():
    pacer = Pacer(global_rate=100, chat_rate=1)
    sent = []

    async def send(n: int) -> int:
        sent.append(n)
        return n

    try:
        assert await pacer.submit(1, lambda: send(1)) == 1
        waiting = asyncio.create_task(pacer.submit(1, lambda: send(2)))  # must wait a second for chat 1
        await asyncio.sleep(0.1)
        waiting.cancel()
        assert await pacer.submit(1, lambda: send(3)) == 3
        assert await pacer.drain(2)
    finally:
        await pacer.close()
    assert sent == [1, 3]
    assert pacer.depth == 0 and pacer.in_flight == 0


async def test_with_paid_broadcast_urgent_messages_pass_the_free_rate_and_the_rest_do_not_pay(emulator):
    bot, pacer = await make_bot(emulator, global_rate=20, chat_rate=2, paid_rate=400)
    try:
        started = time.monotonic()
        with priority(Priority.URGENT):
            links = [asyncio.create_task(bot.send_message(chat, "meeting link")) for chat in range(1000, 1200)]
        with priority(Priority.NORMAL):
            reminders = [asyncio.create_task(bot.send_message(chat, "reminder")) for chat in range(1, 11)]
        await asyncio.gather(*links)
        links_took = time.monotonic() - started
        await asyncio.gather(*reminders)
    finally:
        await close(bot, pacer)
    paid = emulator.stats.paid_broadcasts
    assert 150 <= paid < 200, "the links beyond the free budget, and nothing else, went as paid broadcasts"
    assert emulator.stats.too_many_requests == 0
    assert links_took < 200 / 20, "200 links at the free 20 a second would take 10 s"
    assert all(emulator.bot_messages(chat) for chat in range(1, 11))
