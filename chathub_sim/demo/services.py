"""PostgreSQL and RabbitMQ for the demo: are they there, a fresh database, clean queues, the event, the record."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from chathub_sim.demo.facts import EventFacts, RecordedDate
from chathub_sim.demo.options import EventTimeline
from contracts import topology
from datemaker.config import Settings

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0

HOW_TO_START = """\
Start them, then run `make demo` again:
  PostgreSQL:  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start
  RabbitMQ:    rabbitmq-server -detached
  or both, with Docker:  docker compose -f docker/compose.yaml up -d postgres rabbitmq
(`make services` starts the local ones when they are installed.)"""


@dataclass(frozen=True)
class ServiceProblem:
    service: str
    detail: str


async def _check_postgres(settings: Settings) -> ServiceProblem | None:
    where = f"{settings.postgres_host}:{settings.postgres_port}"
    try:
        conn = await asyncpg.connect(settings.postgres_dsn("postgres"), timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        return ServiceProblem("PostgreSQL", f"not reachable at {where} ({_reason(exc)})")
    except asyncpg.PostgresError as exc:
        return ServiceProblem(
            "PostgreSQL",
            f"refused user {settings.datemaker_postgres_user!r} at {where}: {exc} "
            "(set DATEMAKER_POSTGRES_USER / DATEMAKER_POSTGRES_PASSWORD)",
        )
    await conn.close()
    return None


async def _check_rabbitmq(settings: Settings) -> ServiceProblem | None:
    import aio_pika
    from aio_pika.exceptions import AMQPConnectionError, ProbableAuthenticationError

    where = f"{settings.rabbitmq_host}:{settings.rabbitmq_port}"
    try:
        connection = await asyncio.wait_for(aio_pika.connect(settings.rabbitmq_url()), CONNECT_TIMEOUT)
    except ProbableAuthenticationError as exc:
        return ServiceProblem(
            "RabbitMQ",
            f"refused user {settings.datemaker_rabbitmq_username!r} at {where}: {exc} "
            "(set DATEMAKER_RABBITMQ_USERNAME / DATEMAKER_RABBITMQ_PASSWORD)",
        )
    except (OSError, TimeoutError, AMQPConnectionError) as exc:
        return ServiceProblem("RabbitMQ", f"not reachable at {where} ({_reason(exc)})")
    await connection.close()
    return None


def _refused(exc: BaseException) -> bool:
    """A refused connection, also when wrapped (aiormq wraps the OSError in its own error's arguments)."""
    if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED:
        return True
    if "refused" in str(exc).lower() or f"[Errno {errno.ECONNREFUSED}]" in str(exc):
        return True
    return any(isinstance(arg, BaseException) and _refused(arg) for arg in exc.args)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer in {CONNECT_TIMEOUT:.0f} s"
    if _refused(exc):
        return "connection refused"
    return str(exc) or type(exc).__name__


async def check_services(settings: Settings) -> list[ServiceProblem]:
    """What keeps the demo from using PostgreSQL and RabbitMQ (empty when both answer)."""
    found = await asyncio.gather(_check_postgres(settings), _check_rabbitmq(settings))
    return [problem for problem in found if problem is not None]


def explain(problems: list[ServiceProblem]) -> str:
    """The message for services that are not there: what is wrong and exactly how to start them."""
    lines = [
        f"{p.service} is {p.detail}" if p.detail.startswith("not") else f"{p.service} {p.detail}" for p in problems
    ]
    if any(p.detail.startswith("not reachable") for p in problems):
        lines.append(HOW_TO_START)
    return "\n".join(lines)


async def recreate_database(settings: Settings) -> list[str]:
    """Drop the demo's database, create it afresh and apply every migration; the migrations applied."""
    from datemaker.adapters.postgres.migrate import ensure_database, migrate

    admin = await asyncpg.connect(settings.postgres_dsn("postgres"), timeout=CONNECT_TIMEOUT)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{settings.postgres_db}" WITH (FORCE)')
    finally:
        await admin.close()
    await ensure_database(settings.postgres_dsn("postgres"), settings.postgres_db)
    return await migrate(settings.postgres_dsn())


async def drop_database(settings: Settings) -> None:
    admin = await asyncpg.connect(settings.postgres_dsn("postgres"), timeout=CONNECT_TIMEOUT)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{settings.postgres_db}" WITH (FORCE)')
    finally:
        await admin.close()


async def delete_queues(settings: Settings) -> None:
    """Delete the demo's queues (left by an earlier run, or at the end): nothing stale reaches this run."""
    import aio_pika

    connection = await asyncio.wait_for(aio_pika.connect(settings.rabbitmq_url()), CONNECT_TIMEOUT)
    try:
        for spec in topology.queues(settings.chathub_env, settings.rabbitmq_exchange):
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(spec.name)
            with contextlib.suppress(Exception):
                await channel.close()
    finally:
        await connection.close()


async def forget_bot_state(env: str) -> None:
    """Forget the bot's dialogs and pending requests of an earlier demo (``REDIS_URL``, Redis by default)."""
    from chathub_bot.config import BotSettings
    from chathub_bot.state import forget_all

    try:
        await asyncio.wait_for(forget_all(BotSettings(_env_file=None).redis_url, env), CONNECT_TIMEOUT)
    except Exception as exc:  # Redis down: the bot says so at its start
        logger.warning("the bot's state of an earlier demo could not be forgotten: %r", exc)


async def create_event(conn: asyncpg.Connection, timeline: EventTimeline) -> int:
    """The seed's INSERT into ``dating_events``, with the compressed timeline's columns."""
    columns = timeline.columns()
    names = ", ".join(columns)
    placeholders = ", ".join(f"${i + 2}" for i in range(len(columns)))
    return await conn.fetchval(
        f"INSERT INTO public.dating_events (start_dttm, {names}) VALUES ($1, {placeholders}) RETURNING id",
        timeline.start,
        *columns.values(),
    )


@dataclass(frozen=True)
class EventProgress:
    """One look at the event's row (for the live timeline)."""

    state: str
    rounds_planned: int
    rounds_started: int
    rounds_ended: int
    rules_sent: bool
    finished: bool
    results_collected: bool
    registered: int
    confirmed: int
    asked: int
    groups: int


async def event_progress(conn: asyncpg.Connection, event_id: int) -> EventProgress:
    row = await conn.fetchrow(
        """SELECT s.state_name AS state, e.rounds_planned, e.rounds_started, e.rounds_ended,
                  e.rules_sent_at IS NOT NULL AS rules_sent, e.finished_at IS NOT NULL AS finished,
                  e.results_collected_at IS NOT NULL AS results_collected,
                  (SELECT count(*) FROM registrations r WHERE r.event_id = e.id AND r.cancelled_at IS NULL)
                      AS registered,
                  (SELECT count(*) FROM registrations r WHERE r.event_id = e.id AND r.confirmed_at IS NOT NULL)
                      AS confirmed,
                  (SELECT count(*) FROM registrations r WHERE r.event_id = e.id AND r.confirmation_sent_at IS NOT NULL)
                      AS asked,
                  (SELECT count(*) FROM event_groups g WHERE g.event_id = e.id) AS groups
           FROM dating_events e JOIN event_states s ON s.id = e.state_id WHERE e.id = $1""",
        event_id,
    )
    return EventProgress(**dict(row))


async def event_facts(conn: asyncpg.Connection, event_id: int) -> EventFacts:
    """The event and its plan as datemaker recorded them."""
    row = await conn.fetchrow(
        """SELECT e.start_dttm, e.round_seconds, e.break_seconds, e.rounds_planned, e.finished_at, s.state_name
           FROM dating_events e JOIN event_states s ON s.id = e.state_id WHERE e.id = $1""",
        event_id,
    )
    dates = await conn.fetch(
        "SELECT round_no, user_a, user_b, meeting_uri FROM event_dates WHERE event_id = $1 ORDER BY round_no, id",
        event_id,
    )
    finished: datetime | None = row["finished_at"]
    return EventFacts(
        event_id=event_id,
        start=row["start_dttm"].timestamp(),
        round_seconds=row["round_seconds"],
        break_seconds=row["break_seconds"],
        rounds=row["rounds_planned"],
        state=row["state_name"],
        finished_at=finished.timestamp() if finished else None,
        dates=tuple(RecordedDate(d["round_no"] + 1, (d["user_a"], d["user_b"]), d["meeting_uri"]) for d in dates),
    )


@dataclass(frozen=True)
class Record:
    """What datemaker stored about the event, for the summary."""

    groups: int
    dates_attended: int
    """Dates whose call both people joined, from the Meet conference records datemaker collected."""
    likes: int
    matches: int
    reports: int
    results_collected: bool


async def event_record(conn: asyncpg.Connection, event_id: int) -> Record:
    row = await conn.fetchrow(
        """SELECT
             (SELECT count(*) FROM event_groups WHERE event_id = $1) AS groups,
             (SELECT count(*) FROM (SELECT a.date_id FROM date_attendance a JOIN event_dates d ON d.id = a.date_id
                                    WHERE d.event_id = $1 GROUP BY a.date_id
                                    HAVING count(DISTINCT a.display_name) >= 2) held) AS dates_attended,
             (SELECT count(*) FROM likes WHERE event_id = $1) AS likes,
             (SELECT count(*) / 2 FROM matches WHERE event_id = $1) AS matches,
             (SELECT count(*) FROM reports WHERE event_id = $1) AS reports,
             (SELECT results_collected_at IS NOT NULL FROM dating_events WHERE id = $1) AS results_collected""",
        event_id,
    )
    return Record(**dict(row))
