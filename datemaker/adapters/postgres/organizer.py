"""PostgreSQL adapter of the organizer's command line: connecting with clear errors, creating events,
and the read models of ``events list / show / export``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from datemaker.adapters.postgres import rules
from datemaker.adapters.postgres.migrate import load_migrations
from datemaker.adapters.postgres.store import EVENT_COLUMNS, create_pool, event_from_row, registration_from_row
from datemaker.domain.event_settings import EventSettings, InvalidEventSettings
from datemaker.domain.events import UPCOMING, Event
from datemaker.domain.registrations import Registration, Status

CONNECT_TIMEOUT = 10.0


class DatabaseUnavailable(Exception):
    """The database cannot be used; ``str()`` says why and what to do, in one line."""


async def open_pool(dsn: str, *, server: str, database: str, size: int = 2) -> asyncpg.Pool:
    """A small pool on a migrated database, or ``DatabaseUnavailable`` telling how to get one."""
    try:
        pool = await asyncio.wait_for(create_pool(dsn, size), CONNECT_TIMEOUT)
    except asyncpg.InvalidCatalogNameError:
        raise DatabaseUnavailable(
            f"database {database} does not exist on {server}: create it with `datemaker migrate`"
        ) from None
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise DatabaseUnavailable(
            f"PostgreSQL at {server} refused the login ({_one_line(exc)}): "
            "check DATEMAKER_POSTGRES_USER and DATEMAKER_POSTGRES_PASSWORD"
        ) from None
    except (OSError, TimeoutError, asyncpg.CannotConnectNowError, asyncpg.PostgresConnectionError) as exc:
        raise DatabaseUnavailable(
            f"cannot reach PostgreSQL at {server} ({_one_line(exc) or type(exc).__name__}): start it "
            "(`docker compose -f docker/compose.yaml up -d postgres`, or the system's service, e.g. "
            "`sudo systemctl start postgresql`) or point POSTGRES_HOST/POSTGRES_PORT at it"
        ) from None
    try:
        await _check_schema(pool, database)
    except BaseException:
        await pool.close()
        raise
    return pool


async def _check_schema(pool: asyncpg.Pool, database: str) -> None:
    latest = max((m.version for m in load_migrations()), default=0)
    try:
        version = await pool.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
    except asyncpg.UndefinedTableError:
        version = 0
    if version < latest:
        raise DatabaseUnavailable(
            f"the schema of {database} is at version {version}, this code needs {latest}: run `datemaker migrate`"
        )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


# --- read models -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """Where an event came from: a schedule (None: made by hand or by an INSERT), as the extra night of a full
    event, with the seats it offered to the people waiting there and how many they took."""

    schedule_id: int | None = None
    extra_for: int | None = None
    offers: int = 0
    accepted: int = 0

    def describe(self) -> str:
        if self.schedule_id is None:
            return "-"
        if self.extra_for is None:
            return str(self.schedule_id)
        return f"{self.schedule_id}, extra for {self.extra_for}"


@dataclass(frozen=True)
class EventLine:
    """A row of ``events list``."""

    event: Event
    confirmed: int
    origin: Origin = Origin()


@dataclass(frozen=True)
class Milestones:
    """When the event's timeline steps were done (None: not yet)."""

    created_at: datetime
    confirmations_opened_at: datetime | None
    planned_at: datetime | None
    rules_sent_at: datetime | None
    rounds_planned: int
    rounds_started: int
    rounds_ended: int
    finished_at: datetime | None
    results_collected_at: datetime | None
    closing_reason: str | None


@dataclass(frozen=True)
class Counts:
    """Registrations by status (``registered`` includes the confirmed: everyone holding a seat)."""

    registered: int = 0
    waitlisted: int = 0
    confirmed: int = 0
    declined: int = 0
    cancelled: int = 0


ERASED = "(erased)"
"""The name shown for someone who erased their data."""


@dataclass(frozen=True)
class Person:
    """Someone as an organizer sees them (an erased profile keeps only its Telegram id)."""

    user_id: int
    name: str
    username: str | None


@dataclass(frozen=True)
class GroupLine:
    group_no: int
    members: tuple[int, ...]
    rounds: int


