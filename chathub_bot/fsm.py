"""Dialog state in memory that expires after a period of silence (an hour by default), and the per-user
locks that keep one user's updates in order."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Hashable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, StateType, StorageKey

logger = logging.getLogger(__name__)


@dataclass
class _Record:
    touched: float
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class ExpiringMemoryStorage(BaseStorage):
    """Like aiogram's ``MemoryStorage``, but a user's state and data vanish ``ttl`` seconds after their last use.

    Reading an expired record clears it; a sweep every ``sweep_every`` operations frees the memory of users
    who never came back.
    """

    def __init__(
        self, ttl: float = 3600.0, *, clock: Callable[[], float] = time.monotonic, sweep_every: int = 1000
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._records: dict[StorageKey, _Record] = {}
        self._operations = 0
        self._sweep_every = sweep_every

    def _live(self, key: StorageKey) -> _Record | None:
        now = self._clock()
        self._operations += 1
        if self._operations % self._sweep_every == 0:
            self._sweep(now)
        record = self._records.get(key)
        if record is not None and now - record.touched > self.ttl:
            logger.debug("dialog state of %s expired", key)
            del self._records[key]
            return None
        return record

    def _writable(self, key: StorageKey) -> _Record:
        record = self._live(key)
        if record is None:
            record = self._records[key] = _Record(self._clock())
        record.touched = self._clock()
        return record

    def _sweep(self, now: float) -> None:
        expired = [key for key, record in self._records.items() if now - record.touched > self.ttl]
        for key in expired:
            del self._records[key]

    def _drop_if_empty(self, key: StorageKey) -> None:
        record = self._records.get(key)
        if record is not None and record.state is None and not record.data:
            del self._records[key]

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        self._writable(key).state = state.state if isinstance(state, State) else state
        self._drop_if_empty(key)

    async def get_state(self, key: StorageKey) -> str | None:
        record = self._live(key)
        return record.state if record else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            raise DataNotDictLikeError(f"Data must be a dict or dict-like object, got {type(data).__name__}")
        self._writable(key).data = data.copy()
        self._drop_if_empty(key)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        record = self._live(key)
        return record.data.copy() if record else {}

    async def close(self) -> None:
        self._records.clear()

    @property
    def size(self) -> int:
        """Users with a dialog state or data (not ``__len__``: aiogram replaces a falsy storage)."""
        return len(self._records)


class ReleasingEventIsolation(BaseEventIsolation):
    """One user's updates are handled one at a time (like aiogram's ``SimpleEventIsolation``), and a user's
    lock is forgotten as soon as nobody holds or waits for it, so memory stays bounded."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    @property
    def size(self) -> int:
        """Users whose lock is held or awaited (not ``__len__``: aiogram replaces a falsy isolation)."""
        return len(self._locks)

    async def close(self) -> None:
        self._locks.clear()
