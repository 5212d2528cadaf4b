"""Leases on events: which datemaker instance runs which event.

Each instance holds a dedicated connection; a lease is a session-level advisory lock on it. When the
holder dies, its connection closes and PostgreSQL releases its leases, so another instance takes the
events over at its next attempt. Every step also runs under the event's row lock and checks recorded
progress, so a lease lost in a database restart cannot make a step happen twice.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

logger = logging.getLogger(__name__)

_NAMESPACE = 0x43480000  # "CH": keeps these locks apart from the migrations' lock


class EventLeases:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: asyncpg.Connection | None = None
        self._held: set[int] = set()
        self._lock = asyncio.Lock()

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            if self._held:
                logger.warning("lease connection lost; %d event leases released", len(self._held))
            self._held.clear()
            self._conn = await asyncpg.connect(self._dsn)
        return self._conn

    async def try_acquire(self, event_id: int) -> bool:
        """True when this instance holds (or now takes) the event's lease."""
        async with self._lock:
            conn = await self._connection()
            if event_id in self._held:
                return True
            taken = await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", _NAMESPACE, _key(event_id))
            if taken:
                self._held.add(event_id)
            return bool(taken)

    async def release(self, event_id: int) -> None:
        async with self._lock:
            if event_id in self._held and self._conn is not None and not self._conn.is_closed():
                await self._conn.execute("SELECT pg_advisory_unlock($1, $2)", _NAMESPACE, _key(event_id))
            self._held.discard(event_id)

    @property
    def held(self) -> frozenset[int]:
        return frozenset(self._held)

    async def close(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()
        self._held.clear()


def _key(event_id: int) -> int:
    """The advisory lock's second int4 key (event ids beyond 2**31 wrap, sharing a lease: harmless)."""
    return (event_id % (2**32)) - 2**31
