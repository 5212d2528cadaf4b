"""Replies that come when no handler waits for them any more: after the user was told the service is busy (a
long database outage), or after the bot restarted. The pending request's record (:mod:`chathub_bot.state`)
says who asked, where and in which language; the outcome is shown there, in the bot message the request came
from when there is one (edited), else as a new message.

What is shown (:func:`late_screen`, pure): the outcome of a command that changed something (a registration, a
cancellation, a confirmation, a saved profile, erased data), or an error; the answer to a question (the list of
events) only in place of the "busy" message it was asked from. Anything else is counted and not shown.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from pydantic import ValidationError

from chathub_bot import texts
from chathub_bot.handlers.dating import back_keyboard, menu, registered_screen
from chathub_bot.i18n import LanguageBook
from chathub_bot.pacing import RETRYABLE
from chathub_bot.state import PendingRecord
from contracts import commands as c
from contracts.envelope import Reply

logger = logging.getLogger(__name__)

Screen = tuple[str, InlineKeyboardMarkup | None]


def late_screen(record: PendingRecord, reply: Reply) -> Screen | None:
    """What to show for ``reply`` to the request of ``record`` (inside an i18n context); None: nothing."""
    command = c.COMMANDS.get(record.command)
    if command is None:
        return None
    if not reply.ok:
        if command.read_only and record.message_id is None:
            return None
        return texts.error_text(reply.error.code if reply.error else "internal_error"), back_keyboard()
    try:
        data = command.reply.model_validate(reply.data or {})
    except ValidationError:
        logger.warning("late reply to %s does not match the contract", record.command)
        return None
    if isinstance(data, c.EventList):
        return menu(data.events) if record.message_id is not None else None
    if isinstance(data, c.RegisterResult):
        return registered_screen(data)
    if isinstance(data, c.CancelResult):
        return _("Your registration is cancelled."), back_keyboard()
    if isinstance(data, c.ConfirmResult):
        if data.status == "confirmed":
            return _("✅ Thank you, you are confirmed! See you at the event."), None
        return _("Got it, you won't come this time. Your spot goes to someone else. /date"), None
    if isinstance(data, c.ProfileData) and command is c.UpsertProfile:
        return _("Your profile is saved!") + "\n\n" + texts.profile_card(data.profile), None
    return None


class LateReplies:
    """Shows late replies through the bot (see the module's docstring)."""

    def __init__(self, bot: Bot, i18n: I18n, languages: LanguageBook, dialogs: BaseStorage) -> None:
        self.bot = bot
        self.i18n = i18n
        self.languages = languages
        self.dialogs = dialogs

    async def __call__(self, record: PendingRecord, reply: Reply) -> bool:
        """Show the outcome; whether something was shown."""
        locale = record.locale or self.languages.get(record.user_id) or self.i18n.default_locale
        with self.i18n.context(), self.i18n.use_locale(locale):
            screen = late_screen(record, reply)
        if screen is None:
            return False
        if record.command == c.UpsertProfile.type and reply.ok:  # the dialog that asked is over
            key = StorageKey(bot_id=self.bot.id, chat_id=record.chat_id, user_id=record.user_id)
            await self.dialogs.set_state(key, None)
            await self.dialogs.set_data(key, {})
        text, markup = screen
        try:
            if record.message_id is not None:
                try:
                    await self.bot.edit_message_text(
                        text=text, chat_id=record.chat_id, message_id=record.message_id, reply_markup=markup
                    )
                    return True
                except TelegramBadRequest as exc:  # gone, or a photo: a new message instead
                    if "message is not modified" in exc.message:
                        return True
                    logger.info("late reply not edited into message %s: %s", record.message_id, exc.message)
            await self.bot.send_message(record.user_id, text, reply_markup=markup)
        except RETRYABLE:
            raise  # Telegram unreachable: the gateway keeps the reply for later
        except TelegramAPIError as exc:
            logger.warning("late reply to %s not shown to user %s: %r", record.command, record.user_id, exc)
            return False
        return True
