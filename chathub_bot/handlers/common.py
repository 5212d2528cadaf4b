"""Helpers the feature routers share: who acts, editing a message in place, answering buttons."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from chathub_bot import texts
from chathub_bot.gateway import Actor, DatemakerError, DatemakerGateway, DatemakerUnavailable
from contracts import commands as c

logger = logging.getLogger(__name__)

HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


class Handlers:
    """A feature's handlers, declared with decorators like a ``Router``'s; :meth:`router` builds a fresh
    ``Router`` holding them (a router joins only one dispatcher, and tests build several)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._entries: list[tuple[str, tuple[Any, ...], Callable[..., Any]]] = []

    def _on(self, observer: str, filters: tuple[Any, ...]) -> Callable[[HandlerT], HandlerT]:
        def register(handler: HandlerT) -> HandlerT:
            self._entries.append((observer, filters, handler))
            return handler

        return register

    def message(self, *filters: Any) -> Callable[[HandlerT], HandlerT]:
        return self._on("message", filters)

    def callback_query(self, *filters: Any) -> Callable[[HandlerT], HandlerT]:
        return self._on("callback_query", filters)

    def errors(self, *filters: Any) -> Callable[[HandlerT], HandlerT]:
        return self._on("errors", filters)

    def router(self) -> Router:
        router = Router(name=self.name)
        for observer, filters, handler in self._entries:
            getattr(router, observer).register(handler, *filters)
        return router


def actor_of(event: Message | CallbackQuery) -> Actor:
    """The acting user (always the update's ``from_user``), their chat, and the bot message to edit."""
    if event.from_user is None:
        raise ValueError("an update without a user")
    if isinstance(event, CallbackQuery):
        message = event.message if isinstance(event.message, Message) else None
        chat_id = message.chat.id if message else event.from_user.id
        return Actor(event.from_user.id, chat_id, message.message_id if message else None)
    return Actor(event.from_user.id, event.chat.id)


async def ask(
    gateway: DatemakerGateway,
    actor: Actor,
    command: c.Command[Any],
    say: Callable[[str], Awaitable[Any]],
    explain: Callable[[DatemakerError], str] = lambda exc: texts.error_text(exc.code),
) -> Any:
    """Send a command to datemaker and return its reply; None, after ``say``-ing why, when datemaker is busy or
    refused it (``explain`` words the refusal)."""
    try:
        return await gateway.request(command, actor)
    except DatemakerUnavailable:
        await say(texts.busy())
    except DatemakerError as exc:
        await say(explain(exc))
    return None


def message_of(callback: CallbackQuery) -> Message | None:
    """The button's message, when it is still accessible."""
    return callback.message if isinstance(callback.message, Message) else None


async def edit(message: Message, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Edit a bot message in place (a text, or a photo's caption); an unchanged one is left alone."""
    try:
        if message.photo:
            await message.edit_caption(caption=text, reply_markup=markup)
        else:
            await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as exc:
        if "message is not modified" not in exc.message:
            raise


async def show(callback: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Show ``text`` in the button's message (or a new one when that message is gone)."""
    message = message_of(callback)
    if message is not None:
        await edit(message, text, markup)
    elif callback.from_user is not None and callback.bot is not None:
        await callback.bot.send_message(callback.from_user.id, text, reply_markup=markup)


async def toast(callback: CallbackQuery, text: str | None = None, *, alert: bool = False) -> None:
    """Answer a button press (stops the client's spinner); a query too old to answer is ignored."""
    with contextlib.suppress(TelegramBadRequest):
        await callback.answer(text, show_alert=alert)
