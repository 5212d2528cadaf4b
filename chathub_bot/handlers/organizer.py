"""The organizer's console in Telegram: /events, /event N, /new (a short dialog), /cancel N, /board N (one message
updated in place), /reports (with ban and dismiss buttons), /unban USER_ID, /schedules (with pause, resume and end
buttons), /schedule N (its events) and /newschedule (a short dialog), through the ``organizer_*`` commands.
datemaker decides who is an organizer (``not_an_organizer`` for anyone else); organizers get these commands in their
own chat's menu."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

from aiogram import Bot, F
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from chathub_bot import texts, validation
from chathub_bot.callbacks import OrganizerAction, OrganizerCb
from chathub_bot.gateway import Actor, DatemakerError, DatemakerGateway, DatemakerUnavailable
from chathub_bot.handlers.common import Handlers, actor_of, ask, message_of, show, toast
from chathub_bot.handlers.fallback import stale_button
from chathub_bot.state import LiveBoard, LiveBoards
from chathub_bot.validation import InvalidAnswer
from contracts import commands as c
from contracts.envelope import INT64_MAX
from contracts.errors import ErrorCode

logger = logging.getLogger(__name__)
router = Handlers("organizer")
dialog = Handlers("organizer_dialog")
"""The answers of /new's dialog: tried after the commands of every feature (so /cancel still stops it)."""

TIMEZONES = ("Europe/Moscow", "Europe/Kaliningrad", "Asia/Yekaterinburg", "Asia/Novosibirsk", "Asia/Vladivostok", "UTC")
"""The time zones offered as buttons in /new (any other may be typed)."""
BOARD_REFRESH_SECONDS = 15.0
BOARD_REFRESH_FOR_SECONDS = 3 * 3600.0
"""/board keeps its message up to date this often, for this long (or until the event is over)."""
_NUMBER = re.compile(r"^\d{1,19}$")

_board_tasks: dict[int, asyncio.Task[None]] = {}
"""Chat id → the task keeping that chat's last /board up to date (one per chat)."""


def organizer_menu() -> list[BotCommand]:
    """The organizer's commands, added to their chat's menu (participants never see them)."""
    return [
        BotCommand(command="events", description=_("Organizer: events")),
        BotCommand(command="new", description=_("Organizer: create an event")),
        BotCommand(command="reports", description=_("Organizer: open reports")),
        BotCommand(command="unban", description=_("Organizer: lift a ban (/unban USER_ID)")),
        BotCommand(command="board", description=_("Organizer: live board of an event (/board N)")),
        BotCommand(command="schedules", description=_("Organizer: weekly schedules")),
        BotCommand(command="schedule", description=_("Organizer: a schedule and its events (/schedule N)")),
        BotCommand(command="newschedule", description=_("Organizer: create a weekly schedule")),
    ]


async def offer_organizer_menu(bot: Bot, gateway: DatemakerGateway, actor: Actor) -> None:
    """If datemaker says the user is an organizer, put the organizer's commands in their chat's menu (on top of the
    participant's); if it says they are not (any more), take them off; anything failing here stops nothing."""
    from chathub_bot.handlers.start import participant_menu

    try:
        await gateway.request(c.OrganizerListEvents(), actor)
        await bot.set_my_commands(
            [*participant_menu(), *organizer_menu()], scope=BotCommandScopeChat(chat_id=actor.chat_id)
        )
    except DatemakerError as exc:
        if exc.code == ErrorCode.NOT_AN_ORGANIZER:
            await _withdraw_organizer_menu(bot, actor.chat_id)
    except (DatemakerUnavailable, TelegramAPIError):
        return


async def _withdraw_organizer_menu(bot: Bot | None, chat_id: int) -> None:
    """The chat's own menu goes: the participant's, everyone's, shows again (a removed organizer's chat)."""
    if bot is None:
        return
    with contextlib.suppress(TelegramAPIError):
        await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id=chat_id))


async def _ask(
    gateway: DatemakerGateway, actor: Actor, command: c.Command[Any], say: Callable[[str], Awaitable[Any]]
) -> Any:
    """Send an organizer command; None (after telling the user why) when it was refused or datemaker is busy."""
    return await ask(gateway, actor, command, say, _refusal)


def _refusal(exc: DatemakerError) -> str:
    """Why an organizer command was refused, with datemaker's detail where it says more than the code."""
    if exc.code in (ErrorCode.NOT_AN_ORGANIZER, ErrorCode.EVENT_NOT_FOUND):
        return texts.error_text(exc.code)
    return texts.error_text(exc.code) + f"\n{texts.esc(exc.message)}"


async def _pressed(callback: CallbackQuery, gateway: DatemakerGateway, command: c.Command[Any]) -> Any:
    """The reply to the command of a console button; None after a toast saying why (busy, or refused: a
    ``bad_request`` is a button naming what does not exist, so it gets the answer for buttons out of date)."""
    try:
        return await gateway.request(command, actor_of(callback))
    except DatemakerUnavailable:
        await toast(callback, texts.busy(), alert=True)
    except DatemakerError as exc:
        refusal = stale_button() if exc.code == ErrorCode.BAD_REQUEST else texts.error_text(exc.code)
        await toast(callback, refusal, alert=True)
    return None


def _names_one(action: OrganizerAction) -> Any:
    """The filter of a button of ``action`` that names an event or a person: one naming nothing (forged) is left to
    the fallback's answer for buttons out of date."""
    return OrganizerCb.filter((F.action == action) & (F.target > 0))


