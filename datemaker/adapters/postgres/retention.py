"""PostgreSQL adapter of the retention job (``RetentionDatabase`` and ``RetentionStore`` ports)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg

from datemaker.adapters.postgres import rules
from datemaker.adapters.postgres.store import erase_profile
from datemaker.domain.events import UPCOMING, EventState
from datemaker.domain.timeline import TERMINAL
from datemaker.service.retention import ExpiredEvent, PurgedData

_CLOSED_AT = "coalesce(e.finished_at, e.start_dttm)"
"""When an event closed; the expression of the index ``dating_events_closed_idx``."""
_HAS_PERSONAL_DATA = """(
    EXISTS (SELECT 1 FROM outbox o WHERE o.event_id = e.id)
    OR EXISTS (SELECT 1 FROM reports p WHERE p.event_id = e.id AND p.reason IS NOT NULL)
    OR EXISTS (SELECT 1 FROM event_dates d JOIN date_attendance a ON a.date_id = d.id WHERE d.event_id = e.id))"""
_STATS = f"""
    INSERT INTO event_stats (event_id, registered, waitlisted, confirmed, declined, cancelled, seated,
                             dates_planned, dates_held, joined_calls, likes, dislikes, reports, mutual_matches,
                             computed_at, purged_at)
    SELECT $1,
           count(*),
           count(*) FILTER (WHERE {rules.waitlisted()}),
           count(*) FILTER (WHERE r.confirmed_at IS NOT NULL),
           count(*) FILTER (WHERE r.declined_at IS NOT NULL),
           count(*) FILTER (WHERE r.cancelled_at IS NOT NULL),
           count(*) FILTER (WHERE r.group_no IS NOT NULL),
           (SELECT count(*) FROM event_dates d WHERE d.event_id = $1),
           (SELECT count(*) FROM event_dates d WHERE d.event_id = $1 AND d.invited_at IS NOT NULL),
           (SELECT coalesce(sum(least(2, people)), 0) FROM (
                SELECT count(DISTINCT a.display_name) AS people FROM event_dates d
                JOIN date_attendance a ON a.date_id = d.id WHERE d.event_id = $1 GROUP BY d.id) t),
           (SELECT count(*) FROM likes WHERE event_id = $1),
           (SELECT count(*) FROM dislikes WHERE event_id = $1),
           (SELECT count(*) FROM reports WHERE event_id = $1),
           (SELECT count(*) FROM matches WHERE event_id = $1 AND user_id < partner_id),
           $2, $2
    FROM registrations r WHERE r.event_id = $1
    ON CONFLICT (event_id) DO NOTHING
    RETURNING true"""
"""One statement: the counts of an event, stored unless they were stored before."""


def _count(status: str) -> int:
    """Rows affected, from a command status such as ``DELETE 12``."""
    return int(status.split()[-1])


class PostgresRetentionStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def expired_events(self, cutoff: datetime, states: Sequence[EventState]) -> list[ExpiredEvent]:
        rows = await self.conn.fetch(
            f"""SELECT e.id, e.state_id, {_CLOSED_AT} AS closed_at FROM dating_events e
                WHERE {rules.state_in(TERMINAL)} -- the index's predicate, which a parameter cannot imply
                  AND e.state_id = ANY($2::smallint[]) AND {_CLOSED_AT} < $1
                  AND (NOT {rules.state_is(EventState.FINISHED)} OR e.results_collected_at IS NOT NULL)
                  AND (NOT EXISTS (SELECT 1 FROM event_stats s WHERE s.event_id = e.id) OR {_HAS_PERSONAL_DATA})
                ORDER BY closed_at, e.id""",
            cutoff,
            [int(s) for s in states],
        )
        return [ExpiredEvent(r["id"], r["closed_at"], EventState(r["state_id"])) for r in rows]

    async def lock_event(self, event_id: int) -> bool:
        return bool(await self.conn.fetchval("SELECT true FROM dating_events WHERE id = $1 FOR UPDATE", event_id))

    async def save_stats(self, event_id: int, now: datetime) -> bool:
        return bool(await self.conn.fetchval(_STATS, event_id, now))

    async def purge_event(self, event_id: int, now: datetime) -> PurgedData:
        attendance = await self.conn.execute(
            "DELETE FROM date_attendance a USING event_dates d WHERE d.id = a.date_id AND d.event_id = $1", event_id
        )
        reasons = await self.conn.execute(
            "UPDATE reports SET reason = NULL WHERE event_id = $1 AND reason IS NOT NULL", event_id
        )
        messages = await self.conn.execute("DELETE FROM outbox WHERE event_id = $1", event_id)
        await self.conn.execute("UPDATE event_stats SET purged_at = $2 WHERE event_id = $1", event_id, now)
        return PurgedData(attendance=_count(attendance), report_reasons=_count(reasons), messages=_count(messages))

    async def purge_processed_messages(self, before: datetime) -> int:
        return _count(await self.conn.execute("DELETE FROM processed_messages WHERE processed_at < $1", before))

    async def purge_stray_messages(self, before: datetime) -> int:
        return _count(await self.conn.execute("DELETE FROM outbox WHERE event_id IS NULL AND created_at < $1", before))

    async def erase_inactive_profiles(self, before: datetime, now: datetime) -> int:
        rows = await self.conn.fetch(
            f"""SELECT u.user_id FROM users u
                WHERE u.erased_at IS NULL AND u.updated_at < $1
                  AND NOT EXISTS (
                      SELECT 1 FROM registrations r JOIN dating_events e ON e.id = r.event_id
                      WHERE r.user_id = u.user_id
                        AND (r.registered_at >= $1 OR ({rules.active()} AND {rules.state_in(UPCOMING)})))
                FOR UPDATE OF u SKIP LOCKED""",
            before,
        )
        for row in rows:
            await erase_profile(self.conn, row["user_id"], now)
        return len(rows)


class PostgresRetentionDatabase:
    """The ``RetentionDatabase`` port over an asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def transaction(self, *, rollback: bool = False) -> AsyncIterator[PostgresRetentionStore]:
        async with self.pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            try:
                yield PostgresRetentionStore(conn)
            except BaseException:
                await tx.rollback()
                raise
            if rollback:
                await tx.rollback()
            else:
                await tx.commit()
