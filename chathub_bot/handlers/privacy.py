"""/delete_me: erase the profile and every personal detail, after a confirmation."""

from __future__ import annotations

import logging

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from chathub_bot import texts
from chathub_bot.callbacks import PrivacyAction, PrivacyCb
from chathub_bot.gateway import DatemakerError, DatemakerGateway, DatemakerUnavailable
from chathub_bot.handlers.common import Handlers, actor_of, show, toast
from contracts import commands as c

logger = logging.getLogger(__name__)
router = Handlers("privacy")


def question() -> tuple[str, InlineKeyboardMarkup]:
    text = _(
        "Delete your data? Your profile, photo and username are erased, your registrations for upcoming events "
        "are cancelled, and your matches will no longer see your contact. Only anonymous counts of past events "
        "remain. This cannot be undone."
    )
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("🗑 Yes, delete everything"), callback_data=PrivacyCb(action=PrivacyAction.ERASE).pack()
                )
            ],
            [InlineKeyboardButton(text=_("No, keep it"), callback_data=PrivacyCb(action=PrivacyAction.KEEP).pack())],
        ]
    )
    return text, markup


@router.message(Command("delete_me"))
async def on_delete_me(message: Message, state: FSMContext) -> None:
    await state.clear()
    text, markup = question()
    await message.answer(text, reply_markup=markup)


@router.callback_query(PrivacyCb.filter(F.action == PrivacyAction.ERASE))
async def on_erase(callback: CallbackQuery, state: FSMContext, gateway: DatemakerGateway) -> None:
    await toast(callback)
    try:
        await gateway.request(c.DeleteMyData(), actor_of(callback))
    except DatemakerUnavailable:
        retry = InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text=_("Try again"), callback_data=PrivacyCb(action=PrivacyAction.ERASE).pack())]
            ]
        )
        await show(callback, texts.busy(), retry)
        return
    except DatemakerError as exc:
        await show(callback, texts.error_text(exc.code))
        return
    await state.clear()
    logger.info("user %s erased their data", actor_of(callback).user_id)
    await show(callback, _("Your data is deleted. If you come back one day, /start makes a new profile."))


@router.callback_query(PrivacyCb.filter(F.action == PrivacyAction.KEEP))
async def on_keep(callback: CallbackQuery) -> None:
    await toast(callback)
    await show(callback, _("Nothing was deleted."))
