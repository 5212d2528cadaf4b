"""Messages for datemaker's commands to the bot (PROTOCOL.md section 5; ``contracts.notifications``).

:func:`render` turns a validated command into what to send: text (HTML), buttons, an optional photo,
and its priority in the outbox. Call it inside an i18n locale context.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from chathub_bot import texts
from chathub_bot.callbacks import ConfirmCb, RateCb, ReadyCb, Verdict
from chathub_bot.outbox import Priority
from contracts import notifications as n
from contracts.envelope import Command

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    """One message to send to the user."""

    text: str
    markup: InlineKeyboardMarkup | None = None
    photo: str | None = None
    """A file id: the text then goes as the photo's caption."""
    priority: Priority = Priority.NORMAL


def _keyboard(*rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=list(rows))


def _is_link(url: str) -> bool:
    return url.startswith(("https://", "http://")) and len(url) <= 2048 and " " not in url


def confirm_request(args: n.ConfirmRegistrationRequest) -> Outgoing:
    text = _(
        "Speed dating on {when} is coming up!\nWill you come? Please confirm by {deadline}, otherwise your "
        "spot goes to someone else."
    ).format(when=texts.when(args.starts_at, args.timezone), deadline=texts.when(args.deadline, args.timezone))
    markup = _keyboard(
        [
            InlineKeyboardButton(
                text=_("✅ I will be there"), callback_data=ConfirmCb(event_id=args.event_id, attending=True).pack()
            ),
            InlineKeyboardButton(
                text=_("❌ I can't come"), callback_data=ConfirmCb(event_id=args.event_id, attending=False).pack()
            ),
        ]
    )
    return Outgoing(text, markup)


def rules(args: n.SendRules) -> Outgoing:
    minutes = max(1, round(args.round_seconds / 60))
    head = _("The event starts at {time}: {rounds} rounds of {minutes} min, with {pause} s breaks.").format(
        time=texts.clock(args.starts_at), rounds=args.rounds, minutes=minutes, pause=args.break_seconds
    )
    return Outgoing(f"{head}\n\n{texts.rules()}")


def invite(args: n.InviteToMeeting) -> Outgoing:
    lines = [
        _("🔔 <b>Round {round}</b>: your date is starting!").format(round=args.round),
        "",
        texts.partner_card(args.partner),
        "",
    ]
    markup = None
    if _is_link(args.url):
        lines.append(_("Join the call: {url}").format(url=texts.esc(args.url)))
        markup = _keyboard([InlineKeyboardButton(text=_("📹 Join the call"), url=args.url)])
    else:
        lines.append(_("Your call link: {url}").format(url=texts.esc(args.url)))
    lines.append(_("The call ends at {time}.").format(time=texts.clock(args.ends_at)))
    return Outgoing("\n".join(lines), markup, args.partner.photo_file_id, Priority.URGENT)


def partner_profile(args: n.SendPartnerProfile) -> Outgoing:
    text = _("Your partner in round {round}:").format(round=args.round) + "\n\n" + texts.partner_card(args.partner)
    return Outgoing(text, photo=args.partner.photo_file_id)


def rating_request(args: n.SendPartnerRatingRequest) -> Outgoing:
    text = _("How was your date with {name} (round {round})? Your answer stays private.").format(
        name=f"<b>{texts.esc(args.partner.name)}</b>", round=args.round
    )

    def button(label: str, verdict: Verdict) -> InlineKeyboardButton:
        data = RateCb(event_id=args.event_id, partner_id=args.partner.user_id, verdict=verdict)
        return InlineKeyboardButton(text=label, callback_data=data.pack())

    markup = _keyboard(
        [button(_("👍 Like"), Verdict.LIKE), button(_("👎 Dislike"), Verdict.DISLIKE)],
        [button(_("🚩 Report"), Verdict.REPORT)],
    )
    return Outgoing(text, markup)


