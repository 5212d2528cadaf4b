"""Composition root of the datemaker service: wires the adapters to the service and runs it."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from chathub_common.ops_http import OpsServer
from chathub_common.rabbit import Broker, PublishError
from contracts import topology
from datemaker.adapters import metrics
from datemaker.adapters.meet import MeetOptions, create_meet
from datemaker.adapters.outbox_relay import OutboxRelay
from datemaker.adapters.postgres import leases
from datemaker.adapters.postgres.leases import EventLeases, PostgresInstances
from datemaker.adapters.postgres.lifecycle import PostgresLifecycleDatabase
from datemaker.adapters.postgres.migrate import ensure_database, migrate
from datemaker.adapters.postgres.retention import PostgresRetentionDatabase
from datemaker.adapters.postgres.schedules import PostgresScheduleDatabase
from datemaker.adapters.postgres.spaces import PostgresPoolDatabase
from datemaker.adapters.postgres.store import TRANSIENT_ERRORS, PostgresDatabase, create_pool
from datemaker.adapters.scheduler import TimelineScheduler
from datemaker.config import Settings
from datemaker.domain.timeline import Pacing
from datemaker.service.dispatch import CommandProcessor
from datemaker.service.intake import CommandIntake
from datemaker.service.lifecycle import EventRunner
from datemaker.service.organizer import live_calls
from datemaker.service.ports import Clock
from datemaker.service.precedence import TimelineFirst
from datemaker.service.rescue import RescueWatch
from datemaker.service.retention import purge_expired
from datemaker.service.schedules import ScheduleKeeper
from datemaker.service.space_pool import SpacePool

logger = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


async def prepare_database(settings: Settings) -> list[str]:
    """Create the database if needed and apply every pending migration."""
    await ensure_database(settings.postgres_dsn("postgres"), settings.postgres_db)
    return await migrate(settings.postgres_dsn())


async def connect_database(settings: Settings, timeout: float = 60.0) -> asyncpg.Pool:
    """A pool, retrying while PostgreSQL is starting."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await create_pool(settings.postgres_dsn(), settings.datemaker_db_pool_size)
        except TRANSIENT_ERRORS as exc:
            if loop.time() > deadline:
                raise ConnectionError(f"PostgreSQL is not reachable: {exc}") from exc
            logger.warning("PostgreSQL not reachable yet (%r); retrying", exc)
            await asyncio.sleep(1.0)


