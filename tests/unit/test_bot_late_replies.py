"""What the bot shows of a reply that comes after the user was told the service is busy, or after a restart
(chathub_bot.late.late_screen, pure), and how a held message learns that Telegram is back."""

from __future__ import annotations

import asyncio

from chathub_bot.i18n import build_i18n
from chathub_bot.late import late_screen
from chathub_bot.pacing import TelegramLiveness
from chathub_bot.state import MemoryDelivered, MemoryPending, PendingRecord
from contracts.envelope import Reply
from contracts.errors import ErrorCode

EVENT = {
    "event_id": 3, "starts_at": "2030-01-05T19:00:00+03:00", "timezone": "Europe/Moscow", "capacity": 20,
    "registered": 5, "spots_left": 15, "state": "NOT_STARTED", "my_status": "registered",
}  # fmt: skip


def ok(data: dict) -> Reply:
    """A successful reply as datemaker sends it (JSON data)."""
    return Reply(ok=True, data=data)


def screen(command: str, reply: Reply, message_id: int | None = 42):
    i18n = build_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        return late_screen(PendingRecord(command, 7, 7, message_id, "en"), reply)


def test_a_late_registration_shows_the_event_and_the_outcome():
    text, markup = screen("register_event", ok({"status": "registered", "event": EVENT}))
    assert "You are registered for the event on" in text and markup is not None


def test_late_answers_of_changes_are_shown_and_of_questions_only_in_their_message():
    assert "cancelled" in screen("cancel_registration", ok({"cancelled": [3]}))[0]
    assert "confirmed" in screen("confirm_registration", ok({"status": "confirmed"}))[0]
    assert "won't come" in screen("confirm_registration", ok({"status": "declined"}))[0]
    assert "Upcoming events" in screen("list_events", ok({"events": [EVENT]}))[0]
    assert screen("list_events", ok({"events": []}), message_id=None) is None
    assert screen("list_matches", ok({"matches": []})) is None
    assert screen("no_such_command", ok({})) is None


def test_a_late_error_is_shown_in_words():
    text, _ = screen("register_event", Reply.failure(ErrorCode.EVENT_FULL, "full"))
    assert text and "event_full" not in text


def test_a_late_reply_not_matching_the_contract_shows_nothing():
    assert screen("register_event", ok({"status": "maybe"})) is None


async def test_pending_requests_are_taken_once_and_delivered_ids_remembered():
    pending, delivered = MemoryPending(memory=2), MemoryDelivered(memory=2)
    await pending.save("a", PendingRecord("list_events", 1, 1))
    assert (await pending.take("a")).command == "list_events"
    assert await pending.take("a") is None
    for message_id in ("x", "y", "z"):
        await delivered.remember(message_id)
    assert not await delivered.seen("x") and await delivered.seen("z")


async def test_liveness_wakes_a_waiter_when_telegram_answers():
    liveness = TelegramLiveness()
    assert not await liveness.wait(0.01)
    waiter = asyncio.create_task(liveness.wait(5))
    await asyncio.sleep(0)
    liveness.answered()
    assert await waiter and liveness.answered_at is not None


async def test_a_late_reply_telegram_could_not_take_is_kept_and_shown_when_it_comes_again():
    from aiogram.exceptions import TelegramNetworkError
    from aiogram.methods import SendMessage

    from chathub_bot.gateway import DatemakerGateway
    from chathub_common.delivery import Disposition
    from contracts.envelope import Incoming

    shown: list[PendingRecord] = []
    telegram_down = [True]

    async def on_late(record: PendingRecord, reply: Reply) -> bool:
        if telegram_down[0]:
            raise TelegramNetworkError(SendMessage(chat_id=7, text="x"), "cannot connect")
        shown.append(record)
        return True

    pending = MemoryPending()
    gateway = DatemakerGateway(publisher=None, routing_key="q", store=pending, on_late=on_late)  # type: ignore[arg-type]
    gateway.late_retry_seconds = 0
    await pending.save("cmd-1", PendingRecord("register_event", 7, 7, 42, "en"))
    reply = Incoming(body=ok({"status": "registered", "event": EVENT}).model_dump_json().encode(),
                     message_id="cmd-1.result", correlation_id="cmd-1")  # fmt: skip
    assert await gateway.take_reply(reply) == Disposition.DEFER
    assert shown == [] and (await pending.take("cmd-1")) is not None, "the record is kept for the copy"
    await pending.save("cmd-1", PendingRecord("register_event", 7, 7, 42, "en"))
    telegram_down[0] = False
    assert await gateway.take_reply(reply) == Disposition.ACK  # the copy, not taken for a duplicate
    assert [r.message_id for r in shown] == [42]
    assert await gateway.take_reply(reply) == Disposition.ACK and len(shown) == 1  # shown once


async def test_a_message_held_for_telegram_is_deferred_at_once_when_the_bot_stops():
    import json

    from aiogram import Bot
    from aiogram.exceptions import TelegramNetworkError
    from aiogram.methods import SendMessage

    from chathub_bot.gateway import DatemakerGateway
    from chathub_bot.i18n import LanguageBook
    from chathub_bot.inbox import Inbox
    from chathub_common.delivery import Disposition
    from contracts.envelope import Incoming

    class Unreachable(Inbox):
        async def send(self, chat_id, outgoing):
            raise TelegramNetworkError(SendMessage(chat_id=chat_id, text="x"), "cannot connect")

    inbox = Unreachable(
        Bot("1:x"),
        DatemakerGateway(None, "q"),
        build_i18n("en"),
        LanguageBook(),
        hold_seconds=600,  # type: ignore[arg-type]
    )
    body = {"event_id": 1, "round": 1, "next_round_starts_at": "2030-06-01T19:06:00+03:00"}
    held = asyncio.create_task(
        inbox.handle_command(
            Incoming(json.dumps(body).encode(), "m-1", "send_break_message", headers={"user_id": 7, "chat_id": 7})
        )
    )
    await asyncio.sleep(0.1)
    assert not held.done(), "held while Telegram is unreachable"
    inbox.release_held()
    async with asyncio.timeout(2):
        assert await held == Disposition.DEFER  # to the back of the queue, not returned to it
