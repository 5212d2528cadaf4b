"""PostgreSQL adapter: the :class:`~datemaker.service.ports.Database` and ``Store`` ports on asyncpg."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg

from contracts.commands import UpsertProfile, Verdict
from datemaker.adapters.postgres import rules
from datemaker.domain.events import BEFORE_START, PLANNED, UPCOMING, Event, EventState
from datemaker.domain.notices import Notice
from datemaker.domain.profiles import UserProfile
from datemaker.domain.registrations import Registration
from datemaker.domain.schedules import SeatOffer
from datemaker.domain.tonight import BookedDate
from datemaker.service.ports import RatingContext, SeatClaim, StoredReply

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
    e.registered_count, e.waitlisted_count, e.held_seats, e.group_size, e.max_rounds, e.mode, e.min_age, e.max_age,
    e.time_left_warning_seconds"""
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
    WITH claim AS (
        SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[]) AS c(user_id, message_id, reply)),
    fresh AS (
        SELECT c.* FROM claim c JOIN users u ON u.user_id = c.user_id AND u.erased_at IS NULL
        WHERE NOT EXISTS (SELECT 1 FROM processed_messages p WHERE p.message_id = c.message_id)
          AND NOT EXISTS (SELECT 1 FROM banned_users b WHERE b.user_id = c.user_id)),
    registered AS (
        INSERT INTO registrations AS r (event_id, user_id, registered_at, waitlisted)
        SELECT e.id, f.user_id, $5, false FROM fresh f, dating_events e WHERE e.id = $1 AND e.state_id = $6
        {_RESTART_REGISTRATION}
        RETURNING r.user_id),
    remembered AS (
        INSERT INTO processed_messages (message_id, user_id, command, reply)
        SELECT f.message_id, f.user_id, 'register_event', f.reply::jsonb FROM fresh f JOIN registered USING (user_id)
        ON CONFLICT (message_id) DO NOTHING
        RETURNING message_id)
    SELECT CASE WHEN (SELECT count(*) FROM registered) = (SELECT count(*) FROM remembered)
                THEN (SELECT coalesce(array_agg(message_id), '{{}}') FROM remembered)
                ELSE ARRAY[chathub_abort('a registration without its reply')::text] END"""
"""One round trip for many registrations of one event: each takes a seat and records its reply, or changes
nothing; the message ids that did."""


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
        held_seats=row["held_seats"],
        group_size=row["group_size"],
        max_rounds=row["max_rounds"],
        mode=row["mode"],
        time_left_warning_seconds=row["time_left_warning_seconds"],
        min_age=row["min_age"],
        max_age=row["max_age"],
    )


def _registration_from_row(row: asyncpg.Record, event_id: int, user_id: int) -> Registration | None:
    if row["registered_at"] is None:
        return None
    return registration_from_row(row, event_id, user_id)


def registration_from_row(row: asyncpg.Record, event_id: int, user_id: int) -> Registration:
    """A registration from a row carrying the registrations table's columns."""
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
        partner_age_min=row["partner_age_min"],
        partner_age_max=row["partner_age_max"],
    )


def _rated(table: str, by: str = "$2", of: str = "$3") -> str:
    """``by`` gave ``of`` a verdict of ``table`` at the event ``e``."""
    return f"EXISTS (SELECT 1 FROM {table} x WHERE x.event_id = e.id AND x.user_id = {by} AND x.partner_id = {of})"


async def enqueue(conn: asyncpg.Connection, messages: Sequence[Notice]) -> int:
    """Put notices in the outbox (those there already are left alone); how many were new."""
    if not messages:
        return 0
    result = await conn.execute(
        """INSERT INTO outbox (message_id, event_id, user_id, type, headers, body, priority)
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::jsonb[], $6::jsonb[],
                                $7::smallint[])
           ON CONFLICT (message_id) DO NOTHING""",
        [m.message_id for m in messages],
        [m.event_id or None for m in messages],  # 0: about no one event
        [m.user_id for m in messages],
        [m.type for m in messages],
        [m.headers for m in messages],
        [m.body.model_dump(mode="json") for m in messages],
        [m.priority for m in messages],
    )
    return int(result.split()[-1])