def _event_id(command: CommandObject) -> int | None:
    """The id (an event's or a user's) the command names: a positive 64-bit integer, else None."""
    args = (command.args or "").strip()
    if not _NUMBER.match(args) or not 0 < int(args) <= INT64_MAX:
        return None
    return int(args)


def _line(event: c.OrganizerEvent) -> str:
    ages = texts.age_range(event.min_age, event.max_age)
    parts = [
        f"<b>{event.event_id}</b>",
        texts.when(event.starts_at, event.timezone),
        event.state,
        _("{registered}/{capacity} seats, {confirmed} confirmed, {waitlisted} waiting").format(
            registered=event.registered,
            capacity=event.capacity,
            confirmed=event.confirmed,
            waitlisted=event.waitlisted,
        ),
    ]
    if ages:
        parts.append(_("ages {ages}").format(ages=ages))
    if event.schedule_id is not None:
        parts.append(_("schedule {schedule_id}").format(schedule_id=event.schedule_id))
    return " · ".join(parts)


@router.message(Command("events"))
async def on_events(message: Message, gateway: DatemakerGateway) -> None:
    result = await _ask(gateway, actor_of(message), c.OrganizerListEvents(), message.answer)
    if result is None:
        return
    if not result.events:
        await message.answer(_("No upcoming events. Create one with /new"))
        return
    builder = InlineKeyboardBuilder()
    for event in result.events:
        builder.button(
            text=f"{event.event_id} · {texts.when_short(event.starts_at, event.timezone)}",
            callback_data=OrganizerCb(action=OrganizerAction.SHOW, target=event.event_id),
        )
    builder.adjust(2)
    lines = (
        [_("<b>Events</b>")] + [_line(e) for e in result.events] + ["", _("/event N: details, /board N: live board")]
    )
    await message.answer("\n".join(lines), reply_markup=builder.as_markup())


def _event_card(board: c.EventBoard) -> tuple[str, InlineKeyboardMarkup]:
    event = board.event
    lines = [_line(event)]
    counts = ", ".join(f"{status} {n}" for status, n in sorted(board.counts.items())) or _("no registrations")
    lines.append(_("Registrations: {counts}").format(counts=counts))
    if board.rounds_planned:
        lines.append(_("Planned: {rounds} rounds").format(rounds=board.rounds_planned))
    preview = board.preview
    if preview is not None:
        lines += ["", _("<b>Balance preview</b> (a plan from the current registrations)")]
        lines.append(_("{dates} dates for {people} people").format(dates=preview.dates, people=preview.participants))
        per_person = sorted(preview.dates_per_person.values())
        if per_person:
            lines.append(_("Dates per person: {low} to {high}").format(low=per_person[0], high=per_person[-1]))
        sit_outs = ", ".join(f"{texts.gender_label(g)} {n}" for g, n in sorted(preview.sit_outs.items()))
        lines.append(_("Sit-out rounds: {sit_outs}").format(sit_outs=sit_outs or _("none")))
        if preview.match_nobody:
            names = {str(p.user_id): p.name for p in board.people}
            nobody = ", ".join(texts.esc(names.get(str(u), str(u))) for u in preview.match_nobody)
            lines.append(_("Match nobody: {people}").format(people=nobody))
    builder = InlineKeyboardBuilder()
    builder.button(text=_("📋 Board"), callback_data=OrganizerCb(action=OrganizerAction.BOARD, target=event.event_id))
    if event.state in ("NOT_STARTED", "REG_CONFIRM", "READY", "RUNNING"):
        builder.button(
            text=_("❌ Cancel the event"),
            callback_data=OrganizerCb(action=OrganizerAction.CANCEL, target=event.event_id),
        )
    return "\n".join(lines), builder.as_markup()


@router.message(Command("event"))
async def on_event(message: Message, command: CommandObject, gateway: DatemakerGateway) -> None:
    event_id = _event_id(command)
    if event_id is None:
        await message.answer(_("Which event? Send /event N, with N from /events"))
        return
    board = await _ask(gateway, actor_of(message), c.OrganizerShowEvent(event_id=event_id), message.answer)
    if board is not None:
        text, markup = _event_card(board)
        await message.answer(text, reply_markup=markup)


@router.callback_query(_names_one(OrganizerAction.SHOW))
async def on_show(callback: CallbackQuery, callback_data: OrganizerCb, gateway: DatemakerGateway) -> None:
    await toast(callback)
    say = _sayer(callback)
    board = await _ask(gateway, actor_of(callback), c.OrganizerShowEvent(event_id=callback_data.target), say)
    if board is not None:
        text, markup = _event_card(board)
        assert callback.bot is not None
        await callback.bot.send_message(actor_of(callback).chat_id, text, reply_markup=markup)


def _sayer(callback: CallbackQuery) -> Callable[[str], Awaitable[Any]]:
    async def say(text: str) -> None:
        assert callback.bot is not None
        await callback.bot.send_message(actor_of(callback).chat_id, text)

    return say


# --- the live board ------------------------------------------------------------------------------------------


def _mark(value: bool | None) -> str:
    return "?" if value is None else ("✅" if value else "—")


