"""PostgreSQL adapter of schedules: the keeper's ``ScheduleDatabase`` / ``ScheduleStore`` ports, and the reads and
writes of ``datemaker schedules``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from contracts.errors import ErrorCode
from datemaker.adapters.postgres import rules
from datemaker.adapters.postgres.store import EVENT_COLUMNS, enqueue, event_from_row, profile_from_row
from datemaker.domain.errors import DomainError
from datemaker.domain.event_settings import SETTING_COLUMNS, InvalidEventSettings
from datemaker.domain.events import Event
from datemaker.domain.notices import Notice, Organizer
from datemaker.domain.profiles import UserProfile
from datemaker.domain.schedules import Demand, Rule, Schedule, ScheduleState, check_transition, template, validate
from datemaker.service.ports import ScheduledEvent

_SETTINGS = ", ".join(SETTING_COLUMNS)
"""The settings a schedule gives its events: the same columns in both tables."""
_DEMAND = ("extra_when_waitlist", "extra_offset_seconds", "alert_below_percent", "alert_lead_seconds")


def schedule_from_row(row: asyncpg.Record) -> Schedule:
    return Schedule(
        id=row["id"],
        rule=Rule(frozenset(row["weekdays"]), row["local_time"], row["timezone"]),
        template=template(row["timezone"], **{name: row[name] for name in SETTING_COLUMNS}),
        horizon=row["horizon"],
        demand=Demand(**{name: row[name] for name in _DEMAND}),
        state=ScheduleState(row["state"]),
    )


class PostgresScheduleStore:
    """The keeper's reads and writes over one connection in a transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def lock_schedule(self, schedule_id: int) -> Schedule | None:
        row = await self.conn.fetchrow("SELECT * FROM event_schedules WHERE id = $1 FOR UPDATE", schedule_id)
        return schedule_from_row(row) if row else None

    async def event_starts(self, schedule_id: int, since: datetime) -> set[datetime]:
        rows = await self.conn.fetch(
            "SELECT start_dttm FROM dating_events WHERE schedule_id = $1 AND start_dttm > $2", schedule_id, since
        )
        return {row["start_dttm"] for row in rows}

    async def create_events(
        self, schedule: Schedule, starts: Sequence[datetime], extra_for: int | None = None
    ) -> dict[datetime, int]:
        if not starts:
            return {}
        rows = await self.conn.fetch(
            f"""INSERT INTO dating_events (schedule_id, extra_for, start_dttm, timezone, {_SETTINGS})
                SELECT s.id, $2, slot, s.timezone, {", ".join(f"s.{name}" for name in SETTING_COLUMNS)}
                FROM event_schedules s, unnest($3::timestamptz[]) AS slot
                WHERE s.id = $1
                ON CONFLICT DO NOTHING
                RETURNING id, start_dttm""",
            schedule.id,
            extra_for,
            list(starts),
        )
        return {row["start_dttm"]: row["id"] for row in rows}

    async def open_events(self, schedule_id: int, now: datetime) -> list[ScheduledEvent]:
        rows = await self.conn.fetch(
            f"""SELECT {EVENT_COLUMNS}, e.extra_for, e.underfill_alerted_at IS NOT NULL AS alerted,
                       EXISTS (SELECT 1 FROM dating_events x WHERE x.extra_for = e.id) AS has_extra
                FROM dating_events e
                WHERE e.schedule_id = $1 AND {rules.takes_registrations("$2")}
                ORDER BY e.start_dttm, e.id""",
            schedule_id,
            now,
        )
        return [ScheduledEvent(event_from_row(r), r["extra_for"], r["has_extra"], r["alerted"]) for r in rows]

    async def event(self, event_id: int, *, lock: bool = False) -> Event | None:
        row = await self.conn.fetchrow(
            f"SELECT {EVENT_COLUMNS} FROM dating_events e WHERE e.id = $1 {'FOR NO KEY UPDATE' if lock else ''}",
            event_id,
        )
        return event_from_row(row) if row else None

    async def waiting_for_offer(self, full_id: int, extra_id: int, limit: int) -> list[UserProfile]:
        rows = await self.conn.fetch(
            f"""SELECT u.* FROM registrations r JOIN users u ON u.user_id = r.user_id AND u.erased_at IS NULL
                WHERE r.event_id = $1 AND {rules.waitlisted()}
                  AND NOT EXISTS (SELECT 1 FROM seat_offers o WHERE o.event_id = $2 AND o.user_id = r.user_id)
                  AND NOT EXISTS (SELECT 1 FROM registrations x
                                  WHERE x.event_id = $2 AND x.user_id = r.user_id AND {rules.active("x")})
                ORDER BY r.registered_at, r.user_id LIMIT $3""",
            full_id,
            extra_id,
            limit,
        )
        return [profile_from_row(row) for row in rows]

    async def make_offers(self, extra_id: int, full_id: int, user_ids: Sequence[int], now: datetime) -> None:
        await self.conn.execute(
            """INSERT INTO seat_offers (event_id, user_id, from_event_id, offered_at)
               SELECT $1, person, $2, $4 FROM unnest($3::bigint[]) AS person
               ON CONFLICT DO NOTHING""",
            extra_id,
            full_id,
            list(user_ids),
            now,
        )

    async def organizers(self) -> list[Organizer]:
        rows = await self.conn.fetch(
            """SELECT o.user_id, u.language FROM organizers o
               LEFT JOIN users u ON u.user_id = o.user_id AND u.erased_at IS NULL ORDER BY o.user_id"""
        )
        return [Organizer(row["user_id"], row["language"]) for row in rows]

    async def mark_alerted(self, event_id: int, now: datetime) -> None:
        await self.conn.execute("UPDATE dating_events SET underfill_alerted_at = $2 WHERE id = $1", event_id, now)

    async def enqueue(self, messages: Sequence[Notice]) -> int:
        return await enqueue(self.conn, messages)