async def erase_profile(conn: asyncpg.Connection, user_id: int, now: datetime) -> None:
    """Clear the user's personal details (the row stays, pseudonymous, under the Telegram id, so the blocks
    that protect other people stay), the reasons of the reports they wrote, the replies kept for their
    commands, the messages to them or showing them as someone's partner, and the sent match messages that
    named them (unsent ones are published without them: the relay reads contacts when it publishes)."""
    await conn.execute(
        """UPDATE users SET name = NULL, gender = NULL, birthday = NULL, city = NULL, bio = NULL, username = NULL,
                            language = NULL, seeking = NULL, photo_file_id = NULL, partner_age_min = NULL,
                            partner_age_max = NULL, erased_at = $2, updated_at = $2
           WHERE user_id = $1""",
        user_id,
        now,
    )
    await conn.execute("UPDATE reports SET reason = NULL WHERE user_id = $1 AND reason IS NOT NULL", user_id)
    await conn.execute("DELETE FROM processed_messages WHERE user_id = $1", user_id)
    await conn.execute(
        """DELETE FROM outbox
           WHERE user_id = $1 OR (body -> 'partner' ->> 'user_id') = $1::text
              OR (sent_at IS NOT NULL AND body -> 'matches' @> jsonb_build_array(jsonb_build_object('user_id', $1)))""",
        user_id,
    )


async def profiles(conn: asyncpg.Connection, user_ids: Iterable[int]) -> dict[int, UserProfile]:
    """The profiles of ``user_ids`` (erased ones are not profiles any more)."""
    rows = await conn.fetch(
        "SELECT * FROM users WHERE user_id = ANY($1::bigint[]) AND erased_at IS NULL", list(user_ids)
    )
    return {r["user_id"]: profile_from_row(r) for r in rows}


