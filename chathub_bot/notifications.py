"""Messages for datemaker's commands to the bot (docs/protocol.md section 5; ``contracts.notifications``).

One renderer per notification class (``@renders(n.SomeNotification)``): :func:`render` turns a received
notification into what to send: text (HTML), buttons and an optional photo. Call it inside an i18n locale
context. How urgently it goes is the notification class's ``priority``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo
from aiogram.utils.i18n import gettext as _

from chathub_bot import texts
from chathub_bot.callbacks import AbsentCb, ConfirmCb, OfferCb, RateCb, RateMenuCb, ReadyCb, ReportCb
from contracts import notifications as n
from contracts.commands import Verdict

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendered:
    """One message to send to the user."""

    text: str
    markup: InlineKeyboardMarkup | None = None
    photo: str | None = None
    """A file id: the text then goes as the photo's caption."""


NotificationT = TypeVar("NotificationT", bound=n.Notification)
Renderer = Callable[[Any], Rendered]
RENDERERS: dict[type[n.Notification], Renderer] = {}
"""Notification class → its renderer; covers every class of ``contracts.notifications.NOTIFICATIONS``."""


def renders(notification: type[NotificationT]) -> Callable[[Callable[[NotificationT], Rendered]], Renderer]:
    """Register the decorated function as the renderer of ``notification``."""

    def register(renderer: Callable[[NotificationT], Rendered]) -> Renderer:
        if notification in RENDERERS:
            raise TypeError(f"{notification.type} has two renderers")
        RENDERERS[notification] = renderer
        return renderer

    return register


OPENS_WEBAPP: dict[type[n.Notification], tuple[Callable[[], str], str]] = {
    n.InviteToMeeting: (lambda: _("📱 Open tonight"), "tonight"),
}
"""Notifications that get a button opening the Mini App (when it has an address): its label, and the view."""


def render(notification: n.Notification, *, webapp_url: str | None = None) -> Rendered:
    """What to send for ``notification``; with ``webapp_url``, some get a button opening the Mini App."""
    rendered = RENDERERS[type(notification)](notification)
    opens = OPENS_WEBAPP.get(type(notification))
    if webapp_url and opens is not None:
        label, view = opens
        separator = "&" if "?" in webapp_url else "?"
        button = InlineKeyboardButton(text=label(), web_app=WebAppInfo(url=f"{webapp_url}{separator}view={view}"))
        rows = [*(rendered.markup.inline_keyboard if rendered.markup else []), [button]]
        rendered = Rendered(rendered.text, InlineKeyboardMarkup(inline_keyboard=rows), rendered.photo)
    return rendered


def _keyboard(*rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=list(rows))


def _is_link(url: str) -> bool:
    return url.startswith(("https://", "http://")) and len(url) <= 2048 and " " not in url


@renders(n.ConfirmRegistrationRequest)
def confirm_request(args: n.ConfirmRegistrationRequest) -> Rendered:
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
    return Rendered(text, markup)


@renders(n.SendRules)
def rules(args: n.SendRules) -> Rendered:
    minutes = max(1, round(args.round_seconds / 60))
    head = _("The event starts at {time}: {rounds} rounds of {minutes} min, with {pause} s breaks.").format(
        time=texts.clock(args.starts_at), rounds=args.rounds, minutes=minutes, pause=args.break_seconds
    )
    return Rendered(f"{head}\n\n{texts.rules()}")


@renders(n.InviteToMeeting)
def invite(args: n.InviteToMeeting) -> Rendered:
    head = _("🔔 <b>Round {round}</b>: your date is starting!").format(round=args.round)
    if args.rescue:
        head = _(
            "🔁 <b>Round {round}</b>: your partner did not come, so here is someone new for the rest of the round!"
        ).format(round=args.round)
    lines = [head, "", texts.partner_card(args.partner), ""]
    absent = InlineKeyboardButton(
        text=_("🙈 My partner isn't here"), callback_data=AbsentCb(event_id=args.event_id, round=args.round).pack()
    )
    if _is_link(args.url):
        lines.append(_("Join the call: {url}").format(url=texts.esc(args.url)))
        markup = _keyboard([InlineKeyboardButton(text=_("📹 Join the call"), url=args.url)], [absent])
    else:
        lines.append(_("Your call link: {url}").format(url=texts.esc(args.url)))
        markup = _keyboard([absent])
    lines.append(_("The call ends at {time}.").format(time=texts.clock(args.ends_at)))
    starters = texts.conversation_starters()
    if args.starter is not None and 0 <= args.starter < len(starters):
        lines += ["", _("💬 To start with: {prompt}").format(prompt=starters[args.starter])]
    return Rendered("\n".join(lines), markup, args.partner.photo_file_id)


