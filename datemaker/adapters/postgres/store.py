"""PostgreSQL adapter: the :class:`~datemaker.service.ports.Database` and ``Store`` ports on asyncpg."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg

from contracts.commands import UpsertProfile, Verdict
from datemaker.domain.events import Event, EventState
from datemaker.domain.profiles import UserProfile
from datemaker.domain.registrations import Registration

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)
"""Errors after which the same work may succeed if tried again (the database restarts, a race)."""

EVENT_COLUMNS = """e.id, e.start_dttm, e.timezone, e.users_limit, e.state_id, e.round_seconds, e.break_seconds,
    e.rules_lead_seconds, e.confirm_open_seconds, e.confirm_deadline_seconds,
    e.registered_count, e.waitlisted_count, e.group_size, e.max_rounds, e.mode"""
_REGISTRATION_COLUMNS = """r.registered_at, r.waitlisted, r.confirmation_sent_at, r.confirmed_at, r.declined_at,
    r.cancelled_at, r.ready_at"""
_RATING_TABLES: dict[str, str] = {"like": "likes", "dislike": "dislikes", "report": "reports"}
_RESTART_REGISTRATION = """
    ON CONFLICT (event_id, user_id) DO UPDATE SET
        registered_at = EXCLUDED.registered_at, waitlisted = EXCLUDED.waitlisted,
        confirmation_sent_at = NULL, confirmed_at = NULL, declined_at = NULL, cancelled_at = NULL, ready_at = NULL
    WHERE r.cancelled_at IS NOT NULL OR r.declined_at IS NOT NULL"""
"""A registration row exists already: start it afresh only if it was cancelled or declined."""
_REGISTER_AT_ONCE = f"""
    WITH remembered AS (
        INSERT INTO processed_messages (message_id, command, reply) VALUES ($4, 'register_event', $5)
        ON CONFLICT (message_id) DO NOTHING
        RETURNING message_id),
    registered AS (
        INSERT INTO registrations AS r (event_id, user_id, registered_at, waitlisted)
        SELECT e.id, u.user_id, $3, false
        FROM remembered, dating_events e, users u
        WHERE e.id = $1 AND e.state_id = $6 AND u.user_id = $2
        {_RESTART_REGISTRATION}
        RETURNING true)
    SELECT CASE
        WHEN EXISTS (SELECT 1 FROM registered) THEN true
        WHEN EXISTS (SELECT 1 FROM remembered) THEN chathub_abort('nothing to register')
        ELSE false
    END"""
"""One round trip: record the reply and take a seat, or change nothing at all."""


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to reset between uses: the code sets no session state (no SET, LISTEN, cursors or session
    locks), and asyncpg rolls back any transaction left open before this is called. Skipping the default
    reset query saves a round trip per use."""


async def create_pool(dsn: str, size: int = 10) -> asyncpg.Pool:
    """A connection pool whose connections speak JSON natively."""
    return await asyncpg.create_pool(
        dsn, min_size=min(2, size), max_size=size, init=_init_connection, reset=_keep_session
    )


def event_from_row(row: asyncpg.Record) -> Event:
    return Event(
        id=row["id"],
        start=row["start_dttm"],
        timezone=row["timezone"],
        users_limit=row["users_limit"],
        state=EventState(row["state_id"]),
        round_seconds=row["round_seconds"],
        break_seconds=row["break_seconds"],
        rules_lead_seconds=row["rules_lead_seconds"],
        confirm_open_seconds=row["confirm_open_seconds"],
        confirm_deadline_seconds=row["confirm_deadline_seconds"],
        registered_count=row["registered_count"],
        waitlisted_count=row["waitlisted_count"],
        group_size=row["group_size"],
        max_rounds=row["max_rounds"],
        mode=row["mode"],
    )


def _registration_from_row(row: asyncpg.Record, event_id: int, user_id: int) -> Registration | None:
    if row["registered_at"] is None:
        return None
    return Registration(
        event_id=event_id,
        user_id=user_id,
        registered_at=row["registered_at"],
        waitlisted=row["waitlisted"],
        confirmation_sent_at=row["confirmation_sent_at"],
        confirmed_at=row["confirmed_at"],
        declined_at=row["declined_at"],
        cancelled_at=row["cancelled_at"],
        ready_at=row["ready_at"],
    )


def profile_from_row(row: asyncpg.Record) -> UserProfile:
    return UserProfile(
        user_id=row["user_id"],
        chat_id=row["chat_id"],
        name=row["name"],
        gender=row["gender"],
        birthday=row["birthday"],
        city=row["city"],
        bio=row["bio"],
        username=row["username"],
        language=row["language"],
        seeking=tuple(row["seeking"]) if row["seeking"] else None,
        photo_file_id=row["photo_file_id"],
        manual_score=row["manual_score"],
        rating=row["rating"],
    )


