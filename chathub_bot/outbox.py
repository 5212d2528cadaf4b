"""The one sender of every message-producing Telegram call: pacing, priorities and retries.

Telegram allows about 30 messages per second per bot and about 1 per second per chat, and answers
more with HTTP 429 and ``retry_after``, which aiogram raises as :class:`TelegramRetryAfter` without
retrying. :class:`OutboxMiddleware` is a request middleware of the bot's session: every ``send*`` /
``edit*`` call, whether a handler's ``message.answer()`` or a command from datemaker, is queued in
the :class:`Outbox`, which starts it when both limits allow, highest priority first.

The limits are kept exactly, whatever the network latency: a call holds its global slot (and its chat)
from the moment it starts until one window after Telegram answered it. Telegram counts a call somewhere
between those two moments, so any window Telegram looks at holds no more calls than the limit.

Retries: a 429 is waited out (``retry_after``) and retried, without limit; network and server errors are
retried with backoff up to ``max_attempts``; every other error (403 blocked, 400 bad request) goes
straight back to the caller, who decides (the inbox acks and counts an undeliverable message).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from chathub_bot import metrics

logger = logging.getLogger(__name__)

T = TypeVar("T")


_OUTCOMES: tuple[tuple[type[TelegramAPIError], str], ...] = (
    (TelegramRetryAfter, "retry_after"),
    (TelegramForbiddenError, "forbidden"),
    (TelegramBadRequest, "bad_request"),
    (TelegramNetworkError, "network_error"),
    (TelegramServerError, "server_error"),
    (TelegramAPIError, "api_error"),
)
"""The ``outcome`` label of a failed Telegram call, most specific first."""


class Priority(IntEnum):
    """Lower goes first."""

    URGENT = 0
    """Time-critical: meeting links (``invite_to_meeting``)."""
    INTERACTIVE = 1
    """The answer to something a user just did (the default for handlers)."""
    NORMAL = 2
    """Other commands from datemaker: reminders, results."""


_current_priority: ContextVar[Priority] = ContextVar("outbox_priority", default=Priority.INTERACTIVE)


@contextlib.contextmanager
def priority(level: Priority) -> Iterator[None]:
    """Telegram calls made inside this block are queued with ``level``."""
    token = _current_priority.set(level)
    try:
        yield
    finally:
        _current_priority.reset(token)


def current_priority() -> Priority:
    return _current_priority.get()


_UNPACED = frozenset({"sendChatAction"})


def is_paced(api_method: str) -> bool:
    """Whether a Bot API method produces or changes a message, and so counts against the limits."""
    return api_method.startswith(("send", "edit", "copy", "forward")) and api_method not in _UNPACED


RETRYABLE = (TelegramNetworkError, TelegramServerError)
"""Errors worth another attempt (with backoff, bounded)."""


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    chat: Hashable = field(compare=False)
    send: Callable[[], Awaitable[Any]] = field(compare=False)
    future: asyncio.Future[Any] = field(compare=False)
    attempts: int = field(default=0, compare=False)


@dataclass
class _Chat:
    jobs: list[_Job] = field(default_factory=list)
    """A heap: this chat's waiting calls, by priority then arrival."""
    in_flight: bool = False
    free_at: float = 0.0
    """When the chat may take its next call."""
    offered: tuple[int, int] | None = None
    """The (priority, seq) of the head job last pushed to the ready heap."""