class PostgresStore:
    """The ``Store`` port over one connection inside a transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get_profile(self, user_id: int) -> UserProfile | None:
        row = await self.conn.fetchrow("SELECT * FROM users WHERE user_id = $1 AND erased_at IS NULL", user_id)
        return profile_from_row(row) if row else None

    def console(self) -> Any:
        from datemaker.adapters.postgres.console import PostgresConsole  # it builds on this module

        return PostgresConsole(self.conn)

    def rescue(self) -> Any:
        from datemaker.adapters.postgres.rescue import PostgresRescue  # it builds on this module

        return PostgresRescue(self.conn)

    async def is_banned(self, user_id: int) -> bool:
        return bool(await self.conn.fetchval("SELECT true FROM banned_users WHERE user_id = $1", user_id))

    async def save_profile(self, user_id: int, profile: UpsertProfile, now: datetime) -> UserProfile:
        # Messages go to the user's private chat, whose id is the user's: never to a group.
        # Optional fields change only when the command names them (null clears them).
        optional = [
            f
            for f in ("bio", "username", "language", "seeking", "photo_file_id", "partner_age_min", "partner_age_max")
            if f in profile.model_fields_set
        ]
        columns = ["name", "gender", "birthday", "city", *optional]
        values = [getattr(profile, col) for col in columns]
        placeholders = ", ".join(f"${i}" for i in range(3, 3 + len(columns)))
        updates = ", ".join(f"{col} = EXCLUDED.{col}" for col in columns)
        row = await self.conn.fetchrow(
            f"""INSERT INTO users (user_id, chat_id, updated_at, {", ".join(columns)})
                VALUES ($1, $1, $2, {placeholders})
                ON CONFLICT (user_id) DO UPDATE SET chat_id = EXCLUDED.chat_id, updated_at = EXCLUDED.updated_at,
                    erased_at = NULL, {updates}
                RETURNING *""",
            user_id,
            now,
            *values,
        )
        return profile_from_row(row)

    async def upcoming_events(self, user_id: int, now: datetime, limit: int) -> list[tuple[Event, Registration | None]]:
        rows = await self.conn.fetch(
            f"""SELECT {EVENT_COLUMNS}, {_REGISTRATION_COLUMNS}
                FROM dating_events e
                LEFT JOIN registrations r ON r.event_id = e.id AND r.user_id = $1
                WHERE {rules.state_in(UPCOMING)} AND (e.start_dttm > $2 OR {rules.state_is(EventState.RUNNING)})
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
                       EXISTS (SELECT 1 FROM users u WHERE u.user_id = $2 AND u.erased_at IS NULL) AS has_profile
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
                            WHERE e.id = $1 AND e.state_id = $5
                              AND (NOT $4 OR e.registered_count + e.held_seats >= e.users_limit)
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
            f"""WITH seated AS (
                   SELECT count(*) FILTER (WHERE u.gender = 'F') AS women, count(*) FILTER (WHERE u.gender = 'M') AS men
                   FROM registrations r JOIN users u ON u.user_id = r.user_id
                   WHERE r.event_id = $1 AND {rules.seated()})
               UPDATE registrations SET waitlisted = false
               WHERE (event_id, user_id) = (
                   SELECT r.event_id, r.user_id FROM registrations r JOIN users u ON u.user_id = r.user_id, seated s
                   WHERE r.event_id = $1 AND {rules.waitlisted()}
                   -- the short side first: the gender with fewer seats taken, then whoever waited longest
                   ORDER BY coalesce((u.gender = 'F' AND s.women < s.men) OR (u.gender = 'M' AND s.men < s.women),
                                     false) DESC,
                            r.registered_at
                   LIMIT 1)
               RETURNING user_id""",
            event_id,
        )

    async def active_upcoming_event_ids(self, user_id: int, now: datetime) -> list[int]:
        rows = await self.conn.fetch(
            f"""SELECT r.event_id FROM registrations r JOIN dating_events e ON e.id = r.event_id
               WHERE r.user_id = $1 AND {rules.active()}
                 AND {rules.state_in(BEFORE_START)} AND e.start_dttm > $2
               ORDER BY r.event_id""",
            user_id,
            now,
        )
        return [row["event_id"] for row in rows]

    async def registrations_not_over(self, user_id: int) -> list[int]:
        rows = await self.conn.fetch(
            f"""SELECT r.event_id FROM registrations r JOIN dating_events e ON e.id = r.event_id
               WHERE r.user_id = $1 AND {rules.active()} AND {rules.state_in(UPCOMING)}
               ORDER BY r.event_id""",
            user_id,
        )
        return [row["event_id"] for row in rows]

    async def erase_profile(self, user_id: int, now: datetime) -> None:
        await erase_profile(self.conn, user_id, now)

    async def confirm(self, event_id: int, user_id: int, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE registrations SET confirmed_at = $3 WHERE event_id = $1 AND user_id = $2", event_id, user_id, now
        )

    async def mark_ready(self, event_id: int, user_id: int, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE registrations SET ready_at = $3 WHERE event_id = $1 AND user_id = $2", event_id, user_id, now
        )

    async def rating_context(self, event_id: int, user_id: int, partner_id: int) -> RatingContext | None:
        # FOR SHARE: a rating and the event's finale (under the row lock) never overlap, so a late match is
        # either in the finale or told on its own.
        row = await self.conn.fetchrow(
            f"""SELECT {EVENT_COLUMNS}, e.finished_at,
                       EXISTS (SELECT 1 FROM event_dates d
                               WHERE d.event_id = e.id AND d.user_a = least($2::bigint, $3::bigint)
                                 AND d.user_b = greatest($2::bigint, $3::bigint) AND d.invited_at IS NOT NULL)
                           AS had_date,
                       CASE WHEN {_rated("reports")} THEN 'report' WHEN {_rated("likes")} THEN 'like'
                            WHEN {_rated("dislikes")} THEN 'dislike' END AS previous,
                       {_rated("likes", by="$3", of="$2")} AS liked_back,
                       EXISTS (SELECT 1 FROM users u WHERE u.user_id = $2 AND u.erased_at IS NULL) AS has_profile
                FROM dating_events e WHERE e.id = $1 FOR SHARE OF e""",
            event_id,
            user_id,
            partner_id,
        )
        if row is None:
            return None
        previous = Verdict(row["previous"]) if row["previous"] else None
        return RatingContext(
            event_from_row(row), row["finished_at"], row["had_date"], previous, row["liked_back"], row["has_profile"]
        )

    async def profiles(self, user_ids: Iterable[int]) -> dict[int, UserProfile]:
        return await profiles(self.conn, user_ids)

    async def enqueue(self, messages: Sequence[Notice]) -> int:
        return await enqueue(self.conn, messages)

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

    async def seat_offer(self, event_id: int, user_id: int) -> SeatOffer | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM seat_offers WHERE event_id = $1 AND user_id = $2 FOR UPDATE", event_id, user_id
        )
        if row is None:
            return None
        return SeatOffer(
            row["event_id"], row["user_id"], row["from_event_id"], row["offered_at"], row["accepted_at"],
            row["withdrawn_at"],
        )  # fmt: skip

    async def accept_offer(self, event_id: int, user_id: int, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE seat_offers SET accepted_at = $3 WHERE event_id = $1 AND user_id = $2", event_id, user_id, now
        )

    async def seat_waitlisted(self, event_id: int, user_id: int) -> None:
        await self.conn.execute(
            f"""UPDATE registrations r SET waitlisted = false
                WHERE r.event_id = $1 AND r.user_id = $2 AND {rules.waitlisted()}""",
            event_id,
            user_id,
        )

    async def matches_of(self, user_id: int, limit: int) -> list[tuple[int, UserProfile]]:
        rows = await self.conn.fetch(
            f"""SELECT m.event_id, u.*
                FROM matches m
                JOIN dating_events e ON e.id = m.event_id
                JOIN users u ON u.user_id = m.partner_id AND u.erased_at IS NULL
                WHERE m.user_id = $1 AND {rules.state_is(EventState.FINISHED)}
                  AND {rules.may_match("m.user_id")} AND {rules.may_match("m.partner_id")}
                ORDER BY e.start_dttm DESC, e.id DESC, u.name, u.user_id
                LIMIT $2""",
            user_id,
            limit,
        )
        return [(row["event_id"], profile_from_row(row)) for row in rows]

    async def dates_of(self, user_id: int, finished_since: datetime) -> list[BookedDate]:
        rated = " OR ".join(_rated(table, by="$1", of="p.partner_id") for table in _RATING_TABLES.values())
        rows = await self.conn.fetch(
            f"""SELECT {EVENT_COLUMNS}, e.rounds_planned, e.finished_at, d.round_no, d.meeting_uri,
                       d.invited_at IS NOT NULL AS invited, p.partner_id, ({rated}) AS rated
                FROM event_dates d
                JOIN dating_events e ON e.id = d.event_id
                CROSS JOIN LATERAL (SELECT CASE WHEN d.user_a = $1 THEN d.user_b ELSE d.user_a END AS partner_id) p
                WHERE (d.user_a = $1 OR d.user_b = $1) AND d.abandoned_at IS NULL
                  AND ({rules.state_in(PLANNED)}
                       OR ({rules.state_is(EventState.FINISHED)} AND e.finished_at >= $2))
                ORDER BY e.start_dttm, e.id, d.round_no""",
            user_id,
            finished_since,
        )
        return [
            BookedDate(
                event=event_from_row(row),
                round_no=row["round_no"],
                partner_id=row["partner_id"],
                rounds=row["rounds_planned"],
                meeting_uri=row["meeting_uri"],
                invited=row["invited"],
                rated=row["rated"],
                finished_at=row["finished_at"],
            )
            for row in rows
        ]


