"""The bot's state that outlives its process, in Redis (``REDIS_URL``): nothing a user is in the middle of is lost
when the bot restarts.

- dialogs: aiogram's own ``RedisStorage`` keeps each user's dialog state and draft, forgotten after
  ``TG_BOT_DIALOG_TTL`` seconds (an hour) without a change;
- pending requests: every command the bot sends to datemaker, with who it is for, where its answer is shown and
  in which language, until its reply comes (:class:`PendingRequests`); a reply after a restart, or after the
  user was told the service is busy, still finds it;
- delivered messages: the ids of datemaker's messages already sent to Telegram (:class:`DeliveredLog`), so that
  a redelivery after a crash between the send and the acknowledgement is not sent twice;
- live boards: each organizer's /board message kept up to date (:class:`LiveBoards`), taken up again by the next
  process until its time is up.

Every key starts with ``chathub:<CHATHUB_ENV>:``. With ``REDIS_URL`` empty the same state is kept in memory
(and lost at a restart): for tests of one process and for a quick try without Redis.
"""

from __future__ import annotations

import collections
import json
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis

from chathub_bot.fsm import ExpiringMemoryStorage

logger = logging.getLogger(__name__)

PENDING_TTL = 24 * 3600.0
"""Seconds a pending request is kept: a reply later than a day is not shown."""
DELIVERED_TTL = 7 * 24 * 3600.0
"""Seconds a delivered message's id is remembered (a redelivery comes long before)."""


@dataclass(frozen=True)
class PendingRecord:
    """What the bot needs to show a reply whose handler is gone: the command, the user, their chat, the bot
    message to edit (if any) and the user's language."""

    command: str
    user_id: int
    chat_id: int
    message_id: int | None = None
    locale: str | None = None
    body: dict[str, Any] | None = None
    """The command's arguments (for a late reply that needs them, e.g. which event)."""


class PendingRequests(Protocol):
    async def save(self, message_id: str, record: PendingRecord) -> None: ...

    async def take(self, message_id: str) -> PendingRecord | None:
        """The record, removed: only one delivery of a reply may act on it."""
        ...


class DeliveredLog(Protocol):
    async def seen(self, message_id: str) -> bool: ...

    async def remember(self, message_id: str) -> None: ...


@dataclass(frozen=True)
class LiveBoard:
    """An organizer's /board message kept up to date: where it is, for whom, of which event, until when (seconds
    since the epoch) and in which language."""

    chat_id: int
    user_id: int
    message_id: int
    event_id: int
    until: float
    locale: str | None = None


class LiveBoards(Protocol):
    async def keep(self, board: LiveBoard) -> None:
        """Remember the chat's board (one per chat: a newer one replaces it) until ``board.until``."""
        ...

    async def forget(self, chat_id: int) -> None: ...

    async def all(self) -> list[LiveBoard]:
        """The boards whose time is not up."""
        ...


class MemoryBoards:
    def __init__(self) -> None:
        self._boards: dict[int, LiveBoard] = {}

    async def keep(self, board: LiveBoard) -> None:
        self._boards[board.chat_id] = board

    async def forget(self, chat_id: int) -> None:
        self._boards.pop(chat_id, None)

    async def all(self) -> list[LiveBoard]:
        now = time.time()
        return [board for board in self._boards.values() if board.until > now]


