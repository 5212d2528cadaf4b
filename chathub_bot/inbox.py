"""The consumer of the bot's queue (``tg_bot_<env>``): replies to the bot's commands, and commands from datemaker.

A message with a ``correlation_id`` is a reply and completes a pending request (:mod:`chathub_bot.gateway`).
One without is a command to the bot: validated against ``contracts.notifications.BOT_COMMANDS`` (an invalid
one is logged, counted and dead-lettered), rendered in the user's language and sent through the outbox.
It is acknowledged once Telegram accepted the message; a user who blocked the bot makes it undeliverable:
acked and counted, not retried. Network trouble the outbox could not get through puts it back in the queue.
"""

from __future__ import annotations

import collections
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.utils.i18n import I18n

from chathub_bot import metrics
from chathub_bot.gateway import DatemakerGateway
from chathub_bot.i18n import LanguageBook, choose_locale
from chathub_bot.notifications import Outgoing, render
from chathub_bot.outbox import RETRYABLE, priority
from chathub_common.delivery import Disposition
from contracts.envelope import Incoming, parse_command
from contracts.errors import ContractError
from contracts.notifications import BOT_COMMANDS

logger = logging.getLogger(__name__)

MAX_CAPTION = 1024
_GONE = ("chat not found", "user is deactivated", "bot can't initiate conversation", "peer_id_invalid")
_BAD_PHOTO = ("wrong file identifier", "wrong remote file", "failed to get http url content", "photo_invalid")


class Inbox:
    """Decides what becomes of each delivery on the bot's queue (see :class:`Disposition`)."""

    def __init__(
        self,
        bot: Bot,
        gateway: DatemakerGateway,
        i18n: I18n,
        languages: LanguageBook,
        *,
        memory: int = 50_000,
    ) -> None:
        self.bot = bot
        self.gateway = gateway
        self.i18n = i18n
        self.languages = languages
        self._delivered: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._memory = memory

    async def __call__(self, incoming: Incoming) -> Disposition:
        if incoming.correlation_id:
            return self.gateway.take_reply(incoming)
        return await self.handle_command(incoming)

    async def handle_command(self, incoming: Incoming) -> Disposition:
        try:
            command = parse_command(incoming, BOT_COMMANDS)
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
        if command.message_id and command.message_id in self._delivered:
            logger.info("%s %s was delivered already", command.name, command.message_id)
            metrics.BOT_COMMANDS_RECEIVED.labels(command.name, "duplicate").inc()
            return Disposition.ACK
        chat_id = command.headers.chat_id or command.user_id
        locale = self._locale(incoming, command.args.language, command.user_id)
        with self.i18n.context(), self.i18n.use_locale(locale):
            outgoing = render(command)
        try:
            with priority(outgoing.priority):
                await self.send(chat_id, outgoing)
        except TelegramForbiddenError as exc:
            return self._undeliverable(command.name, "forbidden", chat_id, exc.message)
        except TelegramBadRequest as exc:
            if any(reason in exc.message.lower() for reason in _GONE):
                return self._undeliverable(command.name, "chat_not_found", chat_id, exc.message)
            logger.error("Telegram refused %s %s: %s", command.name, command.message_id, exc.message)
            metrics.BOT_COMMANDS_RECEIVED.labels(command.name, "refused").inc()
            metrics.BOT_DEAD_LETTERED.labels("refused_by_telegram").inc()
            return Disposition.DEAD_LETTER
        except RETRYABLE as exc:
            logger.warning("%s %s not sent (%s); back to the queue", command.name, command.message_id, exc)
            metrics.BOT_COMMANDS_RECEIVED.labels(command.name, "retry").inc()
            return Disposition.RETRY
        self._remember(command.message_id)
        metrics.BOT_COMMANDS_RECEIVED.labels(command.name, "sent").inc()
        return Disposition.ACK

    async def send(self, chat_id: int, outgoing: Outgoing) -> None:
        """Send through the bot (and so through the outbox); a photo that fails falls back to text.

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

    def _remember(self, message_id: str) -> None:
        if not message_id:
            return
        self._delivered[message_id] = None
        while len(self._delivered) > self._memory:
            self._delivered.popitem(last=False)
