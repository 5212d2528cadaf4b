"""A short-lived, per-process memory of events, for decisions the database re-checks anyway."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from datemaker.domain.events import Event


class EventSource(Protocol):
    async def load_event(self, event_id: int) -> Event | None: ...


class EventCache:
    """Events read in the last ``ttl`` seconds. Never the last word: callers act only where the
    database verifies the facts they relied on (state and capacity)."""

    def __init__(self, ttl: float = 1.0, clock: Callable[[], float] = time.monotonic, size: int = 4096) -> None:
        self._ttl = ttl
        self._clock = clock
        self._size = size
        self._events: dict[int, tuple[float, Event]] = {}

    async def get(self, source: EventSource, event_id: int) -> Event | None:
        now = self._clock()
        cached = self._events.get(event_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        event = await source.load_event(event_id)
        if event is not None:
            if len(self._events) >= self._size:
                self._events.clear()
            self._events[event_id] = (now, event)
        return event

    def forget(self, event_id: int) -> None:
        self._events.pop(event_id, None)