def board_text(board: c.EventBoard, now: datetime) -> str:
    """The board as one message: the summary, then one line per person."""
    event, summary = board.event, board.summary
    lines = [f"<b>{event.event_id}</b> · {texts.when(event.starts_at, event.timezone)} · {event.state}"]
    if summary.round is not None:
        lines.append(
            _(
                "Round {round}: {running} dates running, {waiting} waiting for a link, {alone} people alone in a call"
            ).format(
                round=summary.round,
                running=summary.dates_running,
                waiting=summary.waiting_for_link,
                alone=summary.alone_in_call,
            )
        )
    else:
        lines.append(_("No round is running."))
    lines.append(_("person · confirmed · seated · partner · link · in the call · ratings"))
    people = [p for p in board.people if p.status not in ("cancelled", "declined")]
    if summary.round is not None:  # during a round, who needs a look first: no link yet, then not in the call
        people.sort(key=lambda p: 0 if p.seated and p.link_sent is False else 1 if p.in_call is False else 2)
    footer = _("Updated at {time} UTC").format(time=now.astimezone(UTC).strftime("%H:%M:%S"))
    rows = [
        f"{texts.esc(p.name)} ({p.status}) · {_mark(p.confirmed)} · {_mark(p.seated)} · "
        f"{texts.esc(p.partner.name) if p.partner else '—'} · {_mark(p.link_sent)} · {_mark(p.in_call)} · "
        f"{p.ratings_given}"
        for p in people
    ]
    return texts.fitting(lines, rows, [footer])


def _board_markup(event_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("🔄 Refresh"), callback_data=OrganizerCb(action=OrganizerAction.BOARD, target=event_id))
    return builder.as_markup()


@router.message(Command("board"))
async def on_board(
    message: Message, command: CommandObject, gateway: DatemakerGateway, boards: LiveBoards, i18n: I18n, bot: Bot
) -> None:
    event_id = _event_id(command)
    if event_id is None:
        await message.answer(_("Which event? Send /board N, with N from /events"))
        return
    actor = actor_of(message)
    board = await _ask(gateway, actor, c.OrganizerShowEvent(event_id=event_id), message.answer)
    if board is None:
        return
    sent = await message.answer(board_text(board, datetime.now(UTC)), reply_markup=_board_markup(event_id))
    live = LiveBoard(
        actor.chat_id, actor.user_id, sent.message_id, event_id, time.time() + BOARD_REFRESH_FOR_SECONDS,
        i18n.current_locale,
    )  # fmt: skip
    await keep_up_to_date(bot, gateway, boards, i18n, live)


@router.callback_query(_names_one(OrganizerAction.BOARD))
async def on_board_button(callback: CallbackQuery, callback_data: OrganizerCb, gateway: DatemakerGateway) -> None:
    await toast(callback)
    actor = actor_of(callback)
    board = await _ask(gateway, actor, c.OrganizerShowEvent(event_id=callback_data.target), _sayer(callback))
    if board is not None:
        await show(callback, board_text(board, datetime.now(UTC)), _board_markup(callback_data.target))


async def stop_boards() -> None:
    """Stop keeping boards up to date (the bot is stopping: the next process takes them up again)."""
    tasks = list(_board_tasks.values())
    _board_tasks.clear()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def resume_boards(bot: Bot, gateway: DatemakerGateway, boards: LiveBoards, i18n: I18n) -> int:
    """Take up the boards an earlier process kept up to date and whose time is not up; how many."""
    kept = await boards.all()
    for board in kept:
        await keep_up_to_date(bot, gateway, boards, i18n, board)
    return len(kept)


async def keep_up_to_date(
    bot: Bot, gateway: DatemakerGateway, boards: LiveBoards, i18n: I18n, board: LiveBoard
) -> None:
    """Refresh the board's message in place every few seconds while the event runs, until ``board.until`` (the
    chat's newest board only). It is remembered in ``boards``: after a restart the next process goes on with it."""
    previous = _board_tasks.pop(board.chat_id, None)
    if previous is not None:
        previous.cancel()
    try:
        await boards.keep(board)
    except Exception as exc:  # the state store is down: this process still refreshes it
        logger.warning("board %d in chat %d not remembered: %r", board.event_id, board.chat_id, exc)
    task = asyncio.get_running_loop().create_task(_refresh(bot, gateway, boards, i18n, board))
    _board_tasks[board.chat_id] = task
    task.add_done_callback(
        lambda done: _board_tasks.pop(board.chat_id, None) if _board_tasks.get(board.chat_id) is done else None
    )


async def _refresh(bot: Bot, gateway: DatemakerGateway, boards: LiveBoards, i18n: I18n, board: LiveBoard) -> None:
    actor = Actor(board.user_id, board.chat_id, board.message_id)
    while time.time() < board.until:
        await asyncio.sleep(BOARD_REFRESH_SECONDS)
        try:
            shown = await gateway.request(c.OrganizerShowEvent(event_id=board.event_id), actor)
        except DatemakerUnavailable as exc:
            logger.info("board %d in chat %d not refreshed: %r", board.event_id, board.chat_id, exc)
            continue
        except DatemakerError:  # no longer an organizer, or the event is gone
            break
        with i18n.context(), i18n.use_locale(board.locale or i18n.default_locale):
            text, markup = board_text(shown, datetime.now(UTC)), _board_markup(board.event_id)
        try:
            await bot.edit_message_text(
                text=text, chat_id=board.chat_id, message_id=board.message_id, reply_markup=markup
            )
        except TelegramBadRequest as exc:
            if "message is not modified" not in exc.message:  # the message is gone: nothing left to refresh
                logger.info("board %d in chat %d ends: %s", board.event_id, board.chat_id, exc.message)
                break
        except TelegramAPIError as exc:
            logger.info("board %d in chat %d not refreshed: %r", board.event_id, board.chat_id, exc)
        if shown.event.state in ("FINISHED", "SKIPPED", "CANCELLED"):
            break
    with contextlib.suppress(Exception):
        await boards.forget(board.chat_id)