@dataclass(frozen=True)
class DateLine:
    """A date of the plan, whether it was held (its people got their link), and who joined its call."""

    date_id: int
    group_no: int
    round_no: int
    user_a: int
    user_b: int
    invited_at: datetime | None
    ended_at: datetime | None
    attendees: tuple[str, ...]
    has_space: bool = False
    reused: bool = False
    """It took over its table's space of the round before."""
    delayed_at: datetime | None = None
    """Its people were told their link was late."""

    @property
    def held(self) -> bool:
        return self.invited_at is not None

    @property
    def people(self) -> tuple[int, int]:
        return (self.user_a, self.user_b)


@dataclass(frozen=True)
class EventReport:
    """Everything ``events show`` prints about an event."""

    event: Event
    milestones: Milestones
    counts: Counts
    people: dict[int, Person]
    groups: list[GroupLine]
    dates: list[DateLine]
    unseated: dict[int, str]
    likes: int
    dislikes: int
    reports: int
    mutual_matches: int
    stats: dict[str, object] | None
    """The counts kept by the retention job, once the event's personal data was deleted."""
    origin: Origin = Origin()


@dataclass(frozen=True)
class RegistrantLine:
    """A row of ``events export``: one registrant, their registration and their results."""

    person: Person
    status: Status
    registration: Registration
    group_no: int | None
    unseated_reason: str | None
    likes_given: int
    likes_received: int
    matched_with: tuple[int, ...]


@dataclass(frozen=True)
class OrganizerLine:
    """A row of ``organizers list``: who (None: no profile yet) and since when."""

    user_id: int
    added_at: datetime
    person: Person | None


_COUNTS = f"""
    count(*) FILTER (WHERE {rules.seated()}) AS registered,
    count(*) FILTER (WHERE {rules.waitlisted()}) AS waitlisted,
    count(*) FILTER (WHERE {rules.seated()} AND r.confirmed_at IS NOT NULL) AS confirmed,
    count(*) FILTER (WHERE r.cancelled_at IS NULL AND r.declined_at IS NOT NULL) AS declined,
    count(*) FILTER (WHERE r.cancelled_at IS NOT NULL) AS cancelled"""