_REMEMBER = """INSERT INTO processed_messages (message_id, user_id, command, reply) VALUES ($1, $2, $3, $4)
               ON CONFLICT (message_id) DO NOTHING RETURNING true"""


class PostgresSession:
    """The ``Session`` port: one pooled connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def stored_reply(self, message_id: str) -> StoredReply | None:
        row = await self.conn.fetchrow(
            "SELECT user_id, command, reply FROM processed_messages WHERE message_id = $1", message_id
        )
        return StoredReply(row["user_id"], row["command"], row["reply"]) if row else None

    async def remember_reply(self, message_id: str, user_id: int, command: str, reply: dict[str, Any]) -> bool:
        return bool(await self.conn.fetchval(_REMEMBER, message_id, user_id, command, reply))

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

    async def load_event(self, event_id: int) -> Event | None:
        row = await self.pool.fetchrow(f"SELECT {EVENT_COLUMNS} FROM dating_events e WHERE e.id = $1", event_id)
        return event_from_row(row) if row else None

    async def register_at_once(self, event: Event, claims: list[SeatClaim]) -> set[str]:
        try:
            registered = await self.pool.fetchval(
                _REGISTER_AT_ONCE,
                event.id,
                [claim.user_id for claim in claims],
                [claim.message_id for claim in claims],
                [claim.reply for claim in claims],
                claims[0].at,
                int(event.state),
            )
        except (asyncpg.CheckViolationError, asyncpg.ForeignKeyViolationError):
            return set()  # no seats for all of them: each takes the ordinary path
        except asyncpg.PostgresError as exc:
            if exc.sqlstate == "CH409":
                return set()
            raise
        return set(registered)

    async def ping(self) -> bool:
        """True when the database answers."""
        try:
            await self.pool.fetchval("SELECT 1")
        except TRANSIENT_ERRORS:
            return False
        return True
