"""Leases on events (and on schedules): which datemaker instance runs which event (keeps which schedule).

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
EVENTS = _NAMESPACE
"""The namespace of events' leases (and the space pool's, ``service.instances.POOL_KEY``)."""
SCHEDULES = _NAMESPACE + 1
"""The namespace of schedules' leases (a schedule's id is not an event's)."""


class EventLeases:
    """``holder`` names the lease connection (``application_name``): ``pg_stat_activity`` and ``pg_locks``
    then say which instance runs which event."""

    def __init__(self, dsn: str, namespace: int = EVENTS, holder: str = "datemaker") -> None:
        self._dsn = dsn
        self._namespace = namespace
        self._holder = holder[:63]
        self._conn: asyncpg.Connection | None = None
        self._held: set[int] = set()
        self._lock = asyncio.Lock()

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            if self._held:
                logger.warning("lease connection lost; %d event leases released", len(self._held))
            self._held.clear()
            self._conn = await asyncpg.connect(self._dsn, server_settings={"application_name": self._holder})
        return self._conn

    async def try_acquire(self, event_id: int) -> bool:
        """True when this instance holds (or now takes) the event's lease."""
        async with self._lock:
            conn = await self._connection()
            if event_id in self._held:
                return True
            taken = await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", self._namespace, _key(event_id))
            if taken:
                self._held.add(event_id)
            return bool(taken)

    async def release(self, event_id: int) -> None:
        async with self._lock:
            if event_id in self._held and self._conn is not None and not self._conn.is_closed():
                await self._conn.execute("SELECT pg_advisory_unlock($1, $2)", self._namespace, _key(event_id))
            self._held.discard(event_id)

    @property
    def held(self) -> frozenset[int]:
        return frozenset(self._held)

    async def close(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()
        self._held.clear()


async def lease_holders(conn: asyncpg.Connection | asyncpg.Pool) -> dict[int, str]:
    """Event id → the ``holder`` of its lease, for every event some instance runs now (the space pool's lease
    is key ``0``)."""
    rows = await conn.fetch(
        """SELECT a.application_name AS holder, l.objid::bigint AS objid
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid::bigint = $1""",
        EVENTS,
    )
    return {(row["objid"] + 2**31) % 2**32: row["holder"] for row in rows}


def _key(event_id: int) -> int:
    """The advisory lock's second int4 key (event ids beyond 2**31 wrap, sharing a lease: harmless)."""
    return (event_id % (2**32)) - 2**31


class PostgresInstances:
    """The ``Instances`` port: a row per instance in ``datemaker_instances``, refreshed at each reconcile; an
    instance not seen for ``ttl`` seconds is not alive."""

    def __init__(self, pool: asyncpg.Pool, instance_id: str, ttl: float) -> None:
        self.pool = pool
        self.instance_id = instance_id
        self.ttl = ttl

    async def alive(self) -> list[str]:
        async with self.pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO datemaker_instances (instance_id) VALUES ($1)
                   ON CONFLICT (instance_id) DO UPDATE SET seen_at = now()""",
                self.instance_id,
            )
            await conn.execute(
                "DELETE FROM datemaker_instances WHERE seen_at < now() - make_interval(secs => $1)", self.ttl * 20
            )
            rows = await conn.fetch(
                "SELECT instance_id FROM datemaker_instances WHERE seen_at >= now() - make_interval(secs => $1)",
                self.ttl,
            )
        return sorted({row["instance_id"] for row in rows} | {self.instance_id})

    async def leave(self) -> None:
        await self.pool.execute("DELETE FROM datemaker_instances WHERE instance_id = $1", self.instance_id)
