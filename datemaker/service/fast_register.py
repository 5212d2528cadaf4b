"""``register_event`` in the common case, fast: a seat is free and the user is new to the event.

Decided by the same rules as the handler, from a recently read event; the database re-checks what may have
changed since (the event's state, its capacity, the user's profile and registration). Anything else, and
any doubt, takes the ordinary path (the handler), which gives the exact answer.

Registrations for one event that arrive while an earlier batch is being written are written together, in
one statement: an event's seat count is one row, so one event's registrations would otherwise wait for
each other's commits one by one. This is group commit for a popular event; events do not wait for each
other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from contracts import commands as c
from contracts.envelope import Received, Reply
from datemaker.domain.errors import DomainError
from datemaker.domain.events import Event, check_registration_open
from datemaker.domain.registrations import placement
from datemaker.service.commands import placed
from datemaker.service.ports import Database, SeatClaim


class EventCache:
    """Events read in the last ``ttl`` seconds. Never the last word: callers act only where the
    database verifies the facts they relied on (state and capacity)."""

    def __init__(self, ttl: float = 1.0, clock: Callable[[], float] = time.monotonic, size: int = 4096) -> None:
        self._ttl = ttl
        self._clock = clock
        self._size = size
        self._events: dict[int, tuple[float, Event]] = {}

    async def get(self, source: Database, event_id: int) -> Event | None:
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


@dataclass
class _Batch:
    event: Event
    claims: list[tuple[SeatClaim, asyncio.Future[bool]]] = field(default_factory=list)


class RegisterAtOnce:
    """The fast path of ``register_event``: the reply, or None for "take the ordinary path"."""

    def __init__(self, database: Database, *, max_batch: int = 200) -> None:
        self._database = database
        self._max_batch = max_batch
        self._events = EventCache()
        self._waiting: dict[int, _Batch] = {}
        """Event id → claims waiting for the batch being written to finish."""
        self._writers: dict[int, asyncio.Task[None]] = {}

    async def __call__(self, command: Received[c.RegisterEvent], now: datetime) -> Reply | None:
        event = await self._events.get(self._database, command.args.event_id)
        if event is None:
            return None
        try:
            check_registration_open(event, now)
            if placement(event) != "registered" or event.min_age is not None or event.max_age is not None:
                return None  # an age range needs the user's birthday: the ordinary path reads it
        except DomainError:
            return None
        reply = Reply.success(placed(event, command.user_id, "registered", now))
        claim = SeatClaim(command.user_id, command.message_id, reply.to_body().decode(), now)
        if await self._claim(event, claim):
            return reply
        self._events.forget(event.id)
        return None

    async def _claim(self, event: Event, claim: SeatClaim) -> bool:
        batch = self._waiting.get(event.id)
        if batch is None:
            batch = self._waiting[event.id] = _Batch(event)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        batch.claims.append((claim, future))
        if event.id not in self._writers:
            self._writers[event.id] = asyncio.get_running_loop().create_task(self._write(event.id))
        return await future

    async def _write(self, event_id: int) -> None:
        """Write the event's waiting claims, batch after batch, until none are left."""
        try:
            while True:
                batch = self._waiting.pop(event_id, None)
                if batch is None:
                    return
                while len(batch.claims) > self._max_batch:  # the rest waits for the next statement
                    rest = _Batch(batch.event, batch.claims[self._max_batch :])
                    batch.claims = batch.claims[: self._max_batch]
                    self._waiting[event_id] = rest
                await self._write_batch(batch)
        finally:
            del self._writers[event_id]

    async def _write_batch(self, batch: _Batch) -> None:
        first: dict[int, SeatClaim] = {}
        for claim, _ in batch.claims:
            first.setdefault(claim.user_id, claim)  # a user twice in one statement: the others go the ordinary way
        try:
            registered = await self._database.register_at_once(batch.event, list(first.values()))
        except Exception as exc:  # the database is away: every command of the batch is retried
            for _, future in batch.claims:
                if not future.done():
                    future.set_exception(exc)
            return
        for claim, future in batch.claims:
            if not future.done():
                future.set_result(claim.message_id in registered and first[claim.user_id] is claim)
