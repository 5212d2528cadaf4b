"""Buttons of datemaker's messages during an event: confirm or decline, rate a partner, say you are ready."""

from __future__ import annotations

import logging

from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _

from chathub_bot import texts
from chathub_bot.callbacks import ConfirmCb, RateCb, ReadyCb, Verdict
from chathub_bot.gateway import DatemakerError, DatemakerGateway, DatemakerUnavailable
from chathub_bot.handlers.common import Handlers, actor_of, message_of, show, toast

logger = logging.getLogger(__name__)
router = Handlers("event")


@router.callback_query(ConfirmCb.filter())
async def on_confirm(callback: CallbackQuery, callback_data: ConfirmCb, gateway: DatemakerGateway) -> None:
    try:
        result = await gateway.confirm_registration(actor_of(callback), callback_data.event_id, callback_data.attending)
    except DatemakerUnavailable:
        await toast(callback, texts.busy(), alert=True)
        return
    except DatemakerError as exc:  # the message stays as it is: the id may be forged, or the press a stale one
        logger.info("confirmation refused for user %s: %s", actor_of(callback).user_id, exc)
        await toast(callback, texts.error_text(exc.code), alert=True)
        return
    await toast(callback)
    if result.status == "confirmed":
        await show(callback, _("✅ Thank you, you are confirmed! See you at the event."))
    else:
        await show(callback, _("Got it, you won't come this time. Your spot goes to someone else. /date"))


def verdict_text(verdict: Verdict) -> str:
    if verdict is Verdict.LIKE:
        return _("Your answer: 👍 like")
    if verdict is Verdict.DISLIKE:
        return _("Your answer: 👎 dislike")
    return _("Your answer: 🚩 report. Thank you, we will look into it.")


@router.callback_query(RateCb.filter())
async def on_rate(callback: CallbackQuery, callback_data: RateCb, gateway: DatemakerGateway) -> None:
    try:
        await gateway.rate_partner(
            actor_of(callback), callback_data.event_id, callback_data.partner_id, callback_data.verdict.value
        )
    except DatemakerUnavailable:
        await toast(callback, texts.busy(), alert=True)
        return
    except DatemakerError as exc:
        logger.info("rating refused for user %s: %s", actor_of(callback).user_id, exc)
        await toast(callback, texts.error_text(exc.code), alert=True)
        return
    await toast(callback)
    message = message_of(callback)
    original = (message.html_text if message else "") or ""
    await show(callback, f"{original}\n\n{verdict_text(callback_data.verdict)}".strip())


@router.callback_query(ReadyCb.filter())
async def on_ready(callback: CallbackQuery, callback_data: ReadyCb, gateway: DatemakerGateway) -> None:
    try:
        await gateway.set_ready(actor_of(callback), callback_data.event_id)
    except DatemakerUnavailable:
        await toast(callback, texts.busy(), alert=True)
        return
    except DatemakerError as exc:
        await toast(callback, texts.error_text(exc.code), alert=True)
        return
    await toast(callback)
    await show(callback, _("🙋 Great, you are ready! The link comes here when your date starts."))
