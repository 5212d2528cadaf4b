"""The one sender of every message-producing Telegram call: pacing, priorities and retries.

Telegram allows about 30 messages per second per bot and about 1 per second per chat, and answers
more with HTTP 429 and ``retry_after``, which aiogram raises as :class:`TelegramRetryAfter` without
retrying. :class:`PacingMiddleware` is a request middleware of the bot's session: every ``send*`` /
``edit*`` call, whether a handler's ``message.answer()`` or a command from datemaker, is queued in
the :class:`Pacer`, which starts it when both limits allow, highest priority first.

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
import time
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    ClientDecodeError,
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
from contracts.notifications import Priority

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


_current_priority: ContextVar[Priority] = ContextVar("pacing_priority", default=Priority.INTERACTIVE)


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


PAID_BROADCAST_RATE = 1000.0
"""Messages per second a bot may send with ``allow_paid_broadcast`` (Telegram charges Stars for each one)."""

RETRYABLE = (TelegramNetworkError, TelegramServerError, ClientDecodeError)
"""Errors of Telegram being unreachable, worth another attempt: the network, a 5xx, or a page that is not the
Bot API's JSON (a front server's error page during an outage)."""


class TelegramLiveness:
    """Whether Telegram answers: every answer from the Bot API (an error about the call itself, such as a 400 or
    403, is an answer too) wakes whoever waits for Telegram to come back."""

    def __init__(self) -> None:
        self._answer = asyncio.Event()
        self.answered_at: float | None = None
        """``time.monotonic()`` of the last answer."""

    def answered(self) -> None:
        self.answered_at = time.monotonic()
        self._answer.set()
        self._answer = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        """Wait until Telegram answers some call, at most ``timeout`` seconds; whether it did."""
        try:
            async with asyncio.timeout(max(0.0, timeout)):
                await self._answer.wait()
        except TimeoutError:
            return False
        return True


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    chat: Hashable = field(compare=False)
    send: Callable[[], Awaitable[Any]] = field(compare=False)
    future: asyncio.Future[Any] = field(compare=False)
    attempts: int = field(default=0, compare=False)
    lane: _Lane | None = field(default=None, compare=False)
    mark_paid: Callable[[bool], None] | None = field(default=None, compare=False)
    """Told, before each attempt, whether the call goes as a paid broadcast."""


class _Lane:
    """A global budget: ``rate`` calls per second, each holding its slot from its start until one window
    after Telegram answered it."""

    def __init__(self, rate: float) -> None:
        self.slots = max(1, int(rate))
        self.window = self.slots / rate
        self.releases: list[float] = []
        self.in_flight = 0

    def wait(self, now: float) -> float | None:
        """0 when a slot is free; else how long until one frees (None: when a call finishes)."""
        while self.releases and self.releases[0] <= now:
            heapq.heappop(self.releases)
        if self.in_flight + len(self.releases) < self.slots:
            return 0.0
        return self.releases[0] - now if self.releases else None

    def release(self, now: float) -> None:
        self.in_flight -= 1
        heapq.heappush(self.releases, now + self.window)


@dataclass
class _Chat:
    jobs: list[_Job] = field(default_factory=list)
    """A heap: this chat's waiting calls, by priority then arrival."""
    in_flight: bool = False
    free_at: float = 0.0
    """When the chat may take its next call."""
    offered: tuple[int, int] | None = None
    """The (priority, seq) of the head job last pushed to the ready heap."""