# --- cancelling an event -------------------------------------------------------------------------------------


def _cancel_question(event_id: int) -> tuple[str, InlineKeyboardMarkup]:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Yes, cancel event {event_id}").format(event_id=event_id),
        callback_data=OrganizerCb(action=OrganizerAction.CANCEL_CONFIRMED, target=event_id),
    )
    return _("Cancel event {event_id}? Everyone registered is told.").format(event_id=event_id), builder.as_markup()


@router.message(Command("cancel", magic=F.args.regexp(r"^\s*\d{1,19}\s*$")))
async def on_cancel_event(message: Message, command: CommandObject, gateway: DatemakerGateway) -> None:
    event_id = _event_id(command)
    if event_id is None:
        await message.answer(_("Which event? Send /cancel N, with N from /events"))
        return
    board = await _ask(gateway, actor_of(message), c.OrganizerShowEvent(event_id=event_id), message.answer)
    if board is not None:
        text, markup = _cancel_question(event_id)
        await message.answer(f"{_line(board.event)}\n\n{text}", reply_markup=markup)


@router.callback_query(_names_one(OrganizerAction.CANCEL))
async def on_cancel_button(callback: CallbackQuery, callback_data: OrganizerCb) -> None:
    await toast(callback)
    text, markup = _cancel_question(callback_data.target)
    assert callback.bot is not None
    await callback.bot.send_message(actor_of(callback).chat_id, text, reply_markup=markup)


@router.callback_query(_names_one(OrganizerAction.CANCEL_CONFIRMED))
async def on_cancel_confirmed(callback: CallbackQuery, callback_data: OrganizerCb, gateway: DatemakerGateway) -> None:
    await toast(callback)
    event_id = callback_data.target
    result = await _ask(gateway, actor_of(callback), c.OrganizerCancelEvent(event_id=event_id), _sayer(callback))
    if result is not None:
        await show(
            callback,
            _("Event {event_id} is cancelled; {told} people will be told.").format(event_id=event_id, told=result.told),
        )


# --- reports and bans --------------------------------------------------------------------------------------


@router.message(Command("reports"))
async def on_reports(message: Message, gateway: DatemakerGateway) -> None:
    result = await _ask(gateway, actor_of(message), c.OrganizerListReports(), message.answer)
    if result is None:
        return
    if not result.reports:
        await message.answer(_("No open reports."))
        return
    lines = [_("<b>Open reports</b>")]
    builder = InlineKeyboardBuilder()
    banned_buttons: set[int] = set()
    for r in result.reports:
        line = _(
            "{at} · event {event_id}: {reporter} ({reporter_id}, reported {reporter_reported} times) reported "
            "{reported} ({reported_id}, reported {reported_before} times before): {reason}"
        ).format(
            at=texts.esc(r.at[:16].replace("T", " ")),
            event_id=r.event_id,
            reporter=texts.esc(r.reporter_name or "?"),
            reporter_id=r.reporter,
            reporter_reported=r.reporter_reported,
            reported=texts.esc(r.reported_name or "?"),
            reported_id=r.reported,
            reported_before=r.reported_before,
            reason=texts.report_reason(r.reason),
        )
        lines.append(f"#{r.report_id} · {line}")
        row = []
        if r.reported not in banned_buttons and len(banned_buttons) < 20:
            banned_buttons.add(r.reported)
            row.append(
                InlineKeyboardButton(
                    text=_("🚫 Ban {name}").format(name=(r.reported_name or str(r.reported))[:24]),
                    callback_data=OrganizerCb(action=OrganizerAction.BAN, target=r.reported).pack(),
                )
            )
        row.append(
            InlineKeyboardButton(
                text=_("✅ Dismiss #{report_id}").format(report_id=r.report_id),
                callback_data=OrganizerCb(action=OrganizerAction.DISMISS, target=r.report_id).pack(),
            )
        )
        builder.row(*row)
    footer = _("Dismiss closes a report (nobody is told; the two are still never paired). /unban USER_ID lifts a ban.")
    await message.answer(texts.fitting(lines[:1], lines[1:], [footer], sep="\n\n"), reply_markup=builder.as_markup())


@router.callback_query(_names_one(OrganizerAction.DISMISS))
async def on_dismiss(callback: CallbackQuery, callback_data: OrganizerCb, gateway: DatemakerGateway) -> None:
    """Dismiss a report, answered in the button's toast; its button leaves the list. A report that does not exist
    (a forged button) gets the answer for buttons out of date."""
    report_id = callback_data.target
    result = await _pressed(callback, gateway, c.OrganizerDismissReport(report_id=report_id))
    if result is None:
        return
    if result.already:
        await toast(callback, _("Report #{report_id} was dismissed already.").format(report_id=report_id))
    else:
        await toast(callback, _("Report #{report_id} is dismissed.").format(report_id=report_id))
    message = message_of(callback)
    if message is not None and message.reply_markup is not None:
        rows = [[b for b in row if b.callback_data != callback.data] for row in message.reply_markup.inline_keyboard]
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_reply_markup(reply_markup=InlineKeyboardMarkup(inline_keyboard=[r for r in rows if r]))


@router.message(Command("unban"))
async def on_unban(message: Message, command: CommandObject, gateway: DatemakerGateway) -> None:
    user_id = _event_id(command)
    if user_id is None:
        await message.answer(_("Whose ban? Send /unban USER_ID, with the user id from /reports"))
        return
    result = await _ask(gateway, actor_of(message), c.OrganizerUnbanUser(user_id=user_id), message.answer)
    if result is None:
        return
    if result.unbanned:
        await message.answer(
            _(
                "User {user_id} is no longer banned and may register again (they are not put back into the events "
                "the ban took them out of). They are told."
            ).format(user_id=user_id)
        )
    else:
        await message.answer(_("User {user_id} is not banned.").format(user_id=user_id))