@renders(n.LinkDelayed)
def link_delayed(args: n.LinkDelayed) -> Rendered:
    text = _(
        "⏳ Round {round} has begun, and your call link with {name} is running a little late. It comes here the "
        "moment it is ready: please stay close."
    ).format(round=args.round, name=f"<b>{texts.esc(args.partner.name)}</b>")
    return Rendered(text)


@renders(n.SendTimeLeft)
def time_left(args: n.SendTimeLeft) -> Rendered:
    minutes, seconds = divmod(max(args.seconds_left, 0), 60)
    if minutes and seconds:
        left = _("{m} min {s} s").format(m=minutes, s=seconds)
    elif minutes:
        left = _("{m} min").format(m=minutes)
    else:
        left = _("{s} s").format(s=seconds)
    return Rendered(_("⏱ {left} left in round {round}: time to say goodbye.").format(left=left, round=args.round))


@renders(n.SendPartnerProfile)
def partner_profile(args: n.SendPartnerProfile) -> Rendered:
    text = _("Your partner in round {round}:").format(round=args.round) + "\n\n" + texts.partner_card(args.partner)
    return Rendered(text, photo=args.partner.photo_file_id)


@renders(n.SendPartnerRatingRequest)
def rating_request(args: n.SendPartnerRatingRequest) -> Rendered:
    text = _("How was your date with {name} (round {round})? Your answer stays private.").format(
        name=f"<b>{texts.esc(args.partner.name)}</b>", round=args.round
    )
    return Rendered(text, rating_keyboard(args.event_id, args.partner.user_id))


def rating_keyboard(event_id: int, partner_id: int) -> InlineKeyboardMarkup:
    """Like, dislike or report a date's partner."""

    def button(label: str, verdict: Verdict) -> InlineKeyboardButton:
        data = RateCb(event_id=event_id, partner_id=partner_id, verdict=verdict)
        return InlineKeyboardButton(text=label, callback_data=data.pack())

    return _keyboard(
        [button(_("👍 Like"), Verdict.LIKE), button(_("👎 Dislike"), Verdict.DISLIKE)],
        [button(_("🚩 Report"), Verdict.REPORT)],
    )


def report_keyboard(event_id: int, partner_id: int) -> InlineKeyboardMarkup:
    """Why the partner is reported (one reason a row), and back to the verdicts."""
    rows = [
        [
            InlineKeyboardButton(
                text=label,
                callback_data=ReportCb(event_id=event_id, partner_id=partner_id, reason=reason).pack(),
            )
        ]
        for reason, label in texts.report_reasons().items()
    ]
    back = RateMenuCb(event_id=event_id, partner_id=partner_id).pack()
    return _keyboard(*rows, [InlineKeyboardButton(text=_("« Back"), callback_data=back)])


@renders(n.SendBreakMessage)
def break_message(args: n.SendBreakMessage) -> Rendered:
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
    return Rendered("☕ " + text)


@renders(n.SendFinalDatingMessage)
def final_message(args: n.SendFinalDatingMessage) -> Rendered:
    dates = _("You had {n} date tonight.", "You had {n} dates tonight.", n=args.dates).format(n=args.dates)
    return Rendered(
        _("🎉 That's all for tonight! {dates} Thank you for coming. Your matches will follow shortly.").format(
            dates=dates
        )
    )


def contact_link(match: n.MatchContact) -> str:
    name = texts.esc(match.name)
    if match.username:
        return f'<a href="https://t.me/{texts.esc(match.username)}">{name}</a> (@{texts.esc(match.username)})'
    return f'<a href="tg://user?id={match.user_id}">{name}</a>'


@renders(n.SendMatchMessage)
def matches(args: n.SendMatchMessage) -> Rendered:
    if not args.matches:
        return Rendered(_("No mutual likes this time. Don't be sad: come to the next event! /date"))
    lines = [_("💘 You liked each other! Write to them:"), ""]
    lines += [f"• {contact_link(match)}" for match in args.matches]
    return Rendered("\n".join(lines))