class RedisBoards:
    """A key per chat, expiring when the board's time is up."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:board:"

    async def keep(self, board: LiveBoard) -> None:
        left = board.until - time.time()
        if left > 0:
            await self._redis.set(self._prefix + str(board.chat_id), json.dumps(asdict(board)), px=int(left * 1000))

    async def forget(self, chat_id: int) -> None:
        await self._redis.delete(self._prefix + str(chat_id))

    async def all(self) -> list[LiveBoard]:
        boards = []
        async for key in self._redis.scan_iter(match=self._prefix + "*", count=1000):
            raw = await self._redis.get(key)
            if raw is None:
                continue  # its time ran out meanwhile
            try:
                boards.append(LiveBoard(**json.loads(raw)))
            except (TypeError, ValueError) as exc:
                logger.warning("live board %s unreadable: %r", key, exc)
        return boards


class MemoryPending:
    """Pending requests of this process only (``REDIS_URL`` empty)."""

    def __init__(self, memory: int = 10_000) -> None:
        self._records: collections.OrderedDict[str, PendingRecord] = collections.OrderedDict()
        self._memory = memory

    async def save(self, message_id: str, record: PendingRecord) -> None:
        self._records[message_id] = record
        while len(self._records) > self._memory:
            self._records.popitem(last=False)

    async def take(self, message_id: str) -> PendingRecord | None:
        return self._records.pop(message_id, None)


class MemoryDelivered:
    """Delivered ids of this process only (``REDIS_URL`` empty)."""

    def __init__(self, memory: int = 50_000) -> None:
        self._ids: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._memory = memory

    async def seen(self, message_id: str) -> bool:
        return message_id in self._ids

    async def remember(self, message_id: str) -> None:
        self._ids[message_id] = None
        while len(self._ids) > self._memory:
            self._ids.popitem(last=False)


class RedisPending:
    def __init__(self, redis: Redis, prefix: str, ttl: float = PENDING_TTL) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:pending:"
        self._ttl = int(ttl)

    async def save(self, message_id: str, record: PendingRecord) -> None:
        await self._redis.set(self._prefix + message_id, json.dumps(asdict(record)), ex=self._ttl)

    async def take(self, message_id: str) -> PendingRecord | None:
        raw = await self._redis.getdel(self._prefix + message_id)
        if raw is None:
            return None
        try:
            return PendingRecord(**json.loads(raw))
        except (TypeError, ValueError) as exc:
            logger.warning("pending request %s unreadable: %r", message_id, exc)
            return None


class RedisDelivered:
    def __init__(self, redis: Redis, prefix: str, ttl: float = DELIVERED_TTL) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:delivered:"
        self._ttl = int(ttl)

    async def seen(self, message_id: str) -> bool:
        return bool(await self._redis.exists(self._prefix + message_id))

    async def remember(self, message_id: str) -> None:
        await self._redis.set(self._prefix + message_id, int(time.time()), ex=self._ttl)


@dataclass
class BotState:
    """Where the bot keeps what must outlive it (see the module's docstring)."""

    dialogs: BaseStorage
    pending: PendingRequests
    delivered: DeliveredLog
    boards: LiveBoards
    redis: Redis | None = None

    async def ping(self) -> bool:
        """Whether the store answers (always, in memory)."""
        if self.redis is None:
            return True
        try:
            return bool(await self.redis.ping())
        except Exception as exc:
            logger.info("Redis not reachable: %r", exc)
            return False

    async def close(self) -> None:
        await self.dialogs.close()  # with RedisStorage, closes the Redis connection too


def key_prefix(env: str) -> str:
    return f"chathub:{env}"


def open_state(redis_url: str | None, env: str, *, dialog_ttl: float) -> BotState:
    """The bot's state in Redis at ``redis_url``, or in memory when it is empty. Connects lazily: a Redis that is
    down shows in ``/readyz`` and fails the operations that need it, not the start."""
    if not redis_url:
        logger.warning("REDIS_URL is empty: dialogs and pending requests are kept in memory, lost at a restart")
        return BotState(ExpiringMemoryStorage(dialog_ttl), MemoryPending(), MemoryDelivered(), MemoryBoards())
    redis = Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=5, health_check_interval=30)
    prefix = key_prefix(env)
    dialogs = RedisStorage(
        redis,
        key_builder=DefaultKeyBuilder(prefix=f"{prefix}:fsm", with_bot_id=True),
        state_ttl=int(dialog_ttl),
        data_ttl=int(dialog_ttl),
    )
    return BotState(
        dialogs, RedisPending(redis, prefix), RedisDelivered(redis, prefix), RedisBoards(redis, prefix), redis
    )


async def forget_all(redis_url: str | None, env: str) -> int:
    """Delete every key of ``env``'s bot state (a demo starting afresh, a test); how many there were."""
    if not redis_url:
        return 0
    redis = Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=5)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{key_prefix(env)}:*", count=1000)]
        if keys:
            await redis.delete(*keys)
        return len(keys)
    finally:
        await redis.aclose()