class PostgresScheduleDatabase:
    """The ``ScheduleDatabase`` port over an asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresScheduleStore]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield PostgresScheduleStore(conn)

    async def active_schedules(self) -> list[int]:
        rows = await self.pool.fetch(
            "SELECT id FROM event_schedules WHERE state = $1 ORDER BY id", ScheduleState.ACTIVE.value
        )
        return [row["id"] for row in rows]


# --- the organizer's command line ---------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleLine:
    """A row of ``schedules list``: the schedule, its upcoming events and the next one's start."""

    schedule: Schedule
    upcoming: int
    next_start: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ScheduledEventLine:
    """One of a schedule's events, for ``schedules show``."""

    event: Event
    extra_for: int | None
    offers: int
    accepted: int


class ScheduleQueries:
    """The reads and writes of ``datemaker schedules`` over a pool, and of the organizer's console (the
    ``organizer_*_schedule`` commands) over the command's connection, inside its transaction."""

    def __init__(self, pool: asyncpg.Pool | asyncpg.Connection) -> None:
        self.pool = pool

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction of its own on a pool; on a connection, a savepoint in the command's transaction (a refused
        write leaves it usable)."""
        if isinstance(self.pool, asyncpg.Connection):
            async with self.pool.transaction():
                yield self.pool
        else:
            async with self.pool.acquire() as conn, conn.transaction():
                yield conn

    async def add(self, schedule: Schedule) -> int:
        settings = schedule.template
        values: dict[str, object] = {
            "weekdays": sorted(schedule.rule.weekdays),
            "local_time": schedule.rule.at,
            "timezone": schedule.rule.timezone,
            **{name: getattr(settings, name) for name in SETTING_COLUMNS},
            "horizon": schedule.horizon,
            **{name: getattr(schedule.demand, name) for name in _DEMAND},
            "state": schedule.state.value,
        }
        placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        try:
            async with self._transaction() as conn:
                return await conn.fetchval(
                    f"INSERT INTO event_schedules ({', '.join(values)}) VALUES ({placeholders}) RETURNING id",
                    *values.values(),
                )
        except (asyncpg.CheckViolationError, asyncpg.NumericValueOutOfRangeError) as exc:
            raise InvalidEventSettings(f"the database refused the schedule: {' '.join(str(exc).split())}") from None

    async def lines(self, now: datetime, *, everything: bool, only: int | None = None) -> list[ScheduleLine]:
        """Schedules by id (the ended ones too with ``everything``; just schedule ``only``, if given)."""
        rows = await self.pool.fetch(
            f"""SELECT s.*,
                       (SELECT count(*) FROM dating_events e
                        WHERE e.schedule_id = s.id AND {rules.takes_registrations("$1")}) AS upcoming,
                       (SELECT min(e.start_dttm) FROM dating_events e
                        WHERE e.schedule_id = s.id AND {rules.takes_registrations("$1")}) AS next_start
                FROM event_schedules s WHERE ($2 OR s.state <> $3) AND ($4::bigint IS NULL OR s.id = $4)
                ORDER BY s.id""",
            now,
            everything,
            ScheduleState.ENDED.value,
            only,
        )
        return [
            ScheduleLine(schedule_from_row(r), r["upcoming"], r["next_start"], r["created_at"], r["updated_at"])
            for r in rows
        ]

    async def line(self, schedule_id: int, now: datetime) -> tuple[ScheduleLine, list[ScheduledEventLine]] | None:
        """The schedule and its events not over yet (and those of the last two weeks), by start."""
        lines = await self.lines(now, everything=True, only=schedule_id)
        if not lines:
            return None
        rows = await self.pool.fetch(
            f"""SELECT {EVENT_COLUMNS}, e.extra_for,
                       (SELECT count(*) FROM seat_offers o WHERE o.event_id = e.id) AS offers,
                       (SELECT count(*) FROM seat_offers o WHERE o.event_id = e.id AND o.accepted_at IS NOT NULL)
                           AS accepted
                FROM dating_events e
                WHERE e.schedule_id = $1 AND e.start_dttm > $2::timestamptz - interval '14 days'
                ORDER BY e.start_dttm, e.id""",
            schedule_id,
            now,
        )
        events = [ScheduledEventLine(event_from_row(r), r["extra_for"], r["offers"], r["accepted"]) for r in rows]
        return lines[0], events

    async def set_state(
        self, schedule_id: int, target: ScheduleState, now: datetime, *, again_is_harmless: bool = False
    ) -> Schedule:
        """Pause, resume or end the schedule; ``DomainError`` when it does not exist or cannot go there. Returns the
        schedule as it was (its state before). With ``again_is_harmless``, a schedule in ``target`` already is left
        as it is instead of refused."""
        async with self._transaction() as conn:
            row = await conn.fetchrow("SELECT * FROM event_schedules WHERE id = $1 FOR UPDATE", schedule_id)
            if row is None:
                raise schedule_not_found(schedule_id)
            schedule = schedule_from_row(row)
            if again_is_harmless and schedule.state == target:
                return schedule
            check_transition(schedule.id, schedule.state, target)
            await conn.execute(
                "UPDATE event_schedules SET state = $2, updated_at = $3 WHERE id = $1", schedule_id, target.value, now
            )
        return schedule

    async def change(self, schedule_id: int, change: Callable[[Schedule], Schedule], now: datetime) -> Schedule:
        """Change the schedule's horizon and demand rules (``change`` makes the new schedule from the current one),
        checked as a new one would be; ``DomainError`` when it does not exist, has ended or the change is wrong."""
        async with self._transaction() as conn:
            row = await conn.fetchrow("SELECT * FROM event_schedules WHERE id = $1 FOR UPDATE", schedule_id)
            if row is None:
                raise schedule_not_found(schedule_id)
            current = schedule_from_row(row)
            if current.state == ScheduleState.ENDED:
                raise DomainError(ErrorCode.BAD_REQUEST, f"schedule {schedule_id} has ended: it cannot be changed")
            changed = change(current)
            validate(changed, now)
            await conn.execute(
                """UPDATE event_schedules SET horizon = $2, extra_when_waitlist = $3, extra_offset_seconds = $4,
                          alert_below_percent = $5, alert_lead_seconds = $6, updated_at = $7
                   WHERE id = $1""",
                schedule_id,
                changed.horizon,
                *(getattr(changed.demand, name) for name in _DEMAND),
                now,
            )
        return changed


def schedule_not_found(schedule_id: int) -> DomainError:
    hint = "see `datemaker schedules list --all`"
    return DomainError(ErrorCode.BAD_REQUEST, f"there is no schedule {schedule_id} ({hint})")