@router.callback_query(_names_one(OrganizerAction.BAN))
async def on_ban(callback: CallbackQuery, callback_data: OrganizerCb) -> None:
    await toast(callback)
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Yes, ban {user_id}").format(user_id=callback_data.target),
        callback_data=OrganizerCb(action=OrganizerAction.BAN_CONFIRMED, target=callback_data.target),
    )
    assert callback.bot is not None
    await callback.bot.send_message(
        actor_of(callback).chat_id,
        _("Ban user {user_id}? They are told, taken out of upcoming events and can no longer register.").format(
            user_id=callback_data.target
        ),
        reply_markup=builder.as_markup(),
    )


@router.callback_query(_names_one(OrganizerAction.BAN_CONFIRMED))
async def on_ban_confirmed(callback: CallbackQuery, callback_data: OrganizerCb, gateway: DatemakerGateway) -> None:
    await toast(callback)
    ban = c.OrganizerBanUser(user_id=callback_data.target, reason="banned by an organizer after reports (/reports)")
    result = await _ask(gateway, actor_of(callback), ban, _sayer(callback))
    if result is not None:
        await show(
            callback,
            _("User {user_id} is banned; taken out of {n} upcoming events.").format(
                user_id=callback_data.target, n=len(result.removed_from)
            ),
        )


# --- /new: a short dialog --------------------------------------------------------------------------------


class NewEvent(StatesGroup):
    day = State()
    time = State()
    timezone = State()
    capacity = State()
    ages = State()


_DAY = re.compile(
    r"^(?:(?P<d>\d{1,2})[./](?P<m>\d{1,2})[./](?P<y>\d{4})|(?P<y2>\d{4})-(?P<m2>\d{1,2})-(?P<d2>\d{1,2}))$"
)
_TIME = re.compile(r"^(?P<h>\d{1,2})[:.](?P<mi>\d{2})$")


def _skip_markup() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Skip"), callback_data=OrganizerCb(action=OrganizerAction.SKIP))
    return builder.as_markup()


@router.message(Command("new"))
async def on_new(message: Message, state: FSMContext, gateway: DatemakerGateway) -> None:
    # Only organizers start the dialog: datemaker says who is one.
    if await _ask(gateway, actor_of(message), c.OrganizerListEvents(), message.answer) is None:
        return
    await state.set_state(NewEvent.day)
    await state.set_data({})
    await message.answer(_("A new event. Which day? Send it as DD.MM.YYYY. Send /cancel to stop."))


@dialog.message(NewEvent.day, F.text)
async def on_new_day(message: Message, state: FSMContext) -> None:
    match = _DAY.match((message.text or "").strip())
    day = None
    if match:
        y, m, d = (match["y"] or match["y2"]), (match["m"] or match["m2"]), (match["d"] or match["d2"])
        with contextlib.suppress(ValueError):
            day = date(int(y), int(m), int(d))
    if day is None or day < datetime.now(UTC).date():
        await message.answer(_("I could not read that day, or it is past. Send it as DD.MM.YYYY."))
        return
    await state.update_data(day=day.isoformat())
    await state.set_state(NewEvent.time)
    await message.answer(_("At what time does it start (local time)? For example 19:30."))


@dialog.message(NewEvent.time, F.text)
async def on_new_time(message: Message, state: FSMContext) -> None:
    await _time_then_zone(message, state, NewEvent.timezone)


async def _time_then_zone(message: Message, state: FSMContext, zone_question: State) -> None:
    """A dialog's start time (HH:MM, local), then its question of the time zone (/new's and /newschedule's)."""
    match = _TIME.match((message.text or "").strip())
    if match is None or int(match["h"]) > 23 or int(match["mi"]) > 59:
        await message.answer(_("I could not read that time. For example 19:30."))
        return
    await state.update_data(time=f"{int(match['h']):02d}:{match['mi']}")
    await state.set_state(zone_question)
    await message.answer(
        _("In which time zone? Choose one or type it, e.g. Europe/Samara."), reply_markup=_timezone_markup()
    )


def _timezone_markup() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for i, zone in enumerate(TIMEZONES):
        builder.button(text=zone, callback_data=OrganizerCb(action=OrganizerAction.TIMEZONE, target=i))
    builder.adjust(2)
    return builder.as_markup()


async def _after_timezone(respond: Callable[..., Awaitable[Any]], state: FSMContext, zone: str) -> None:
    await state.update_data(timezone=zone)
    await state.set_state(NewEvent.capacity)
    await respond(
        _("How many seats? Send a number from 2 to 10000, or press Skip for 20."), reply_markup=_skip_markup()
    )


@dialog.callback_query(NewEvent.timezone, OrganizerCb.filter(F.action == OrganizerAction.TIMEZONE))
async def on_new_timezone_button(callback: CallbackQuery, callback_data: OrganizerCb, state: FSMContext) -> None:
    await toast(callback)
    if not 0 <= callback_data.target < len(TIMEZONES):
        return
    assert callback.bot is not None
    chat = actor_of(callback).chat_id
    await _after_timezone(
        lambda text, **kw: callback.bot.send_message(chat, text, **kw), state, TIMEZONES[callback_data.target]
    )