@renders(n.SendReadyForEventRequest)
def ready_request(args: n.SendReadyForEventRequest) -> Rendered:
    text = _("The event starts at {time}. Are you ready?").format(time=texts.clock(args.starts_at))
    markup = _keyboard(
        [InlineKeyboardButton(text=_("🙋 I'm ready"), callback_data=ReadyCb(event_id=args.event_id).pack())]
    )
    return Rendered(text, markup)


@renders(n.SendUserWillTakePartInEvent)
def will_take_part(args: n.SendUserWillTakePartInEvent) -> Rendered:
    when = texts.when(args.starts_at)
    if args.rounds:
        text = _(
            "You are in! The event on {when} has {rounds} rounds. The call links will come here, in this chat."
        ).format(when=when, rounds=args.rounds)
    else:
        text = _(
            "You are in! The event on {when} will take place. The call links will come here, in this chat."
        ).format(when=when)
    return Rendered("✅ " + text)


@renders(n.SendUserWillNotTakePartInEvent)
def will_not_take_part(args: n.SendUserWillNotTakePartInEvent) -> Rendered:
    if args.reason == "waitlisted":
        text = _(
            "The event is planned, and no seat freed up for you: you stay on its waiting list and will not take "
            "part this time. We hope to see you at the next one: /date"
        )
    elif args.reason == "not_confirmed":
        text = _("You did not confirm your seat in time, so the event was planned without you. Next events: /date")
    else:
        text = _("Sorry, this time there is no place for you in the event. We hope to see you at the next one: /date")
    return Rendered(text)


@renders(n.EventCancelled)
def event_cancelled(args: n.EventCancelled) -> Rendered:
    text = _("Unfortunately, the event on {when} is cancelled. We are sorry! Other events: /date").format(
        when=texts.when(args.starts_at)
    )
    return Rendered(text)


@renders(n.OfferExtraSeat)
def extra_seat_offer(args: n.OfferExtraSeat) -> Rendered:
    text = _(
        "🎉 Good news! The event on {full} is full, so we are opening another one on {when}. A seat there is kept "
        "for you until {deadline}: take it with the button below. Until you do, you keep your place on the "
        "waiting list of the first event."
    ).format(
        full=texts.when(args.from_starts_at, args.timezone),
        when=texts.when(args.starts_at, args.timezone),
        deadline=texts.when(args.deadline, args.timezone),
    )
    button = InlineKeyboardButton(text=_("✅ Take the seat"), callback_data=OfferCb(event_id=args.event_id).pack())
    return Rendered(text, _keyboard([button]))


@renders(n.EventUnderfilled)
def event_underfilled(args: n.EventUnderfilled) -> Rendered:
    text = _(
        "⚠️ For organizers: the event on {when} is far from full, {registered} of {capacity} seats taken. "
        "Confirmations open on {opens}: there is still time to invite people or to cancel it."
    ).format(
        when=texts.when(args.starts_at, args.timezone),
        registered=args.registered,
        capacity=args.capacity,
        opens=texts.when(args.confirm_opens_at, args.timezone),
    )
    details = _("Event {event_id}").format(event_id=args.event_id)
    if args.schedule_id is not None:
        details = _("Event {event_id}, schedule {schedule_id}").format(
            event_id=args.event_id, schedule_id=args.schedule_id
        )
    return Rendered(f"{text}\n{details}")


@renders(n.UserBanned)
def user_banned(args: n.UserBanned) -> Rendered:
    text = _(
        "An organizer has closed your access to our events after a report. You can no longer register, "
        "and your upcoming registrations are cancelled."
    )
    return Rendered(text)


@renders(n.UserUnbanned)
def user_unbanned(args: n.UserUnbanned) -> Rendered:
    return Rendered(_("An organizer has restored your access to our events: you can register again. /date"))


@renders(n.NoPartnerFree)
def no_partner_free(args: n.NoPartnerFree) -> Rendered:
    return Rendered(texts.no_partner_free(args.next_round, args.next_starts_at))


@renders(n.DateGivenUp)
def date_given_up(args: n.DateGivenUp) -> Rendered:
    return Rendered(texts.date_given_up(args.round, args.next_round, args.next_starts_at))
