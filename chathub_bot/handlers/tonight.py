"""/now (the user's date now or next tonight, and dates still to rate) and /matches (every mutual match), through
``get_current_date`` and ``list_matches``."""

from __future__ import annotations

import logging

from aiogram.filters import Command
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from chathub_bot import texts
from chathub_bot.gateway import DatemakerGateway
from chathub_bot.handlers.common import Handlers, actor_of, ask
from chathub_bot.notifications import contact_link
from contracts import commands as c
from contracts import notifications as n

logger = logging.getLogger(__name__)
router = Handlers("tonight")


@router.message(Command("now"))
async def on_now(message: Message, gateway: DatemakerGateway) -> None:
    tonight = await ask(gateway, actor_of(message), c.GetCurrentDate(), message.answer)
    if tonight is None:
        return
    date = tonight.date
    if date is None:
        lines = [_("You have no date now or later tonight. Upcoming events: /date")]
        markup = None
    else:
        lines = [
            _("<b>Round {round} of {rounds}</b>, {start}–{end}").format(
                round=date.round,
                rounds=date.rounds,
                start=texts.clock(date.starts_at, date.timezone),
                end=texts.clock(date.ends_at, date.timezone),
            ),
            "",
            texts.partner_card(date.partner),
            "",
        ]
        markup = None
        if date.url:
            lines.append(_("Join the call: {url}").format(url=texts.esc(date.url)))
            if date.url.startswith("https://"):
                button = InlineKeyboardButton(text=_("📹 Join the call"), url=date.url)
                markup = InlineKeyboardMarkup(inline_keyboard=[[button]])
        else:
            lines.append(_("The call link comes here when the round starts."))
        if date.next is not None:
            lines.append(
                _("Next: round {round} at {time} with {name}.").format(
                    round=date.next.round,
                    time=texts.clock(date.next.starts_at, date.timezone),
                    name=texts.esc(date.next.partner.name),
                )
            )
    if tonight.to_rate:
        names = ", ".join(texts.esc(d.partner.name) for d in tonight.to_rate)
        lines += ["", _("Still to rate: {names} (the buttons under each date's message).").format(names=names)]
    await message.answer("\n".join(lines), reply_markup=markup)


@router.message(Command("matches"))
async def on_matches(message: Message, gateway: DatemakerGateway) -> None:
    result = await ask(gateway, actor_of(message), c.ListMatches(), message.answer)
    if result is None:
        return
    if not result.matches:
        await message.answer(_("No mutual matches yet. Upcoming events: /date"))
        return
    contacts = [
        f"• {contact_link(n.MatchContact(user_id=m.user_id, name=m.name, username=m.username))}" for m in result.matches
    ]
    await message.answer(texts.fitting([_("💘 Your mutual matches:"), ""], contacts, []))
