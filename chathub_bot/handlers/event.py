"""Buttons of datemaker's messages about events: confirm or decline, rate a partner, say you are ready, take a seat
offered at an extra night."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from chathub_bot import texts
from chathub_bot.callbacks import AbsentCb, ConfirmCb, OfferCb, RateCb, RateMenuCb, ReadyCb, ReportCb
from chathub_bot.gateway import DatemakerError, DatemakerGateway, DatemakerUnavailable
from chathub_bot.handlers.common import Handlers, actor_of, message_of, show, toast
from chathub_bot.notifications import rating_keyboard, report_keyboard
from contracts import commands as c
from contracts.commands import Verdict
from contracts.errors import ErrorCode

logger = logging.getLogger(__name__)
router = Handlers("event")
ReplyT = TypeVar("ReplyT", bound=c.Data)


async def answer_of(
    callback: CallbackQuery,
    gateway: DatemakerGateway,
    command: c.Command[ReplyT],
    on_refusal: Callable[[DatemakerError], Awaitable[None]] | None = None,
) -> ReplyT | None:
    """datemaker's answer to the command of a pressed button; None when there is none, the user having been told
    why in an alert: busy, or refused (the message then stays as it is, unless ``on_refusal`` changes it: the ids
    may be forged, or the press a stale one)."""
    try:
        return await gateway.request(command, actor_of(callback))
    except DatemakerUnavailable:
        await toast(callback, texts.busy(), alert=True)
    except DatemakerError as exc:
        logger.info("%s refused for user %s: %s", command.type, actor_of(callback).user_id, exc)
        await toast(callback, texts.error_text(exc.code), alert=True)
        if on_refusal is not None:
            await on_refusal(exc)
    return None


def settled_by(callback: CallbackQuery, *codes: ErrorCode) -> Callable[[DatemakerError], Awaitable[None]]:
    """For :func:`answer_of`: on these refusals the message's buttons are of no use any more; it keeps its text,
    says why and loses them."""

    async def settle(refusal: DatemakerError) -> None:
        message = message_of(callback)
        if refusal.code in codes and message is not None:
            await show(callback, f"{message.html_text or ''}\n\n{texts.error_text(refusal.code)}".strip())

    return settle


@router.callback_query(ConfirmCb.filter())
async def on_confirm(callback: CallbackQuery, callback_data: ConfirmCb, gateway: DatemakerGateway) -> None:
    confirmation = c.ConfirmRegistration(event_id=callback_data.event_id, attending=callback_data.attending)
    result = await answer_of(callback, gateway, confirmation)
    if result is None:
        return
    await toast(callback)
    if result.status == "confirmed":
        await show(callback, _("✅ Thank you, you are confirmed! See you at the event."))
    else:
        await show(callback, _("Got it, you won't come this time. Your spot goes to someone else. /date"))


def verdict_text(verdict: Verdict, *, changed: bool = True) -> str:
    if not changed:
        return _("Your answer stays: 🚩 report. A report cannot be taken back.")
    if verdict is Verdict.LIKE:
        return _("Your answer: 👍 like")
    if verdict is Verdict.DISLIKE:
        return _("Your answer: 👎 dislike")
    return _("Your answer: 🚩 report. Thank you, we will look into it.")


@router.callback_query(RateCb.filter())
async def on_rate(callback: CallbackQuery, callback_data: RateCb, gateway: DatemakerGateway) -> None:
    if callback_data.verdict is Verdict.REPORT:  # what happened, first
        await toast(callback, _("What happened? Choose one: the organizers read it."))
        await _swap_buttons(callback, report_keyboard(callback_data.event_id, callback_data.partner_id))
        return
    rating = c.RatePartner(
        event_id=callback_data.event_id, partner_id=callback_data.partner_id, verdict=callback_data.verdict
    )
    await _rate(callback, gateway, rating)


@router.callback_query(ReportCb.filter())
async def on_report(callback: CallbackQuery, callback_data: ReportCb, gateway: DatemakerGateway) -> None:
    rating = c.RatePartner(
        event_id=callback_data.event_id,
        partner_id=callback_data.partner_id,
        verdict=Verdict.REPORT,
        reason=callback_data.reason,
    )
    await _rate(callback, gateway, rating)


async def _rate(callback: CallbackQuery, gateway: DatemakerGateway, rating: c.RatePartner) -> None:
    result = await answer_of(callback, gateway, rating, settled_by(callback, ErrorCode.RATING_CLOSED))
    if result is None:
        return
    await toast(callback)
    message = message_of(callback)
    original = (message.html_text if message else "") or ""
    answer = verdict_text(result.verdict or rating.verdict, changed=result.recorded)
    await show(callback, f"{original}\n\n{answer}".strip())


@router.callback_query(RateMenuCb.filter())
async def on_rate_menu(callback: CallbackQuery, callback_data: RateMenuCb) -> None:
    await toast(callback)
    await _swap_buttons(callback, rating_keyboard(callback_data.event_id, callback_data.partner_id))


async def _swap_buttons(callback: CallbackQuery, markup: InlineKeyboardMarkup) -> None:
    message = message_of(callback)
    if message is not None:
        with contextlib.suppress(TelegramBadRequest):  # unchanged (a double press), or too old to edit
            await message.edit_reply_markup(reply_markup=markup)


@router.callback_query(ReadyCb.filter())
async def on_ready(callback: CallbackQuery, callback_data: ReadyCb, gateway: DatemakerGateway) -> None:
    if await answer_of(callback, gateway, c.SetReady(event_id=callback_data.event_id)) is None:
        return
    await toast(callback)
    await show(callback, _("🙋 Great, you are ready! The link comes here when your date starts."))


@router.callback_query(OfferCb.filter())
async def on_accept_offer(callback: CallbackQuery, callback_data: OfferCb, gateway: DatemakerGateway) -> None:

    answered_already = settled_by(callback, ErrorCode.OFFER_EXPIRED, ErrorCode.OFFER_ALREADY_ACCEPTED)
    result = await answer_of(callback, gateway, c.AcceptExtraSeat(event_id=callback_data.event_id), answered_already)
    if result is None:
        return
    await toast(callback)
    text = _("✅ The seat is yours: see you on {when}! The call links will come here, in this chat.").format(
        when=texts.when(result.event.starts_at, result.event.timezone)
    )
    if result.left_waitlist_of is not None:
        text += "\n" + _("You have left the waiting list of the first event.")
    await show(callback, text)


@router.callback_query(AbsentCb.filter())
async def on_partner_absent(callback: CallbackQuery, callback_data: AbsentCb, gateway: DatemakerGateway) -> None:
    absent = c.PartnerAbsent(event_id=callback_data.event_id, round=callback_data.round)
    result = await answer_of(callback, gateway, absent)
    if result is None:
        return
    if result.status == "partner_joined":
        await toast(callback, _("Your partner is in the call: please join it too."), alert=True)
    elif result.status == "rematched":
        await toast(callback, _("We found you someone new: the link comes in a moment."), alert=True)
    else:
        await toast(callback, texts.no_partner_free(result.next_round, result.next_starts_at), alert=True)
