"""/date: the rules, upcoming events as buttons, registering and cancelling, all edited into one message."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiogram import F
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from chathub_bot import texts
from chathub_bot.callbacks import EventAction, EventCb, MenuAction, MenuCb
from chathub_bot.gateway import Actor, DatemakerError, DatemakerGateway, DatemakerUnavailable
from chathub_bot.handlers.common import Handlers, actor_of, show, toast
from contracts import commands as c

logger = logging.getLogger(__name__)
router = Handlers("dating")

Screen = tuple[str, InlineKeyboardMarkup]
ACTIVE = ("registered", "confirmed", "waitlisted")


def status_text(status: str | None) -> str:
    if status == "confirmed":
        return _("✅ confirmed")
    if status == "registered":
        return _("✅ you are registered")
    if status == "waitlisted":
        return _("⏳ on the waiting list")
    return ""


def back_button() -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_("« Back to events"), callback_data=MenuCb(action=MenuAction.EVENTS).pack())


def back_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[back_button()]])


def menu(events: list[c.EventSummary], banner: str | None = None) -> Screen:
    """The dating menu: rules in short, the events with their start time and spots left."""
    lines = []
    if banner:
        lines += [banner, ""]
    lines.append(_("<b>Speed dating</b>"))
    lines.append(
        _(
            "A few short video dates in one evening. Like someone and, if they like you back, you both get "
            "each other's contacts. Full rules: the Rules button."
        )
    )
    lines.append(_("Tap an event to register. Tap an event marked ✅ to manage your registration."))
    lines.append("")
    builder = InlineKeyboardBuilder()
    if not events:
        lines.append(_("There are no upcoming events yet. Please check again later."))
    else:
        lines.append(_("Upcoming events:"))
    for event in events:
        when = texts.when(event.starts_at, event.timezone)
        spots = texts.spots(event.spots_left) if event.spots_left > 0 else _("only the waiting list is open")
        status = status_text(event.my_status)
        ages = texts.age_range(event.min_age, event.max_age)
        ages_part = " — " + _("ages {ages}").format(ages=ages) if ages else ""
        lines.append(f"• {when}{ages_part} — {spots}" + (f" — {status}" if status else ""))
        short = texts.when_short(event.starts_at, event.timezone)
        if event.my_status in ACTIVE:
            label = f"✅ {short}"
            data = EventCb(action=EventAction.OPEN, event_id=event.event_id)
        else:
            label = _("📝 {when} · {spots}").format(when=short, spots=spots)
            data = EventCb(action=EventAction.REGISTER, event_id=event.event_id)
        builder.row(InlineKeyboardButton(text=label, callback_data=data.pack()))
    if any(event.my_status in ACTIVE for event in events):
        builder.row(
            InlineKeyboardButton(
                text=_("Cancel all my registrations"), callback_data=MenuCb(action=MenuAction.CANCEL_ALL).pack()
            )
        )
    builder.row(
        InlineKeyboardButton(text=_("Rules"), callback_data=MenuCb(action=MenuAction.RULES).pack()),
        InlineKeyboardButton(text=_("🔄 Refresh"), callback_data=MenuCb(action=MenuAction.EVENTS).pack()),
    )
    return "\n".join(lines), builder.as_markup()


async def menu_screen(gateway: DatemakerGateway, actor: Actor, banner: str | None = None) -> Screen:
    return menu((await gateway.request(c.ListEvents(), actor)).events, banner)


def event_screen(event: c.EventSummary, banner: str | None = None) -> Screen:
    """One event: when, your registration, spots left; register or cancel."""
    lines = [banner, ""] if banner else []
    lines.append(f"<b>{texts.when(event.starts_at, event.timezone)}</b>")
    if event.my_status in ACTIVE:
        lines.append(_("Your registration: {status}").format(status=status_text(event.my_status)))
    ages = texts.age_range(event.min_age, event.max_age)
    if ages:
        lines.append(_("For ages {ages}").format(ages=ages))
    lines.append(texts.spots(event.spots_left))
    builder = InlineKeyboardBuilder()
    if event.my_status in ACTIVE:
        cancel = EventCb(action=EventAction.CANCEL, event_id=event.event_id)
        builder.row(InlineKeyboardButton(text=_("❌ Cancel my registration"), callback_data=cancel.pack()))
    else:
        register = EventCb(action=EventAction.REGISTER, event_id=event.event_id)
        builder.row(InlineKeyboardButton(text=_("📝 Register"), callback_data=register.pack()))
    builder.row(back_button())
    return "\n".join(lines), builder.as_markup()


def registered_screen(result: c.RegisterResult) -> Screen | None:
    """The event after a registration, with what became of it; None from a datemaker older than the event
    summary in the reply."""
    if result.event is None:
        return None
    when = texts.when(result.event.starts_at, result.event.timezone)
    if result.status == "waitlisted":
        banner = _(
            "⏳ The event on {when} is full, so you are on its waiting list. We will tell you if a spot frees up."
        )
    elif result.status == "already_registered":
        banner = _("You are already registered for the event on {when}.")
    else:
        banner = _("✅ You are registered for the event on {when}! A day before it we will ask you to confirm.")
    return event_screen(result.event, banner.format(when=when))


def _find(events: list[c.EventSummary], event_id: int) -> c.EventSummary | None:
    return next((event for event in events if event.event_id == event_id), None)


def _retry(data: str | None) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(text=_("Try again"), callback_data=data)]] if data else []
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [back_button()]])


async def respond(callback: CallbackQuery, build: Callable[[], Awaitable[Screen]]) -> None:
    """Answer the press at once, then edit the outcome of ``build`` (or a polite failure) into the message."""
    await toast(callback)
    try:
        text, markup = await build()
    except DatemakerUnavailable:
        text, markup = texts.busy(), _retry(callback.data)
    except DatemakerError as exc:
        logger.info("%s refused for user %s: %s", callback.data, actor_of(callback).user_id, exc)
        text, markup = texts.error_text(exc.code), back_keyboard()
    await show(callback, text, markup)


@router.message(Command("date"))
async def on_date(message: Message, gateway: DatemakerGateway) -> None:
    try:
        text, markup = await menu_screen(gateway, actor_of(message))
    except DatemakerUnavailable:
        text, markup = texts.busy(), _retry(MenuCb(action=MenuAction.EVENTS).pack())
    except DatemakerError as exc:
        text, markup = texts.error_text(exc.code), _retry(MenuCb(action=MenuAction.EVENTS).pack())
    await message.answer(text, reply_markup=markup)


@router.callback_query(MenuCb.filter(F.action == MenuAction.EVENTS))
async def on_events(callback: CallbackQuery, gateway: DatemakerGateway) -> None:
    await respond(callback, lambda: menu_screen(gateway, actor_of(callback)))


@router.callback_query(MenuCb.filter(F.action == MenuAction.RULES))
async def on_rules(callback: CallbackQuery) -> None:
    await toast(callback)
    await show(callback, texts.rules(), back_keyboard())


@router.callback_query(EventCb.filter(F.action == EventAction.REGISTER))
async def on_register(callback: CallbackQuery, callback_data: EventCb, gateway: DatemakerGateway) -> None:
    actor = actor_of(callback)

    async def build() -> Screen:
        result = await gateway.request(c.RegisterEvent(event_id=callback_data.event_id), actor)
        return registered_screen(result) or await menu_screen(gateway, actor)

    await respond(callback, build)


@router.callback_query(EventCb.filter(F.action == EventAction.OPEN))
async def on_open(callback: CallbackQuery, callback_data: EventCb, gateway: DatemakerGateway) -> None:
    actor = actor_of(callback)

    async def build() -> Screen:
        events = (await gateway.request(c.ListEvents(), actor)).events
        event = _find(events, callback_data.event_id)
        if event is None:
            return menu(events, texts.error_text("event_not_found"))
        return event_screen(event)

    await respond(callback, build)


@router.callback_query(EventCb.filter(F.action == EventAction.CANCEL))
async def on_cancel(callback: CallbackQuery, callback_data: EventCb, gateway: DatemakerGateway) -> None:
    actor = actor_of(callback)

    async def build() -> Screen:
        event = _find((await gateway.request(c.ListEvents(), actor)).events, callback_data.event_id)
        when = texts.when(event.starts_at, event.timezone) if event else ""
        confirmed = EventCb(action=EventAction.CANCEL_CONFIRMED, event_id=callback_data.event_id)
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text=_("Yes, cancel it"), callback_data=confirmed.pack())],
                [InlineKeyboardButton(text=_("No, keep it"), callback_data=MenuCb(action=MenuAction.EVENTS).pack())],
            ]
        )
        return _("Cancel your registration for the event on {when}?").format(when=when), keyboard

    await respond(callback, build)


@router.callback_query(EventCb.filter(F.action == EventAction.CANCEL_CONFIRMED))
async def on_cancel_confirmed(callback: CallbackQuery, callback_data: EventCb, gateway: DatemakerGateway) -> None:
    actor = actor_of(callback)

    async def build() -> Screen:
        await gateway.request(c.CancelRegistration(event_id=callback_data.event_id), actor)
        return await menu_screen(gateway, actor, _("Your registration is cancelled."))

    await respond(callback, build)


@router.callback_query(MenuCb.filter(F.action == MenuAction.CANCEL_ALL))
async def on_cancel_all(callback: CallbackQuery) -> None:
    await toast(callback)
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("Yes, cancel all"), callback_data=MenuCb(action=MenuAction.CANCEL_ALL_CONFIRMED).pack()
                )
            ],
            [InlineKeyboardButton(text=_("No, keep them"), callback_data=MenuCb(action=MenuAction.EVENTS).pack())],
        ]
    )
    await show(callback, _("Cancel all your registrations for upcoming events?"), keyboard)


@router.callback_query(MenuCb.filter(F.action == MenuAction.CANCEL_ALL_CONFIRMED))
async def on_cancel_all_confirmed(callback: CallbackQuery, gateway: DatemakerGateway) -> None:
    actor = actor_of(callback)

    async def build() -> Screen:
        result = await gateway.request(c.CancelRegistration(event_id=0), actor)
        count = len(result.cancelled)
        if count:
            banner = _("Cancelled {n} registration.", "Cancelled {n} registrations.", n=count).format(n=count)
        else:
            banner = _("You had no registrations to cancel.")
        return await menu_screen(gateway, actor, banner)

    await respond(callback, build)
