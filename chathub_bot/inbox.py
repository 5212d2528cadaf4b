"""The consumer of the bot's queue (``tg_bot_<env>``): replies to the bot's commands, and commands from datemaker.

A message with a ``correlation_id`` is a reply and completes a pending request (:mod:`chathub_bot.gateway`).
One without is a command to the bot: validated against ``contracts.notifications.NOTIFICATIONS`` (an invalid
one is logged, counted and dead-lettered), rendered in the user's language and sent through the pacer, as
urgently as its class says.
It is acknowledged once Telegram accepted the message; a user who blocked the bot makes it undeliverable:
acked and counted, not retried. A message past its ``expires_at`` (a link after its round) is dropped and
counted, never sent late; one without ``expires_at`` is never dropped.

Waiting is not failing: while Telegram is unreachable (network errors, 5xx, a front's error page; 429s are
waited out by the pacer) the delivery is held, and tried again whenever Telegram answers any call, or after a
backoff, until it is sent or expires. Held deliveries are bounded by the consumer's prefetch; other users'
messages keep flowing meanwhile. A delivery held for ``hold_seconds`` (well within the broker's 30-minute
acknowledgement timeout) is deferred: a fresh copy goes to the back of the queue (``Disposition.DEFER``),
which, unlike a return, does not count against the delivery limit. Only a message Telegram refuses for its own
sake (a 400 other than a gone chat) is dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.utils.i18n import I18n

from chathub_bot import metrics
from chathub_bot.gateway import DatemakerGateway
from chathub_bot.i18n import LanguageBook, choose_locale
from chathub_bot.notifications import Rendered, render
from chathub_bot.pacing import RETRYABLE, TelegramLiveness, priority
from chathub_bot.state import DeliveredLog, MemoryDelivered
from chathub_common.delivery import Disposition
from contracts.envelope import Incoming, parse
from contracts.errors import ContractError
from contracts.notifications import NOTIFICATIONS

logger = logging.getLogger(__name__)

MAX_CAPTION = 1024
_GONE = ("chat not found", "user is deactivated", "bot can't initiate conversation", "peer_id_invalid")
_BAD_PHOTO = ("wrong file identifier", "wrong remote file", "failed to get http url content", "photo_invalid")


def _seconds_left(expires_at: str | None) -> float | None:
    """Seconds until ``expires_at`` (negative once past it); None for a message that never expires."""
    if not expires_at:
        return None
    try:
        moment = datetime.fromisoformat(expires_at)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime.now(UTC)).total_seconds()


def _expired(expires_at: str | None) -> bool:
    """A message past its ``expires_at`` is worthless (a round's link after the round)."""
    left = _seconds_left(expires_at)
    return left is not None and left <= 0


class Inbox:
    """Decides what becomes of each delivery on the bot's queue (see :class:`Disposition`)."""

    def __init__(
        self,
        bot: Bot,
        gateway: DatemakerGateway,
        i18n: I18n,
        languages: LanguageBook,
        *,
        delivered: DeliveredLog | None = None,
        webapp_url: str | None = None,
        liveness: TelegramLiveness | None = None,
        hold_seconds: float = 600.0,
        hold_backoff_max: float = 15.0,
    ) -> None:
        self.bot = bot
        self.gateway = gateway
        self.i18n = i18n
        self.languages = languages
        self.delivered: DeliveredLog = delivered or MemoryDelivered()
        """Ids of the messages sent already (in Redis, they outlive a restart)."""
        self.webapp_url = webapp_url
        """The Mini App's address, for the buttons that open it (none without)."""
        self.liveness = liveness or TelegramLiveness()
        self.hold_seconds = hold_seconds
        """How long a delivery waits for Telegram before it is deferred to the back of the queue."""
        self.hold_backoff_max = hold_backoff_max
        self._stopping = asyncio.Event()

    def release_held(self) -> None:
        """The bot is stopping: deliveries held for Telegram go to the back of the queue now (deferred), instead of
        being returned when the connection closes, which would count as a delivery and, restart after restart
        in a long outage, dead-letter them."""
        self._stopping.set()

    async def __call__(self, incoming: Incoming) -> Disposition:
        if incoming.correlation_id:
            return await self.gateway.take_reply(incoming)
        return await self.handle_command(incoming)

    async def handle_command(self, incoming: Incoming) -> Disposition:
        try:
            command = parse(incoming, NOTIFICATIONS)
        except ContractError as exc:
            logger.warning(
                "dead-lettering an invalid command %s (type %r): %s: %s",
                incoming.message_id,
                (incoming.type or "")[:64],
                exc.code,
                exc.message,
            )
            metrics.BOT_COMMANDS_RECEIVED.labels("invalid", str(exc.code)).inc()
            metrics.BOT_DEAD_LETTERED.labels("invalid_command").inc()
            return Disposition.DEAD_LETTER
        if _expired(command.args.expires_at):
            logger.info("%s %s expired at %s: dropped", command.name, command.message_id, command.args.expires_at)
            metrics.BOT_COMMANDS_RECEIVED.labels(command.name, "expired").inc()
            metrics.EXPIRED.labels(command.name).inc()
            return Disposition.ACK
        if command.message_id and await self._seen(command.message_id):
            logger.info("%s %s was delivered already", command.name, command.message_id)
            metrics.BOT_COMMANDS_RECEIVED.labels(command.name, "duplicate").inc()
            return Disposition.ACK
        chat_id = command.user_id  # the user's own private chat, whatever chat_id says: never a group
        locale = self._locale(incoming, command.args.language, command.user_id)
        with self.i18n.context(), self.i18n.use_locale(locale):
            rendered = render(command.args, webapp_url=self.webapp_url)
        try:
            with priority(command.args.priority):
                waited = await self._send_held(
                    command.name, command.message_id, command.args.expires_at, chat_id, rendered
                )
        except TelegramForbiddenError as exc:
            return self._undeliverable(command.name, "forbidden", chat_id, exc.message)
        except TelegramBadRequest as exc:
            if any(reason in exc.message.lower() for reason in _GONE):
                return self._undeliverable(command.name, "chat_not_found", chat_id, exc.message)
            logger.error("Telegram refused %s %s: %s", command.name, command.message_id, exc.message)
            metrics.BOT_COMMANDS_RECEIVED.labels(command.name, "refused").inc()
            metrics.BOT_DEAD_LETTERED.labels("refused_by_telegram").inc()
            return Disposition.DEAD_LETTER
        if waited is not None:
            return waited
        await self._remember(command.message_id)
        metrics.BOT_COMMANDS_RECEIVED.labels(command.name, "sent").inc()
        return Disposition.ACK

    async def _send_held(
        self, name: str, message_id: str, expires_at: str | None, chat_id: int, rendered: Rendered
    ) -> Disposition | None:
        """Send, holding the delivery while Telegram is unreachable; None once sent, else what becomes of the
        delivery: acknowledged when it expired meanwhile (counted), deferred when held too long."""
        held_since: float | None = None
        backoff = 1.0
        try:
            while True:
                try:
                    await self.send(chat_id, rendered)
                except RETRYABLE as exc:
                    now = time.monotonic()
                    if held_since is None:
                        held_since = now
                        metrics.HELD.inc()
                        logger.warning("%s %s held: Telegram is unreachable (%r)", name, message_id, exc)
                    left = _seconds_left(expires_at)
                    if left is not None and left <= 0:
                        logger.info("%s %s expired at %s while held: dropped", name, message_id, expires_at)
                        metrics.BOT_COMMANDS_RECEIVED.labels(name, "expired").inc()
                        metrics.EXPIRED.labels(name).inc()
                        return Disposition.ACK
                    hold_left = held_since + self.hold_seconds - now
                    if hold_left > 0 and not self._stopping.is_set():
                        await self._pause(min(backoff, hold_left, left if left is not None else backoff))
                        backoff = min(backoff * 2, self.hold_backoff_max)
                    if hold_left <= 0 or self._stopping.is_set():
                        why = "the bot is stopping" if self._stopping.is_set() else "held too long"
                        logger.warning("%s %s deferred after %.0fs held: %s", name, message_id, now - held_since, why)
                        metrics.BOT_COMMANDS_RECEIVED.labels(name, "deferred").inc()
                        return Disposition.DEFER
                    continue
                if held_since is not None:
                    logger.info("%s %s sent after %.0fs held", name, message_id, time.monotonic() - held_since)
                return None
        finally:
            if held_since is not None:
                metrics.HELD.dec()

    async def _pause(self, seconds: float) -> None:
        """Wait up to ``seconds`` for Telegram to answer some call, or for the bot to stop."""
        waits = [asyncio.create_task(self.liveness.wait(seconds)), asyncio.create_task(self._stopping.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def send(self, chat_id: int, outgoing: Rendered) -> None:
        """Send through the bot (and so through the pacer); a photo that fails falls back to text.

        A text too long for a caption goes without the photo (the length of the markup counts too: a safe
        upper bound of what Telegram counts).
        """
        if outgoing.photo and len(outgoing.text) <= MAX_CAPTION:
            try:
                await self.bot.send_photo(chat_id, outgoing.photo, caption=outgoing.text, reply_markup=outgoing.markup)
                return
            except TelegramBadRequest as exc:
                if not any(reason in exc.message.lower() for reason in _BAD_PHOTO):
                    raise
                logger.warning("photo %s not accepted (%s); sending text only", outgoing.photo, exc.message)
        await self.bot.send_message(chat_id, outgoing.text, reply_markup=outgoing.markup)

    def _locale(self, incoming: Incoming, body_language: str | None, user_id: int) -> str:
        """The user's language: from the body or the ``language`` header, else as last seen, else the default."""
        header = incoming.headers.get("language")
        if isinstance(header, bytes):
            header = header.decode("utf-8", "replace")
        for language in (body_language, header if isinstance(header, str) else None):
            locale = choose_locale(language, "")
            if locale:
                return locale
        return self.languages.get(user_id) or self.i18n.default_locale

    def _undeliverable(self, name: str, reason: str, chat_id: int, detail: str) -> Disposition:
        logger.info("%s to chat %s is undeliverable: %s", name, chat_id, detail)
        metrics.UNDELIVERABLE.labels(reason).inc()
        metrics.BOT_COMMANDS_RECEIVED.labels(name, "undeliverable").inc()
        return Disposition.ACK

    async def _seen(self, message_id: str) -> bool:
        try:
            return await self.delivered.seen(message_id)
        except Exception as exc:  # the store is down: sending it is better than holding it for the store
            logger.warning("could not check whether message %s was delivered: %r", message_id, exc)
            return False

    async def _remember(self, message_id: str) -> None:
        if not message_id:
            return
        try:
            await self.delivered.remember(message_id)
        except Exception as exc:  # sent: acknowledged all the same; only a redelivery could repeat it
            logger.warning("delivered message %s not recorded: %r", message_id, exc)