class PostgresStore:
    """The ``Store`` port over one connection inside a transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get_profile(self, user_id: int) -> UserProfile | None:
        row = await self.conn.fetchrow("SELECT * FROM users WHERE user_id = $1", user_id)
        return profile_from_row(row) if row else None

    async def save_profile(self, user_id: int, chat_id: int, profile: UpsertProfile, now: datetime) -> UserProfile:
        # Optional fields change only when the command names them (null clears them).
        optional = [
            f for f in ("bio", "username", "language", "seeking", "photo_file_id") if f in profile.model_fields_set
        ]
        columns = ["name", "gender", "birthday", "city", *optional]
        values = [getattr(profile, col) for col in columns]
        placeholders = ", ".join(f"${i}" for i in range(4, 4 + len(columns)))
        updates = ", ".join(f"{col} = EXCLUDED.{col}" for col in columns)
        row = await self.conn.fetchrow(
            f"""INSERT INTO users (user_id, chat_id, updated_at, {", ".join(columns)})
                VALUES ($1, $2, $3, {placeholders})
                ON CONFLICT (user_id) DO UPDATE SET chat_id = EXCLUDED.chat_id, updated_at = EXCLUDED.updated_at,
                    {updates}
                RETURNING *""",
            user_id,
            chat_id,
            now,
            *values,
        )
        return profile_from_row(row)

    async def upcoming_events(self, user_id: int, now: datetime, limit: int) -> list[tuple[Event, Registration | None]]:
        rows = await self.conn.fetch(
            f"""SELECT {EVENT_COLUMNS}, {_REGISTRATION_COLUMNS}
                FROM dating_events e
                LEFT JOIN registrations r ON r.event_id = e.id AND r.user_id = $1
                WHERE e.state_id IN (0, 1, 2, 3) AND (e.start_dttm > $2 OR e.state_id = 3)
                ORDER BY e.start_dttm, e.id
                LIMIT $3""",
            user_id,
            now,
            limit,
        )
        return [(event_from_row(row), _registration_from_row(row, row["id"], user_id)) for row in rows]

    async def registration_context(
        self, event_id: int, user_id: int, *, lock: bool = True
    ) -> tuple[Event | None, bool, Registration | None]:
        row = await self.conn.fetchrow(
            f"""SELECT {EVENT_COLUMNS}, {_REGISTRATION_COLUMNS},
                       EXISTS (SELECT 1 FROM users u WHERE u.user_id = $2) AS has_profile
                FROM dating_events e
                LEFT JOIN registrations r ON r.event_id = e.id AND r.user_id = $2
                WHERE e.id = $1
                {"FOR UPDATE OF e" if lock else ""}""",
            event_id,
            user_id,
        )
        if row is None:
            return None, False, None
        return event_from_row(row), row["has_profile"], _registration_from_row(row, event_id, user_id)

    async def claim_place(self, event: Event, user_id: int, now: datetime, waitlisted: bool) -> bool:
        # The trigger on registrations takes the seat (locking the event row until the commit) and the
        # capacity checks refuse it when there is none left; a waitlist place only while seats are full.
        try:
            async with self.conn.transaction():  # a savepoint: a refused claim leaves the transaction usable
                return bool(
                    await self.conn.fetchval(
                        f"""INSERT INTO registrations AS r (event_id, user_id, registered_at, waitlisted)
                            SELECT e.id, $2, $3, $4 FROM dating_events e
                            WHERE e.id = $1 AND e.state_id = $5 AND (NOT $4 OR e.registered_count >= e.users_limit)
                            {_RESTART_REGISTRATION}
                            RETURNING true""",
                        event.id,
                        user_id,
                        now,
                        waitlisted,
                        int(event.state),
                    )
                )
        except asyncpg.CheckViolationError:
            return False

    async def end_registration(self, event_id: int, user_id: int, now: datetime, how: str) -> None:
        column = {"cancelled": "cancelled_at", "declined": "declined_at"}[how]
        await self.conn.execute(
            f"UPDATE registrations SET {column} = $3 WHERE event_id = $1 AND user_id = $2", event_id, user_id, now
        )

    async def promote_waitlisted(self, event_id: int) -> int | None:
        return await self.conn.fetchval(
            """UPDATE registrations SET waitlisted = false
               WHERE (event_id, user_id) = (
                   SELECT event_id, user_id FROM registrations
                   WHERE event_id = $1 AND waitlisted AND cancelled_at IS NULL AND declined_at IS NULL
                   ORDER BY registered_at LIMIT 1)
               RETURNING user_id""",
            event_id,
        )

    async def active_upcoming_event_ids(self, user_id: int, now: datetime) -> list[int]:
        rows = await self.conn.fetch(
            """SELECT r.event_id FROM registrations r JOIN dating_events e ON e.id = r.event_id
               WHERE r.user_id = $1 AND r.cancelled_at IS NULL AND r.declined_at IS NULL
                 AND e.state_id IN (0, 1, 2) AND e.start_dttm > $2
               ORDER BY r.event_id""",
            user_id,
            now,
        )
        return [row["event_id"] for row in rows]

    async def confirm(self, event_id: int, user_id: int, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE registrations SET confirmed_at = $3 WHERE event_id = $1 AND user_id = $2", event_id, user_id, now
        )

    async def mark_ready(self, event_id: int, user_id: int, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE registrations SET ready_at = $3 WHERE event_id = $1 AND user_id = $2", event_id, user_id, now
        )

    async def event_exists(self, event_id: int) -> bool:
        return await self.conn.fetchval("SELECT EXISTS (SELECT 1 FROM dating_events WHERE id = $1)", event_id)

    async def had_date(self, event_id: int, user_id: int, partner_id: int) -> bool:
        return await self.conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM event_dates
                              WHERE event_id = $1 AND user_a = least($2::bigint, $3::bigint)
                                AND user_b = greatest($2::bigint, $3::bigint) AND invited_at IS NOT NULL)""",
            event_id,
            user_id,
            partner_id,
        )

    async def record_rating(
        self, event_id: int, user_id: int, partner_id: int, verdict: Verdict, reason: str | None, now: datetime
    ) -> None:
        """A new verdict on the same partner replaces the previous one."""
        table = _RATING_TABLES[verdict]
        for other in _RATING_TABLES.values():
            if other != table:
                await self.conn.execute(
                    f"DELETE FROM {other} WHERE event_id = $1 AND user_id = $2 AND partner_id = $3",
                    event_id,
                    user_id,
                    partner_id,
                )
        if table == "reports":
            await self.conn.execute(
                """INSERT INTO reports (event_id, user_id, partner_id, reason, created_at) VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (event_id, user_id, partner_id) DO UPDATE SET reason = EXCLUDED.reason""",
                event_id,
                user_id,
                partner_id,
                reason,
                now,
            )
        else:
            await self.conn.execute(
                f"""INSERT INTO {table} (event_id, user_id, partner_id, created_at) VALUES ($1, $2, $3, $4)
                    ON CONFLICT DO NOTHING""",
                event_id,
                user_id,
                partner_id,
                now,
            )


