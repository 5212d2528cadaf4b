"""/start (a greeting; the profile dialog for a new user), /help and /cancel."""

from __future__ import annotations

import logging

from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import BotCommand, Message
from aiogram.utils.i18n import gettext as _

from chathub_bot import texts
from chathub_bot.gateway import DatemakerError, DatemakerGateway, DatemakerUnavailable, profile_of
from chathub_bot.handlers.common import Handlers, actor_of
from chathub_bot.handlers.profile import begin, responder

logger = logging.getLogger(__name__)
router = Handlers("start")


def participant_menu() -> list[BotCommand]:
    """The commands in everyone's menu (in the current locale)."""
    return [
        BotCommand(command="date", description=_("Upcoming events")),
        BotCommand(command="now", description=_("Your date now or next tonight")),
        BotCommand(command="matches", description=_("Your mutual matches")),
        BotCommand(command="profile", description=_("Your profile")),
        BotCommand(command="help", description=_("What I can do")),
    ]


def help_text() -> str:
    return _(
        "/date: upcoming events, register or cancel\n"
        "/now: your date now or next tonight\n"
        "/matches: your mutual matches\n"
        "/profile: your profile, and changing it\n"
        "/delete_me: delete your profile and data\n"
        "/cancel: stop filling in the profile\n"
        "/help: this list"
    )


@router.message(CommandStart())
async def on_start(message: Message, state: FSMContext, gateway: DatemakerGateway) -> None:
    await state.clear()
    name = texts.esc(message.from_user.first_name if message.from_user else "")
    greeting = _(
        "Hi, {name}! I am Chathub, a speed-dating bot: short video dates with new people, and their contacts "
        "when you like each other."
    ).format(name=name)
    try:
        profile = await profile_of(gateway, actor_of(message))
    except (DatemakerUnavailable, DatemakerError):
        await message.answer(greeting + "\n\n" + texts.busy())
        return
    if profile is None:
        await begin(state, responder(message), greeting + "\n" + _("First, let's fill in your profile."))
        return
    await message.answer(_("Welcome back, {name}!").format(name=texts.esc(profile.name)) + "\n\n" + help_text())
    if message.bot is not None:
        from chathub_bot.handlers.organizer import offer_organizer_menu

        await offer_organizer_menu(message.bot, gateway, actor_of(message))


@router.message(Command("help"))
async def on_help(message: Message) -> None:
    await message.answer(help_text())


@router.message(Command("cancel"))
async def on_cancel(message: Message, state: FSMContext) -> None:
    if await state.get_state() is None:
        await message.answer(_("There is nothing to cancel.") + "\n\n" + help_text())
        return
    await state.clear()
    await message.answer(_("Stopped. Nothing was changed.") + "\n\n" + help_text())