class OrganizerQueries:
    """The organizer's reads and writes over a pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def create_events(
        self, events: Sequence[EventSettings], on_created: Callable[[int], None] = lambda _: None
    ) -> list[int]:
        """Insert the events in one transaction (all or none); their ids, in order.

        Only the settings that differ from the table's defaults are written; the rest are the defaults.
        """
        ids: list[int] = []
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                for event in events:
                    event_id = await insert_event(conn, event)
                    ids.append(event_id)
                    on_created(event_id)
        except (asyncpg.CheckViolationError, asyncpg.NumericValueOutOfRangeError) as exc:
            raise InvalidEventSettings(f"the database refused the event: {_one_line(exc)}") from None
        return ids

    async def add_organizer(self, user_id: int) -> tuple[bool, Person | None]:
        """Make the user an organizer; whether they were not one already, and who they are (None: no profile)."""
        async with self.pool.acquire() as conn, conn.transaction():
            added = await conn.fetchval(
                "INSERT INTO organizers (user_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING true", user_id
            )
            people = await self._people(conn, {user_id})
        return bool(added), people.get(user_id)

    async def remove_organizer(self, user_id: int) -> bool:
        """False when the user was not an organizer."""
        return bool(await self.pool.fetchval("DELETE FROM organizers WHERE user_id = $1 RETURNING true", user_id))

    async def organizers(self) -> list[OrganizerLine]:
        rows = await self.pool.fetch(
            """SELECT o.user_id, o.added_at, u.name, u.username, u.user_id IS NOT NULL AS known
               FROM organizers o LEFT JOIN users u ON u.user_id = o.user_id ORDER BY o.added_at, o.user_id"""
        )
        return [
            OrganizerLine(
                r["user_id"],
                r["added_at"],
                Person(r["user_id"], r["name"] or ERASED, r["username"]) if r["known"] else None,
            )
            for r in rows
        ]

    async def event(self, event_id: int) -> Event | None:
        row = await self.pool.fetchrow(f"SELECT {EVENT_COLUMNS} FROM dating_events e WHERE e.id = $1", event_id)
        return event_from_row(row) if row else None

    async def list_events(
        self, now: datetime, *, everything: bool, limit: int, recent: timedelta = timedelta(days=14)
    ) -> tuple[list[EventLine], int]:
        """Events by start time: every one with ``everything``, else those not over yet and those that
        started within ``recent``; at most ``limit`` of them, and how many there are in all."""
        return await event_lines(self.pool, now, everything=everything, limit=limit, recent=recent)

    async def event_report(self, event_id: int) -> EventReport | None:
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            row = await conn.fetchrow(
                f"""SELECT {EVENT_COLUMNS}, e.created_at, e.confirmations_opened_at, e.planned_at, e.rules_sent_at,
                           e.rounds_planned, e.rounds_started, e.rounds_ended, e.finished_at,
                           e.results_collected_at, e.closing_reason, e.schedule_id, e.extra_for,
                           (SELECT count(*) FROM seat_offers o WHERE o.event_id = e.id) AS offers,
                           (SELECT count(*) FROM seat_offers o WHERE o.event_id = e.id AND o.accepted_at IS NOT NULL)
                               AS accepted
                    FROM dating_events e WHERE e.id = $1""",
                event_id,
            )
            if row is None:
                return None
            counts = await conn.fetchrow(f"SELECT {_COUNTS} FROM registrations r WHERE r.event_id = $1", event_id)
            groups = await conn.fetch(
                "SELECT group_no, members, rounds FROM event_groups WHERE event_id = $1 ORDER BY group_no", event_id
            )
            dates = await self._dates(conn, event_id)
            unseated = await conn.fetch(
                f"""SELECT r.user_id, r.unseated_reason FROM registrations r
                    WHERE r.event_id = $1 AND r.unseated_reason IS NOT NULL AND {rules.active()}""",
                event_id,
            )
            ratings = await conn.fetchrow(
                """SELECT (SELECT count(*) FROM likes WHERE event_id = $1) AS likes,
                          (SELECT count(*) FROM dislikes WHERE event_id = $1) AS dislikes,
                          (SELECT count(*) FROM reports WHERE event_id = $1) AS reports,
                          (SELECT count(*) FROM matches WHERE event_id = $1 AND user_id < partner_id) AS matches""",
                event_id,
            )
            stats = await conn.fetchrow("SELECT * FROM event_stats WHERE event_id = $1", event_id)
            ids = {u for g in groups for u in g["members"]} | {u for d in dates for u in d.people}
            ids |= {r["user_id"] for r in unseated}
            people = await self._people(conn, ids)
        return EventReport(
            event=event_from_row(row),
            milestones=Milestones(
                created_at=row["created_at"],
                confirmations_opened_at=row["confirmations_opened_at"],
                planned_at=row["planned_at"],
                rules_sent_at=row["rules_sent_at"],
                rounds_planned=row["rounds_planned"],
                rounds_started=row["rounds_started"],
                rounds_ended=row["rounds_ended"],
                finished_at=row["finished_at"],
                results_collected_at=row["results_collected_at"],
                closing_reason=row["closing_reason"],
            ),
            counts=Counts(**{k: counts[k] for k in ("registered", "waitlisted", "confirmed", "declined", "cancelled")}),
            people=people,
            groups=[GroupLine(g["group_no"], tuple(g["members"]), g["rounds"]) for g in groups],
            dates=dates,
            unseated={r["user_id"]: r["unseated_reason"] for r in unseated},
            likes=ratings["likes"],
            dislikes=ratings["dislikes"],
            reports=ratings["reports"],
            mutual_matches=ratings["matches"],
            stats=dict(stats) if stats else None,
            origin=Origin(row["schedule_id"], row["extra_for"], row["offers"], row["accepted"]),
        )

    async def registrants(self, event_id: int) -> tuple[list[RegistrantLine], list[DateLine]]:
        """Every registrant of the event (cancelled ones too) in registration order, and its dates."""
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            rows = await conn.fetch(
                """SELECT r.*, u.name, u.username,
                          (SELECT count(*) FROM likes l WHERE l.event_id = r.event_id AND l.user_id = r.user_id)
                          AS likes_given,
                          (SELECT count(*) FROM likes l WHERE l.event_id = r.event_id AND l.partner_id = r.user_id)
                          AS likes_received,
                          (SELECT coalesce(array_agg(m.partner_id ORDER BY m.partner_id), '{}') FROM matches m
                           WHERE m.event_id = r.event_id AND m.user_id = r.user_id) AS matched_with
                   FROM registrations r JOIN users u ON u.user_id = r.user_id
                   WHERE r.event_id = $1 ORDER BY r.registered_at, r.user_id""",
                event_id,
            )
            dates = await self._dates(conn, event_id)
        lines = []
        for r in rows:
            registration = registration_from_row(r, event_id, r["user_id"])
            lines.append(
                RegistrantLine(
                    person=Person(r["user_id"], r["name"] or ERASED, r["username"]),
                    status=registration.status,
                    registration=registration,
                    group_no=r["group_no"],
                    unseated_reason=r["unseated_reason"],
                    likes_given=r["likes_given"],
                    likes_received=r["likes_received"],
                    matched_with=tuple(r["matched_with"]),
                )
            )
        return lines, dates

    @staticmethod
    async def _dates(conn: asyncpg.Connection, event_id: int) -> list[DateLine]:
        rows = await conn.fetch(
            """SELECT d.id, d.group_no, d.round_no, d.user_a, d.user_b, d.invited_at, d.ended_at,
                      coalesce(array_agg(a.display_name ORDER BY a.joined_at, a.display_name)
                               FILTER (WHERE a.display_name IS NOT NULL), '{}') AS attendees,
                      d.space_name IS NOT NULL AS has_space, d.reused, d.delayed_at
               FROM event_dates d LEFT JOIN date_attendance a ON a.date_id = d.id
               WHERE d.event_id = $1 GROUP BY d.id ORDER BY d.round_no, d.group_no, d.id""",
            event_id,
        )
        return [
            DateLine(
                r["id"],
                r["group_no"],
                r["round_no"],
                r["user_a"],
                r["user_b"],
                r["invited_at"],
                r["ended_at"],
                tuple(r["attendees"]),
                r["has_space"],
                r["reused"],
                r["delayed_at"],
            )
            for r in rows
        ]

    @staticmethod
    async def _people(conn: asyncpg.Connection, ids: set[int]) -> dict[int, Person]:
        rows = await conn.fetch(
            "SELECT user_id, name, username FROM users WHERE user_id = ANY($1::bigint[])", sorted(ids)
        )
        return {r["user_id"]: Person(r["user_id"], r["name"] or ERASED, r["username"]) for r in rows}


async def insert_event(conn: asyncpg.Connection, event: EventSettings) -> int:
    """Insert one event; only the settings that differ from the table's defaults are written."""
    values: dict[str, object] = {"start_dttm": event.start, "timezone": event.timezone, **event.changed_columns()}
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    return await conn.fetchval(
        f"INSERT INTO dating_events ({', '.join(values)}) VALUES ({placeholders}) RETURNING id", *values.values()
    )


async def event_lines(
    executor: asyncpg.Pool | asyncpg.Connection,
    now: datetime,
    *,
    everything: bool,
    limit: int,
    recent: timedelta = timedelta(days=14),
) -> tuple[list[EventLine], int]:
    """The rows of ``events list`` (see :meth:`OrganizerQueries.list_events`)."""
    rows = await executor.fetch(
        f"""SELECT {EVENT_COLUMNS}, count(*) OVER () AS total, e.schedule_id, e.extra_for,
                   (SELECT count(*) FROM registrations r
                    WHERE r.event_id = e.id AND {rules.seated()} AND r.confirmed_at IS NOT NULL)
                   AS confirmed
            FROM dating_events e
            WHERE $1 OR {rules.state_in(UPCOMING)} OR e.start_dttm >= $2
            ORDER BY e.start_dttm, e.id LIMIT $3""",
        everything,
        now - recent,
        limit,
    )
    total = rows[0]["total"] if rows else 0
    lines = [EventLine(event_from_row(r), r["confirmed"], Origin(r["schedule_id"], r["extra_for"])) for r in rows]
    return lines, total
