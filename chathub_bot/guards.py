"""Guards in front of every handler: private chats only, and a per-user limit on how fast anyone is served.

- In a group the bot says one line (a link to a private chat with it) and does nothing else: a group is
  public, and a participant's partner, link and matches are not.
- Each user has a token bucket (a burst of ``burst`` updates, refilled at ``per_second``): a flood of 100
  messages in 10 seconds reaches the handlers, and so datemaker, at most about 20 times. The first update
  refused is told to slow down, once until the user calms down; the rest are dropped (a button press is
  answered, silently).
  Buckets of users who went quiet are forgotten, so memory stays bounded.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message, TelegramObject, User
from aiogram.utils.i18n import gettext as _

from chathub_bot import metrics

logger = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def _chat_type(event: TelegramObject) -> str | None:
    if isinstance(event, Message):
        return event.chat.type
    if isinstance(event, CallbackQuery) and isinstance(event.message, Message):
        return event.message.chat.type
    return None


async def _tell(event: TelegramObject, text: str) -> None:
    """A short answer: a message to a message, a toast to a button press."""
    with contextlib.suppress(TelegramAPIError):
        if isinstance(event, (CallbackQuery, Message)):
            await event.answer(text)


class PrivateChatsOnly(BaseMiddleware):
    """Outside a private chat, one line pointing to one, and nothing else."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        chat_type = _chat_type(event)
        if chat_type is None or chat_type == ChatType.PRIVATE:
            return await handler(event, data)
        metrics.GUARDED.labels("group").inc()
        bot: Bot = data["bot"]
        me = await bot.me()
        link = f"https://t.me/{me.username}?start=private"
        text = _("Let's talk in private, where your profile and dates stay yours: {link}").format(link=link)
        await _tell(event, text)
        return None


@dataclass
class _Bucket:
    tokens: float
    at: float
    warned: bool = False


class FloodGuard(BaseMiddleware):
    """Per-user token bucket: ``burst`` updates at once, ``per_second`` after that."""

    def __init__(
        self,
        burst: int = 10,
        per_second: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        capacity: int = 100_000,
    ) -> None:
        self.burst = burst
        self.per_second = per_second
        self._clock = clock
        self._capacity = capacity
        self._buckets: collections.OrderedDict[int, _Bucket] = collections.OrderedDict()

    @property
    def size(self) -> int:
        """Users the guard remembers (those quiet long enough are forgotten)."""
        return len(self._buckets)

    def allow(self, user_id: int) -> tuple[bool, bool]:
        """(served, warn): whether the user's update goes on, and whether to tell them to slow down."""
        now = self._clock()
        bucket = self._buckets.pop(user_id, None)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.per_second)
        bucket.at = now
        if bucket.tokens >= self.burst:  # calm again: a new flood is told again
            bucket.warned = False
        self._buckets[user_id] = bucket  # most recent last
        self._forget_quiet(now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True, False
        warn = not bucket.warned
        bucket.warned = True
        return False, warn

    def _forget_quiet(self, now: float) -> None:
        """Drop the buckets of users quiet long enough to be full again (and the oldest beyond capacity)."""
        refill = self.burst / self.per_second
        while self._buckets:
            user_id, oldest = next(iter(self._buckets.items()))
            if now - oldest.at < refill and len(self._buckets) <= self._capacity:
                break
            del self._buckets[user_id]

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        served, warn = self.allow(user.id)
        if served:
            return await handler(event, data)
        metrics.GUARDED.labels("flood").inc()
        if warn:
            logger.info("user %s is sending too fast; updates dropped for a while", user.id)
            await _tell(event, _("You are going too fast. Please wait a few seconds and try again."))
        elif isinstance(event, CallbackQuery):
            with contextlib.suppress(TelegramAPIError):
                await event.answer()
        return None


def setup_guards(dispatcher: Dispatcher, flood: FloodGuard | None = None) -> FloodGuard:
    """Put the guards in front of messages and button presses (after the locale, before any handler)."""
    flood = FloodGuard() if flood is None else flood
    for observer in (dispatcher.message, dispatcher.callback_query):
        observer.outer_middleware(flood)
        observer.outer_middleware(PrivateChatsOnly())
    return flood