def break_message(args: n.SendBreakMessage) -> Outgoing:
    next_time = texts.clock(args.next_round_starts_at) if args.next_round_starts_at else None
    if args.sitting_out:
        if args.next_round is not None and next_time:
            text = _(
                "You sit out round {round}: there is no partner for you in this one. "
                "Your next date is in round {next} at {time}."
            ).format(round=args.round, next=args.next_round, time=next_time)
        elif args.next_round is not None:
            text = _(
                "You sit out round {round}: there is no partner for you in this one. Your next date is in round {next}."
            ).format(round=args.round, next=args.next_round)
        else:
            text = _("You sit out round {round}: there is no partner for you in this one.").format(round=args.round)
    elif next_time:
        text = _("Round {round} is over. Take a short break: the next round starts at {time}.").format(
            round=args.round, time=next_time
        )
    else:
        text = _("Round {round} is over. Take a short break.").format(round=args.round)
    return Outgoing("☕ " + text)


def final_message(args: n.SendFinalDatingMessage) -> Outgoing:
    dates = _("You had {n} date tonight.", "You had {n} dates tonight.", n=args.dates).format(n=args.dates)
    return Outgoing(
        _("🎉 That's all for tonight! {dates} Thank you for coming. Your matches will follow shortly.").format(
            dates=dates
        )
    )


def contact_link(match: n.MatchContact) -> str:
    name = texts.esc(match.name)
    if match.username:
        return f'<a href="https://t.me/{texts.esc(match.username)}">{name}</a> (@{texts.esc(match.username)})'
    return f'<a href="tg://user?id={match.user_id}">{name}</a>'


def matches(args: n.SendMatchMessage) -> Outgoing:
    if not args.matches:
        return Outgoing(_("No mutual likes this time. Don't be sad: come to the next event! /date"))
    lines = [_("💘 You liked each other! Write to them:"), ""]
    lines += [f"• {contact_link(match)}" for match in args.matches]
    return Outgoing("\n".join(lines))


def ready_request(args: n.SendReadyForEventRequest) -> Outgoing:
    text = _("The event starts at {time}. Are you ready?").format(time=texts.clock(args.starts_at))
    markup = _keyboard(
        [InlineKeyboardButton(text=_("🙋 I'm ready"), callback_data=ReadyCb(event_id=args.event_id).pack())]
    )
    return Outgoing(text, markup)


def will_take_part(args: n.SendUserWillTakePartInEvent) -> Outgoing:
    when = texts.when(args.starts_at)
    if args.rounds:
        text = _(
            "You are in! The event on {when} has {rounds} rounds. The call links will come here, in this chat."
        ).format(when=when, rounds=args.rounds)
    else:
        text = _(
            "You are in! The event on {when} will take place. The call links will come here, in this chat."
        ).format(when=when)
    return Outgoing("✅ " + text)


def will_not_take_part(args: n.SendUserWillNotTakePartInEvent) -> Outgoing:
    text = _("Sorry, this time there is no place for you in the event. We hope to see you at the next one: /date")
    return Outgoing(text)


def event_cancelled(args: n.EventCancelled) -> Outgoing:
    text = _("Unfortunately, the event on {when} is cancelled. We are sorry! Other events: /date").format(
        when=texts.when(args.starts_at)
    )
    return Outgoing(text)


RENDERERS: dict[str, Callable[[Any], Outgoing]] = {
    "confirm_registration": confirm_request,
    "send_rules": rules,
    "invite_to_meeting": invite,
    "send_partner_profile": partner_profile,
    "send_partner_rating_request": rating_request,
    "send_break_message": break_message,
    "send_final_dating_message": final_message,
    "send_match_message": matches,
    "send_ready_for_event_request": ready_request,
    "send_user_will_take_part_in_event": will_take_part,
    "send_user_will_not_take_part_in_event": will_not_take_part,
    "event_cancelled": event_cancelled,
}
"""Command name → renderer; covers every name of ``contracts.notifications.BOT_COMMANDS``."""


def render(command: Command[Any]) -> Outgoing:
    return RENDERERS[command.name](command.args)