class Pacer:
    """Paces calls globally (``global_rate`` per second) and per chat (``chat_rate`` per second).

    With ``paid_rate`` (Telegram's paid broadcasts, ``allow_paid_broadcast``: up to 1,000 a second, for a
    fee per message), an urgent call (a meeting link, time left) that finds the free budget used up goes
    through a paid lane at that rate instead of waiting; every call still keeps to the per-chat limit.
    """

    def __init__(
        self,
        *,
        global_rate: float = 30.0,
        chat_rate: float = 1.0,
        paid_rate: float | None = None,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 10.0,
    ) -> None:
        self._free = _Lane(global_rate)
        self._paid = _Lane(paid_rate) if paid_rate else None
        self.global_slots = self._free.slots
        self.window = self._free.window
        self.chat_interval = 1.0 / chat_rate
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._seq = itertools.count()
        self._chats: dict[Hashable, _Chat] = {}
        self._ready: list[tuple[int, int, Hashable]] = []
        self._sleeping: list[tuple[float, int, Hashable]] = []
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
            self._runner = asyncio.create_task(self._run(), name="pacer")

    async def submit(
        self,
        chat: Hashable,
        send: Callable[[], Awaitable[T]],
        level: Priority | None = None,
        mark_paid: Callable[[bool], None] | None = None,
    ) -> T:
        """Queue ``send`` for ``chat``; its result once Telegram accepted it, or the error that ended it.
        ``mark_paid`` learns before each attempt whether it goes as a paid broadcast."""
        self.start()
        loop = asyncio.get_running_loop()
        level = level if level is not None else current_priority()
        job = _Job(int(level), next(self._seq), chat, send, loop.create_future(), mark_paid=mark_paid)
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

    @property
    def paid(self) -> bool:
        """Urgent calls beyond the free budget go as paid broadcasts."""
        return self._paid is not None

    def _lane(self, priority: int, now: float) -> _Lane:
        """The free budget while it has room; for an urgent call, the paid lane (if any) once it has none."""
        if self._paid is None or priority != Priority.URGENT or self._free.wait(now) == 0.0:
            return self._free
        return self._paid

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
                lane = self._lane(self._ready[0][0], now)  # the most urgent waiting call's lane
                timeout = lane.wait(now)
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
        job.lane = self._lane(job.priority, now)
        job.lane.in_flight += 1
        self._in_flight += 1
        metrics.OUTBOX_IN_FLIGHT.set(self._in_flight)
        task = asyncio.create_task(self._attempt(key, chat, job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _attempt(self, key: Hashable, chat: _Chat, job: _Job) -> None:
        loop = asyncio.get_running_loop()
        retry_in: float | None = None
        try:
            if job.mark_paid is not None:
                job.mark_paid(job.lane is not None and job.lane is self._paid)
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
            assert job.lane is not None
            job.lane.release(now)
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


class PacingMiddleware(BaseRequestMiddleware):
    """Session middleware routing every paced Bot API call through the :class:`Pacer`."""

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if not is_paced(method.__api_method__):
            return await make_request(bot, method)
        mark_paid = None
        if self.pacer.paid and hasattr(method, "allow_paid_broadcast"):

            def mark_paid(paid: bool) -> None:  # beyond the free 30 a second, for a fee: the pacer's paid lane
                method.allow_paid_broadcast = paid or None
                if paid:
                    metrics.PAID_BROADCASTS.inc()

        chat = getattr(method, "chat_id", None)
        return await self.pacer.submit(chat, lambda: make_request(bot, method), mark_paid=mark_paid)


class TelegramMetricsMiddleware(BaseRequestMiddleware):
    """Counts every attempt of every Bot API call by method and outcome (innermost middleware), and tells
    ``liveness`` whenever Telegram answered."""

    def __init__(self, liveness: TelegramLiveness | None = None) -> None:
        self.liveness = liveness

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = method.__api_method__
        try:
            result = await make_request(bot, method)
        except ClientDecodeError:
            metrics.TELEGRAM_SENDS.labels(name, "undecodable").inc()  # not the Bot API's answer: a front's page
            raise
        except TelegramAPIError as exc:
            outcome = next(label for kind, label in _OUTCOMES if isinstance(exc, kind))
            if outcome == "retry_after":
                metrics.TELEGRAM_RETRY_AFTER.inc()
            metrics.TELEGRAM_SENDS.labels(name, outcome).inc()
            if self.liveness is not None and not isinstance(exc, RETRYABLE):
                self.liveness.answered()
            raise
        metrics.TELEGRAM_SENDS.labels(name, "ok").inc()
        if self.liveness is not None:
            self.liveness.answered()
        return result
