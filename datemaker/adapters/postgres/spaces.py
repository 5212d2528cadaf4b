"""PostgreSQL adapter of the space pool (``service.space_pool.PoolDatabase``).

A space is free (``rules.space_free``) when it is not retired, no date whose call is not over holds it (a
date holds its space from when it is given one until its call is ended, or until the space is taken back,
its event over or its people gone), and no date of the same table in the next round waits to take it over.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from datemaker.adapters.postgres import rules
from datemaker.adapters.postgres.store import EVENT_COLUMNS, event_from_row
from datemaker.domain.events import OPEN_FOR_REGISTRATION, PLANNED
from datemaker.service.ports import MeetSpace
from datemaker.service.space_pool import UnplannedEvent, UnspacedDate

_FREE = rules.space_free()


async def give_free_spaces(conn: asyncpg.Connection, date_ids: list[int]) -> list[tuple[int, int]]:
    """Give free spaces to these dates (locked by the caller), in order, while there are some; the (date id,
    space id) pairs given."""
    spaces = await conn.fetch(
        f"SELECT s.id FROM meet_spaces s WHERE {_FREE} ORDER BY s.id LIMIT $1 FOR UPDATE SKIP LOCKED", len(date_ids)
    )
    pairs = list(zip(date_ids, (s["id"] for s in spaces), strict=False))
    if pairs:
        await conn.execute(
            """UPDATE event_dates d SET space_id = s.id, space_name = s.name, meeting_uri = s.meeting_uri,
                      meeting_code = s.meeting_code, reused = false
               FROM unnest($1::bigint[], $2::bigint[]) AS g(date_id, space_id)
               JOIN meet_spaces s ON s.id = g.space_id
               WHERE d.id = g.date_id""",
            [date_id for date_id, _ in pairs],
            [space_id for _, space_id in pairs],
        )
    return pairs


class PostgresPoolDatabase:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def free_spaces(self) -> int:
        return await self.pool.fetchval(f"SELECT count(*) FROM meet_spaces s WHERE {_FREE}")

    async def unspaced_dates(self) -> list[UnspacedDate]:
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            events = {
                row["id"]: event_from_row(row)
                for row in await conn.fetch(
                    f"SELECT {EVENT_COLUMNS} FROM dating_events e WHERE {rules.state_in(PLANNED)}"
                )
            }
            rows = await conn.fetch(
                f"""SELECT d.id, d.event_id, d.round_no,
                           EXISTS (SELECT 1 FROM event_dates p
                                   WHERE p.event_id = d.event_id AND p.group_no = d.group_no
                                     AND p.round_no = d.round_no - 1 AND p.table_no = d.table_no) AS can_reuse
                    FROM event_dates d JOIN dating_events e ON e.id = d.event_id
                    WHERE d.space_id IS NULL AND d.invited_at IS NULL AND {rules.state_in(PLANNED)}
                      AND d.round_no >= e.rounds_ended AND {rules.date_happens()}"""
            )
        return [
            UnspacedDate(r["id"], events[r["event_id"]], r["round_no"], r["can_reuse"])
            for r in rows
            if r["event_id"] in events
        ]

    async def unplanned_events(self) -> list[UnplannedEvent]:
        rows = await self.pool.fetch(
            f"""SELECT {EVENT_COLUMNS},
                       count(*) FILTER (WHERE u.gender = 'F') AS women, count(*) FILTER (WHERE u.gender = 'M') AS men
                FROM dating_events e
                JOIN registrations r ON r.event_id = e.id AND {rules.seated()}
                JOIN users u ON u.user_id = r.user_id
                WHERE {rules.state_in(OPEN_FOR_REGISTRATION)}
                GROUP BY e.id"""
        )
        return [UnplannedEvent(event_from_row(r), r["women"], r["men"]) for r in rows]

    async def spaces_held(self) -> dict[int, int]:
        rows = await self.pool.fetch(
            """SELECT event_id, count(DISTINCT space_id) AS spaces FROM event_dates
               WHERE space_id IS NOT NULL AND invited_at IS NULL GROUP BY event_id"""
        )
        return {r["event_id"]: r["spaces"] for r in rows}

    async def assign(self, date_ids: list[int]) -> list[tuple[int, int]]:
        async with self.pool.acquire() as conn, conn.transaction():
            # A date of an event cancelled since the pool read it gets none (nothing would give it back).
            dates = await conn.fetch(
                f"""SELECT d.id, d.event_id FROM event_dates d JOIN dating_events e ON e.id = d.event_id
                    WHERE d.id = ANY($1::bigint[]) AND d.space_id IS NULL AND d.invited_at IS NULL
                      AND {rules.state_in(PLANNED)}
                    FOR UPDATE OF d SKIP LOCKED""",
                date_ids,
            )
            order = {date_id: n for n, date_id in enumerate(date_ids)}
            waiting = sorted(dates, key=lambda r: order[r["id"]])
            if not waiting:
                return []
            pairs = await give_free_spaces(conn, [r["id"] for r in waiting])
        events = {r["id"]: r["event_id"] for r in waiting}
        return [(date_id, events[date_id]) for date_id, _ in pairs]

    async def add_space(self, space: MeetSpace, now: datetime) -> None:
        await self.pool.execute(
            """INSERT INTO meet_spaces (name, meeting_uri, meeting_code, account, created_at)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING""",
            space.name,
            space.meeting_uri,
            space.meeting_code,
            space.account,
            now,
        )
