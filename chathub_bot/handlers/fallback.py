"""What nothing else handled: stale or unknown buttons, messages out of any dialog, and errors."""

from __future__ import annotations

import contextlib
import logging

from aiogram.exceptions import TelegramAPIError
from aiogram.filters import ExceptionTypeFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, ErrorEvent, Message
from aiogram.utils.i18n import gettext as _

from chathub_bot.handlers.common import Handlers, toast
from chathub_bot.handlers.start import help_text

logger = logging.getLogger(__name__)
router = Handlers("fallback")


def stale_button() -> str:
    """The answer to a button that is out of date, or not one of ours."""
    return _("This button is out of date. Send /date to start again.")


@router.callback_query()
async def on_stale_button(callback: CallbackQuery) -> None:
    logger.info("unknown or stale button %r from user %s", (callback.data or "")[:64], callback.from_user.id)
    await toast(callback, stale_button(), alert=True)


@router.message()
async def on_anything(message: Message, state: FSMContext) -> None:
    if await state.get_state() is not None:  # a state no dialog knows (left by an older version)
        await state.clear()
    await message.answer(_("Sorry, I did not understand that.") + "\n\n" + help_text())


@router.errors(ExceptionTypeFilter(Exception))
async def on_error(event: ErrorEvent) -> bool:
    """Log it, and tell the user something went wrong rather than leave them waiting."""
    logger.error("update %s failed: %r", event.update.update_id, event.exception, exc_info=event.exception)
    with contextlib.suppress(TelegramAPIError, LookupError, RuntimeError):
        text = _("Something went wrong on our side. Please try again later.")
        query = event.update.callback_query
        if query is not None:
            try:
                await query.answer(text, show_alert=True)
            except TelegramAPIError:  # answered already (a handler answers at once): say it in the chat
                if query.bot is not None:
                    await query.bot.send_message(query.from_user.id, text)
        elif event.update.message is not None:
            await event.update.message.answer(text)
    return True