class Datemaker:
    """The running service: answers commands, runs event timelines, serves metrics and health."""

    def __init__(self, settings: Settings, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self.pool: asyncpg.Pool | None = None
        self.broker: Broker | None = None
        self.ops: OpsServer | None = None
        self.relay: OutboxRelay | None = None
        self.scheduler: TimelineScheduler | None = None
        self.runner: EventRunner | None = None
        self.space_pool: SpacePool | None = None
        self.keeper: ScheduleKeeper | None = None
        self._depths: asyncio.Task[None] | None = None
        self._rescue: asyncio.Task[None] | None = None
        self.instance_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    async def start(self) -> None:
        s = self.settings
        self.pool = await connect_database(s)
        database = PostgresDatabase(self.pool)
        self.broker = Broker(
            s.rabbitmq_url(),
            exchange=s.rabbitmq_exchange,
            env=s.chathub_env,
            connection_name="datemaker",
            prefetch=s.datemaker_prefetch,
            publish_timeout=s.publish_timeout_seconds,
        )
        await self.broker.connect()
        precedence = TimelineFirst()
        meet = metrics.MeteredMeet(
            create_meet(
                s.meet_api_endpoint,
                s.meet_tokens,
                s.meet_creds_file,
                s.meet_creations_per_minute,
                project_creations_per_minute=s.meet_project_creations_per_minute,
                options=MeetOptions(backoff_initial_seconds=s.meet_retry_seconds),
            )
        )
        intake = CommandIntake(
            CommandProcessor(database, self.clock, meet=meet),
            self.broker,
            s.bot_queue,
            transient_errors=(*TRANSIENT_ERRORS, PublishError),
            metrics=metrics.PrometheusIntakeMetrics(),
            hold_seconds=s.datemaker_hold_seconds,
            precedence=precedence,
        )
        self.ops = OpsServer(s.metrics_port, {"database": database.ping, "broker": self._broker_ready}, host=s.ops_host)
        await self.ops.start()
        await self.broker.consume(s.command_queue, intake)
        logger.info("datemaker consuming %s, replying on %s", s.command_queue, s.bot_queue)

        self.relay = OutboxRelay(self.pool, self.broker, s.bot_queue)
        self.relay.start()
        lifecycle = PostgresLifecycleDatabase(self.pool)
        pacing = Pacing(
            link_lead=timedelta(seconds=s.link_lead_seconds),
            results_delay=timedelta(seconds=s.results_delay_seconds),
        )
        self.runner = EventRunner(
            lifecycle,
            meet,
            self.clock,
            on_messages=self.relay.wake,
            on_ready=lambda event_id: self._run_soon(event_id),
            metrics=metrics.PrometheusLifecycleMetrics(),
            pacing=pacing,
            policy=s.meet_space_policy,
        )
        space_pool = self.space_pool = SpacePool(
            PostgresPoolDatabase(self.pool),
            meet,
            self.clock,
            s.meet_quota(),
            policy=s.meet_space_policy,
            link_lead=pacing.link_lead,
            on_assigned=lambda event_id: self._run_soon(event_id),
        )
        self.keeper = ScheduleKeeper(
            PostgresScheduleDatabase(self.pool),
            EventLeases(s.postgres_dsn(), namespace=leases.SCHEDULES, holder=f"datemaker {self.instance_id}"),
            self.clock,
            on_messages=self.relay.wake,
            metrics=metrics.PrometheusCalendarMetrics(),
        )
        self.scheduler = TimelineScheduler(
            self.runner,
            lifecycle,
            EventLeases(s.postgres_dsn(), holder=f"datemaker {self.instance_id}"),
            self.clock,
            reconcile_seconds=s.reconcile_seconds,
            on_reconciled=metrics.reconciled,
            daily=self._purge_expired,
            calendar=self.keeper.keep_all,
            precedence=precedence,
            instances=PostgresInstances(self.pool, self.instance_id, ttl=max(3 * s.reconcile_seconds, 3.0)),
            pool=space_pool,
            on_outlook=metrics.spaces_outlook,
        )
        self.scheduler.start()
        self._depths = asyncio.create_task(self._refresh_queue_depths(), name="queue-depths")
        watch = RescueWatch(database, live_calls(meet), self.clock, every=s.reconcile_seconds)
        self._rescue = asyncio.create_task(self._watch_rounds(watch, s.reconcile_seconds), name="rescue-watch")

    def _run_soon(self, event_id: int) -> None:
        """The event's next steps may be due now (a space came, a call ended)."""
        if self.scheduler is not None:
            self.scheduler.schedule(event_id, self.clock())

    async def _purge_expired(self) -> None:
        """Data retention (daily): personal data of events over for RETENTION_DAYS is deleted."""
        assert self.pool is not None
        await purge_expired(PostgresRetentionDatabase(self.pool), self.clock(), self.settings.retention_days)

    async def _watch_rounds(self, watch: RescueWatch, every: float) -> None:
        """From a quarter to three quarters of each round in, re-pair people whose partner never joined (see
        ``service.rescue``)."""
        while True:
            try:
                rescued = await watch.check()
                if rescued and self.relay is not None:
                    self.relay.wake()
            except TRANSIENT_ERRORS as exc:
                logger.warning("the rescue watch could not check rounds: %r", exc)
            except Exception:
                logger.exception("the rescue watch failed; it tries again")
            await asyncio.sleep(every)

    async def _refresh_queue_depths(self, every: float = 5.0) -> None:
        """Messages waiting in datemaker's queue and in both dead-letter queues (collectors cannot ask the broker)."""
        queues = [
            self.settings.command_queue,
            topology.dead_letter_queue(self.settings.command_queue),
            topology.dead_letter_queue(self.settings.bot_queue),
        ]
        while True:
            for queue in queues:
                try:
                    assert self.broker is not None
                    metrics.QUEUE_DEPTH.labels(queue).set(await self.broker.queue_depth(queue))
                except Exception as exc:  # the broker is away: keep the last figure
                    logger.debug("queue depth of %s unknown: %r", queue, exc)
            await asyncio.sleep(every)

    async def _broker_ready(self) -> bool:
        return self.broker is not None and self.broker.connected

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking commands and running events, let work in flight finish, then disconnect."""
        if self._depths is not None:
            self._depths.cancel()
        if self._rescue is not None:
            self._rescue.cancel()
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.keeper is not None:
            await self.keeper.close()
        if self.relay is not None:
            await self.relay.stop()
        if self.broker is not None:
            await self.broker.stop_consuming(grace)
            await self.broker.close()
        if self.ops is not None:
            await self.ops.stop()
        if self.pool is not None:
            await self.pool.close()


async def serve(settings: Settings, *, apply_migrations: bool = True) -> None:
    """Run datemaker until SIGINT or SIGTERM."""
    if apply_migrations:
        for step in await prepare_database(settings):
            logger.info("applied migration %s", step)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    service = Datemaker(settings)
    try:
        await service.start()
        await stop.wait()
        logger.info("stopping")
    finally:
        await service.stop()