def known_timezone(text: str | None) -> str | None:
    """The IANA time zone typed (``Europe/Moscow``), None when there is none by that name."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    zone = (text or "").strip()
    try:
        if len(zone) > 64 or not re.fullmatch(r"[A-Za-z_+\-/0-9]+", zone):
            raise ValueError(zone)
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
    return zone


@dialog.message(NewEvent.timezone, F.text)
async def on_new_timezone(message: Message, state: FSMContext) -> None:
    zone = known_timezone(message.text)
    if zone is None:
        await message.answer(_("I do not know that time zone. Type it like Europe/Moscow, or choose a button."))
        return
    await _after_timezone(message.answer, state, zone)


async def _after_capacity(respond: Callable[..., Awaitable[Any]], state: FSMContext, capacity: int | None) -> None:
    await state.update_data(capacity=capacity)
    await state.set_state(NewEvent.ages)
    await respond(
        _("Which ages may come? Send a range such as 25-40, or 30+, or press Skip for any age."),
        reply_markup=_skip_markup(),
    )


@dialog.message(NewEvent.capacity, F.text)
async def on_new_capacity(message: Message, state: FSMContext) -> None:
    text = (message.text or "").strip()
    if not re.fullmatch(r"\d{1,5}", text) or not 2 <= int(text) <= 10_000:
        await message.answer(_("Send a number from 2 to 10000, or press Skip for 20."), reply_markup=_skip_markup())
        return
    await _after_capacity(message.answer, state, int(text))


@dialog.message(NewEvent.ages, F.text)
async def on_new_ages(message: Message, state: FSMContext, gateway: DatemakerGateway) -> None:
    try:
        low, high = validation.parse_age_range(message.text)
    except InvalidAnswer:
        await message.answer(
            _("I could not read that range: two ages from 18 to 120, the smaller first."), reply_markup=_skip_markup()
        )
        return
    await _create(message.answer, actor_of(message), state, gateway, low, high)


@router.callback_query(OrganizerCb.filter(F.action == OrganizerAction.SKIP))
async def on_new_skip(callback: CallbackQuery, state: FSMContext, gateway: DatemakerGateway) -> None:
    await toast(callback)
    assert callback.bot is not None
    actor = actor_of(callback)

    async def respond(text: str, **kwargs: Any) -> Any:
        assert callback.bot is not None
        return await callback.bot.send_message(actor.chat_id, text, **kwargs)

    current = await state.get_state()
    if current == NewEvent.capacity.state:
        await _after_capacity(respond, state, None)
    elif current == NewEvent.ages.state:
        await _create(respond, actor, state, gateway, None, None)
    elif current == NewSchedule.capacity.state:
        await _create_schedule(respond, actor, state, gateway, None)
    else:
        await show(callback, _("This question is no longer open. Send /new to start again."))


async def _create(
    respond: Callable[..., Awaitable[Any]],
    actor: Actor,
    state: FSMContext,
    gateway: DatemakerGateway,
    min_age: int | None,
    max_age: int | None,
) -> None:
    data = await state.get_data()
    if not all(data.get(k) for k in ("day", "time", "timezone")):
        await state.clear()
        await respond(_("This dialog has expired. Send /new to start again."))
        return
    command = c.OrganizerCreateEvent(
        start=f"{data['day']} {data['time']}",
        timezone=data["timezone"],
        capacity=data.get("capacity"),
        min_age=min_age,
        max_age=max_age,
    )
    await state.clear()
    result = await _ask(gateway, actor, command, respond)
    if result is not None:
        await respond(
            _(
                "Event {event_id} is created: {day} {time} ({timezone}). It is open for registration. /event {event_id}"
            ).format(event_id=result.event_id, day=data["day"], time=data["time"], timezone=data["timezone"])
        )


@dialog.message(NewEvent.day)
@dialog.message(NewEvent.time)
@dialog.message(NewEvent.timezone)
@dialog.message(NewEvent.capacity)
@dialog.message(NewEvent.ages)
async def on_new_not_text(message: Message) -> None:
    await message.answer(_("Please answer with text, or send /cancel to stop."))


# --- schedules: /schedules and /newschedule ------------------------------------------------------------

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names as organizers type them in /newschedule (datemaker reads the same: ``mon,fri`` or ``daily``)."""
_SCHEDULE_STATES = {
    OrganizerAction.SCHEDULE_PAUSE: "pause",
    OrganizerAction.SCHEDULE_RESUME: "resume",
    OrganizerAction.SCHEDULE_END_CONFIRMED: "end",
}


def parse_weekdays(text: str | None) -> str | None:
    """``"Mon, fri"`` → ``"mon,fri"`` (Monday first, each once); ``"daily"``; None when it is not days of the week."""
    words = [word for word in re.split(r"[\s,;]+", (text or "").strip().lower()[:100]) if word]
    if words == ["daily"]:
        return "daily"
    if not words or len(words) > 7 or any(word not in WEEKDAYS for word in words):
        return None
    return ",".join(day for day in WEEKDAYS if day in words)


def _days(weekdays: list[str]) -> str:
    """``Mon, Fri`` (``пн, пт``), or every day."""
    from babel.dates import get_day_names

    if len(set(weekdays)) == 7:
        return _("every day")
    names = get_day_names("abbreviated", locale=texts.locale())
    return ", ".join(names[WEEKDAYS.index(day)] for day in weekdays if day in WEEKDAYS)