class Outbox:
    """Paces calls globally (``global_rate`` per second) and per chat (``chat_rate`` per second)."""

    def __init__(
        self,
        *,
        global_rate: float = 30.0,
        chat_rate: float = 1.0,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 10.0,
    ) -> None:
        self.global_slots = max(1, int(global_rate))
        self.window = self.global_slots / global_rate
        self.chat_interval = 1.0 / chat_rate
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._seq = itertools.count()
        self._chats: dict[Hashable, _Chat] = {}
        self._ready: list[tuple[int, int, Hashable]] = []
        self._sleeping: list[tuple[float, int, Hashable]] = []
        self._releases: list[float] = []
        self._in_flight = 0
        self._queued = 0
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- public -------------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Calls waiting to start."""
        return self._queued

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def start(self) -> None:
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="outbox")

    async def submit(self, chat: Hashable, send: Callable[[], Awaitable[T]], level: Priority | None = None) -> T:
        """Queue ``send`` for ``chat``; its result once Telegram accepted it, or the error that ended it."""
        self.start()
        loop = asyncio.get_running_loop()
        job = _Job(
            int(level if level is not None else current_priority()), next(self._seq), chat, send, loop.create_future()
        )
        self._push(job, loop.time())
        return await job.future

    async def drain(self, timeout: float) -> bool:
        """Wait until nothing is queued or in flight; whether that happened within ``timeout``."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Stop: calls still queued or in flight are cancelled."""
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None
        for task in list(self._tasks):
            task.cancel()
        for chat in self._chats.values():
            for job in chat.jobs:
                job.future.cancel()
            chat.jobs.clear()
        self._queued = 0
        metrics.OUTBOX_DEPTH.set(0)

    # --- scheduling ---------------------------------------------------------------------------

    def _push(self, job: _Job, now: float) -> None:
        chat = self._chats.get(job.chat)
        if chat is None:
            chat = self._chats[job.chat] = _Chat()
        heapq.heappush(chat.jobs, job)
        self._queued += 1
        self._idle.clear()
        metrics.OUTBOX_DEPTH.set(self._queued)
        self._offer(job.chat, chat, now)
        self._wakeup.set()

    def _offer(self, key: Hashable, chat: _Chat, now: float) -> None:
        """Put the chat where the scheduler will look for it: ready now, or asleep until it is free."""
        if chat.in_flight or not chat.jobs:
            return
        if chat.free_at > now:
            heapq.heappush(self._sleeping, (chat.free_at, next(self._seq), key))
            return
        head = chat.jobs[0]
        if chat.offered != (head.priority, head.seq):
            chat.offered = (head.priority, head.seq)
            heapq.heappush(self._ready, (head.priority, head.seq, key))

    def _global_wait(self, now: float) -> float | None:
        """0 when a global slot is free; else how long until one frees (None: when a call finishes)."""
        while self._releases and self._releases[0] <= now:
            heapq.heappop(self._releases)
        if self._in_flight + len(self._releases) < self.global_slots:
            return 0.0
        return self._releases[0] - now if self._releases else None

    def _next_ready(self) -> tuple[Hashable, _Chat] | None:
        while self._ready:
            prio, seq, key = heapq.heappop(self._ready)
            chat = self._chats.get(key)
            if chat is None or chat.in_flight or chat.offered != (prio, seq):
                continue
            chat.offered = None
            if chat.jobs and (chat.jobs[0].priority, chat.jobs[0].seq) == (prio, seq):
                return key, chat
        return None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wakeup.clear()
            now = loop.time()
            while self._sleeping and self._sleeping[0][0] <= now:
                _, _, key = heapq.heappop(self._sleeping)
                chat = self._chats.get(key)
                if chat is None:
                    continue
                if not chat.jobs and not chat.in_flight and chat.free_at <= now:
                    del self._chats[key]
                else:
                    self._offer(key, chat, now)
            timeout: float | None
            if not self._ready:
                timeout = self._sleeping[0][0] - now if self._sleeping else None
            else:
                timeout = self._global_wait(now)
                if timeout == 0.0:
                    picked = self._next_ready()
                    if picked is not None:
                        self._launch(*picked, now)
                    continue
            await self._sleep(timeout)

    async def _sleep(self, timeout: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wakeup.wait()

    def _launch(self, key: Hashable, chat: _Chat, now: float) -> None:
        job = heapq.heappop(chat.jobs)
        self._queued -= 1
        metrics.OUTBOX_DEPTH.set(self._queued)
        if job.future.done():  # the caller gave up waiting
            self._offer(key, chat, now)
            self._check_idle()
            return
        chat.in_flight = True
        self._in_flight += 1
        metrics.OUTBOX_IN_FLIGHT.set(self._in_flight)
        task = asyncio.create_task(self._attempt(key, chat, job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _attempt(self, key: Hashable, chat: _Chat, job: _Job) -> None:
        loop = asyncio.get_running_loop()
        retry_in: float | None = None
        try:
            result = await job.send()
        except TelegramRetryAfter as exc:
            retry_in = float(exc.retry_after)
            logger.info("Telegram asked to wait %ss before sending to chat %s again", exc.retry_after, key)
        except RETRYABLE as exc:
            job.attempts += 1
            if job.attempts >= self.max_attempts:
                logger.warning("giving up on a call to chat %s after %d attempts: %s", key, job.attempts, exc)
                _settle(job.future, exc=exc)
            else:
                retry_in = min(self.backoff_base * 2 ** (job.attempts - 1), self.backoff_max)
                logger.info("call to chat %s failed (%s); attempt %d in %.1fs", key, exc, job.attempts + 1, retry_in)
        except asyncio.CancelledError:
            _settle(job.future, cancel=True)
            raise
        except BaseException as exc:
            _settle(job.future, exc=exc)
        else:
            _settle(job.future, result=result)
        finally:
            now = loop.time()
            self._in_flight -= 1
            metrics.OUTBOX_IN_FLIGHT.set(self._in_flight)
            heapq.heappush(self._releases, now + self.window)
            chat.in_flight = False
            chat.free_at = max(chat.free_at, now + self.chat_interval, now + (retry_in or 0.0))
            if retry_in is not None and not job.future.done():
                heapq.heappush(chat.jobs, job)
                self._queued += 1
                metrics.OUTBOX_DEPTH.set(self._queued)
            # Asleep until free even with nothing queued, so the chat's record is dropped only then.
            heapq.heappush(self._sleeping, (chat.free_at, next(self._seq), key))
            self._check_idle()
            self._wakeup.set()

    def _check_idle(self) -> None:
        if self._queued == 0 and self._in_flight == 0:
            self._idle.set()


def _settle(
    future: asyncio.Future[Any], *, result: Any = None, exc: BaseException | None = None, cancel: bool = False
) -> None:
    if future.done():
        return
    if cancel:
        future.cancel()
    elif exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class OutboxMiddleware(BaseRequestMiddleware):
    """Session middleware routing every paced Bot API call through the :class:`Outbox`."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if not is_paced(method.__api_method__):
            return await make_request(bot, method)
        chat = getattr(method, "chat_id", None)
        return await self.outbox.submit(chat, lambda: make_request(bot, method))


class TelegramMetricsMiddleware(BaseRequestMiddleware):
    """Counts every attempt of every Bot API call by method and outcome (innermost middleware)."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = method.__api_method__
        try:
            result = await make_request(bot, method)
        except TelegramAPIError as exc:
            outcome = next(label for kind, label in _OUTCOMES if isinstance(exc, kind))
            if outcome == "retry_after":
                metrics.TELEGRAM_RETRY_AFTER.inc()
            metrics.TELEGRAM_SENDS.labels(name, outcome).inc()
            raise
        metrics.TELEGRAM_SENDS.labels(name, "ok").inc()
        return result