_REMEMBER = """INSERT INTO processed_messages (message_id, command, reply) VALUES ($1, $2, $3)
               ON CONFLICT (message_id) DO NOTHING RETURNING true"""


class PostgresSession:
    """The ``Session`` port: one pooled connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def load_event(self, event_id: int) -> Event | None:
        row = await self.conn.fetchrow(f"SELECT {EVENT_COLUMNS} FROM dating_events e WHERE e.id = $1", event_id)
        return event_from_row(row) if row else None

    async def register_at_once(
        self, event: Event, user_id: int, now: datetime, message_id: str, reply: dict[str, Any]
    ) -> bool:
        try:
            return bool(
                await self.conn.fetchval(_REGISTER_AT_ONCE, event.id, user_id, now, message_id, reply, int(event.state))
            )
        except (asyncpg.CheckViolationError, asyncpg.ForeignKeyViolationError):
            return False
        except asyncpg.PostgresError as exc:
            if exc.sqlstate == "CH409":
                return False
            raise

    async def stored_reply(self, message_id: str) -> dict[str, Any] | None:
        return await self.conn.fetchval("SELECT reply FROM processed_messages WHERE message_id = $1", message_id)

    async def remember_reply(self, message_id: str, command: str, reply: dict[str, Any]) -> bool:
        return bool(await self.conn.fetchval(_REMEMBER, message_id, command, reply))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresStore]:
        async with self.conn.transaction():
            yield PostgresStore(self.conn)


class PostgresDatabase:
    """The ``Database`` port over an asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def session(self) -> AsyncIterator[PostgresSession]:
        async with self.pool.acquire() as conn:
            yield PostgresSession(conn)

    async def ping(self) -> bool:
        """True when the database answers."""
        try:
            await self.pool.fetchval("SELECT 1")
        except TRANSIENT_ERRORS:
            return False
        return True