def _schedule_line(schedule: c.OrganizerSchedule) -> str:
    states = {"active": _("active"), "paused": _("paused"), "ended": _("ended")}
    parts = [
        f"<b>{schedule.schedule_id}</b>",
        _("{days} at {time} ({timezone})").format(
            days=_days(schedule.weekdays), time=schedule.local_time, timezone=texts.esc(schedule.timezone)
        ),
        states[schedule.state],
        _("{capacity} seats, keeps {horizon} events open").format(capacity=schedule.capacity, horizon=schedule.horizon),
    ]
    ages = texts.age_range(schedule.min_age, schedule.max_age)
    if ages:
        parts.append(_("ages {ages}").format(ages=ages))
    if schedule.next_starts_at:
        parts.append(_("next {when}").format(when=texts.when_short(schedule.next_starts_at, schedule.timezone)))
    return " · ".join(parts)


def _schedules_card(result: c.OrganizerScheduleList) -> tuple[str, InlineKeyboardMarkup | None]:
    if not result.schedules:
        return _("No schedules. Create a weekly one with /newschedule"), None
    builder = InlineKeyboardBuilder()
    for s in result.schedules:
        row = []
        if s.state == "active":
            row.append(
                InlineKeyboardButton(
                    text=_("⏸ Pause {schedule_id}").format(schedule_id=s.schedule_id),
                    callback_data=OrganizerCb(action=OrganizerAction.SCHEDULE_PAUSE, target=s.schedule_id).pack(),
                )
            )
        elif s.state == "paused":
            row.append(
                InlineKeyboardButton(
                    text=_("▶️ Resume {schedule_id}").format(schedule_id=s.schedule_id),
                    callback_data=OrganizerCb(action=OrganizerAction.SCHEDULE_RESUME, target=s.schedule_id).pack(),
                )
            )
        if s.state != "ended":
            row.append(
                InlineKeyboardButton(
                    text=_("⏹ End {schedule_id}").format(schedule_id=s.schedule_id),
                    callback_data=OrganizerCb(action=OrganizerAction.SCHEDULE_END, target=s.schedule_id).pack(),
                )
            )
        if row:
            builder.row(*row)
    footer = [
        "",
        _("Each keeps its next events open for registration. /schedule N: its events. /newschedule adds one."),
    ]
    lines = [_schedule_line(s) for s in result.schedules]
    return texts.fitting([_("<b>Schedules</b>")], lines, footer), builder.as_markup()


@router.message(Command("schedules"))
async def on_schedules(message: Message, gateway: DatemakerGateway) -> None:
    result = await _ask(gateway, actor_of(message), c.OrganizerListSchedules(), message.answer)
    if result is not None:
        text, markup = _schedules_card(result)
        await message.answer(text, reply_markup=markup)


@router.message(Command("schedule"))
async def on_schedule(message: Message, command: CommandObject, gateway: DatemakerGateway) -> None:
    schedule_id = _event_id(command)
    if schedule_id is None:
        await message.answer(_("Which schedule? Send /schedule N, with N from /schedules"))
        return
    details = await _ask(gateway, actor_of(message), c.OrganizerShowSchedule(schedule_id=schedule_id), message.answer)
    if details is not None:
        await message.answer(_schedule_card(details))


def _schedule_card(details: c.ScheduleDetails) -> str:
    """A schedule, its demand rules and its events (``datemaker schedules show``)."""
    schedule = details.schedule
    head = [_schedule_line(schedule)]
    if details.extra_when_waitlist is not None:
        head.append(_("An extra night when {count} are waiting.").format(count=details.extra_when_waitlist))
    if details.alert_below_percent is not None:
        head.append(_("Organizers are told about events less than {percent} percent full.").format(
            percent=details.alert_below_percent
        ))  # fmt: skip
    if not details.events:
        return "\n".join([*head, "", _("No events yet.")])
    head += ["", _("Its events:")]
    lines = []
    for e in details.events:
        line = _("{event_id} · {when} · {state} · {registered}/{capacity}, {waitlisted} waiting").format(
            event_id=e.event_id,
            when=texts.when_short(e.starts_at, schedule.timezone),
            state=e.state,
            registered=e.registered,
            capacity=e.capacity,
            waitlisted=e.waitlisted,
        )
        if e.extra_for is not None:
            line += " · " + _("extra night for {event_id}: {accepted} of {offers} offered seats taken").format(
                event_id=e.extra_for, accepted=e.accepted, offers=e.offers
            )
        lines.append(line)
    return texts.fitting(head, lines, ["", _("/event N: an event's details, /board N: its live board")])


@router.callback_query(_names_one(OrganizerAction.SCHEDULE_END))
async def on_schedule_end(callback: CallbackQuery, callback_data: OrganizerCb) -> None:
    await toast(callback)
    schedule_id = callback_data.target
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Yes, end schedule {schedule_id}").format(schedule_id=schedule_id),
        callback_data=OrganizerCb(action=OrganizerAction.SCHEDULE_END_CONFIRMED, target=schedule_id),
    )
    assert callback.bot is not None
    await callback.bot.send_message(
        actor_of(callback).chat_id,
        _("End schedule {schedule_id} for good? It makes no more events; those it made stay.").format(
            schedule_id=schedule_id
        ),
        reply_markup=builder.as_markup(),
    )


@router.callback_query(_names_one(OrganizerAction.SCHEDULE_PAUSE))
@router.callback_query(_names_one(OrganizerAction.SCHEDULE_RESUME))
@router.callback_query(_names_one(OrganizerAction.SCHEDULE_END_CONFIRMED))
async def on_schedule_state(callback: CallbackQuery, callback_data: OrganizerCb, gateway: DatemakerGateway) -> None:
    """Pause, resume or end a schedule, answered in the button's toast; the list is shown again in place (the
    confirmation of End says it is done). A schedule that does not exist (a forged button) or cannot go there any
    more gets the answer for buttons out of date."""
    actor = actor_of(callback)
    schedule_id = callback_data.target
    command = c.OrganizerSetScheduleState(schedule_id=schedule_id, action=_SCHEDULE_STATES[callback_data.action])
    result = await _pressed(callback, gateway, command)
    if result is None:
        return
    done = {
        "paused": _("Schedule {schedule_id} is paused: it makes no events until resumed."),
        "active": _("Schedule {schedule_id} is running again."),
        "ended": _("Schedule {schedule_id} has ended; the events it made stay."),
    }[result.state].format(schedule_id=schedule_id)
    await toast(callback, done)
    if callback_data.action == OrganizerAction.SCHEDULE_END_CONFIRMED:
        await show(callback, done)
        return
    try:
        listing = await gateway.request(c.OrganizerListSchedules(), actor)
    except (DatemakerError, DatemakerUnavailable):
        return
    await show(callback, *_schedules_card(listing))


class NewSchedule(StatesGroup):
    days = State()
    time = State()
    timezone = State()
    capacity = State()


@router.message(Command("newschedule"))
async def on_new_schedule(message: Message, state: FSMContext, gateway: DatemakerGateway) -> None:
    # Only organizers start the dialog: datemaker says who is one.
    if await _ask(gateway, actor_of(message), c.OrganizerListSchedules(), message.answer) is None:
        return
    await state.set_state(NewSchedule.days)
    await state.set_data({})
    await message.answer(
        _(
            "A new weekly schedule. On which days? For example mon,fri (mon tue wed thu fri sat sun), or daily. "
            "Send /cancel to stop."
        )
    )


@dialog.message(NewSchedule.days, F.text)
async def on_new_schedule_days(message: Message, state: FSMContext) -> None:
    days = parse_weekdays(message.text)
    if days is None:
        await message.answer(_("I could not read those days. For example mon,fri, or daily."))
        return
    await state.update_data(days=days)
    await state.set_state(NewSchedule.time)
    await message.answer(_("At what time do its events start (local time)? For example 19:30."))


@dialog.message(NewSchedule.time, F.text)
async def on_new_schedule_time(message: Message, state: FSMContext) -> None:
    await _time_then_zone(message, state, NewSchedule.timezone)


async def _after_schedule_timezone(respond: Callable[..., Awaitable[Any]], state: FSMContext, zone: str) -> None:
    await state.update_data(timezone=zone)
    await state.set_state(NewSchedule.capacity)
    await respond(
        _("How many seats at each event? Send a number from 2 to 10000, or press Skip for 20."),
        reply_markup=_skip_markup(),
    )


@dialog.callback_query(NewSchedule.timezone, OrganizerCb.filter(F.action == OrganizerAction.TIMEZONE))
async def on_new_schedule_timezone_button(
    callback: CallbackQuery, callback_data: OrganizerCb, state: FSMContext
) -> None:
    await toast(callback)
    if not 0 <= callback_data.target < len(TIMEZONES):
        return
    assert callback.bot is not None
    chat = actor_of(callback).chat_id
    await _after_schedule_timezone(
        lambda text, **kw: callback.bot.send_message(chat, text, **kw), state, TIMEZONES[callback_data.target]
    )


@dialog.message(NewSchedule.timezone, F.text)
async def on_new_schedule_timezone(message: Message, state: FSMContext) -> None:
    zone = known_timezone(message.text)
    if zone is None:
        await message.answer(_("I do not know that time zone. Type it like Europe/Moscow, or choose a button."))
        return
    await _after_schedule_timezone(message.answer, state, zone)


@dialog.message(NewSchedule.capacity, F.text)
async def on_new_schedule_capacity(message: Message, state: FSMContext, gateway: DatemakerGateway) -> None:
    text = (message.text or "").strip()
    if not re.fullmatch(r"\d{1,5}", text) or not 2 <= int(text) <= 10_000:
        await message.answer(_("Send a number from 2 to 10000, or press Skip for 20."), reply_markup=_skip_markup())
        return
    await _create_schedule(message.answer, actor_of(message), state, gateway, int(text))


async def _create_schedule(
    respond: Callable[..., Awaitable[Any]],
    actor: Actor,
    state: FSMContext,
    gateway: DatemakerGateway,
    capacity: int | None,
) -> None:
    data = await state.get_data()
    await state.clear()
    if not all(data.get(k) for k in ("days", "time", "timezone")):
        await respond(_("This dialog has expired. Send /newschedule to start again."))
        return
    command = c.OrganizerAddSchedule(days=data["days"], time=data["time"], timezone=data["timezone"], capacity=capacity)
    result = await _ask(gateway, actor, command, respond)
    if result is None:
        return
    first = ", ".join(texts.when_short(start, data["timezone"]) for start in result.first_starts)
    await respond(
        _(
            "Schedule {schedule_id} is created: {days} at {time} ({timezone}). Its first events ({first}) open for "
            "registration within a minute. /schedules"
        ).format(
            schedule_id=result.schedule_id,
            days=_days(list(WEEKDAYS) if data["days"] == "daily" else data["days"].split(",")),
            time=data["time"],
            timezone=texts.esc(data["timezone"]),
            first=first or "—",
        )
    )


@dialog.message(NewSchedule.days)
@dialog.message(NewSchedule.time)
@dialog.message(NewSchedule.timezone)
@dialog.message(NewSchedule.capacity)
async def on_new_schedule_not_text(message: Message) -> None:
    await message.answer(_("Please answer with text, or send /cancel to stop."))
