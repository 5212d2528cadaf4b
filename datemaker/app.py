"""Composition root of the datemaker service: wires the adapters to the service and runs it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import UTC, datetime, timedelta

import asyncpg

from chathub_common.delivery import Disposition
from chathub_common.ops_http import OpsServer
from chathub_common.rabbit import Broker, PublishError
from contracts import topology
from contracts.envelope import Incoming
from datemaker.adapters import metrics
from datemaker.adapters.meet import MeetOptions, create_meet
from datemaker.adapters.outbox_relay import OutboxRelay
from datemaker.adapters.postgres.leases import EventLeases
from datemaker.adapters.postgres.lifecycle import PostgresLifecycleDatabase
from datemaker.adapters.postgres.migrate import ensure_database, migrate
from datemaker.adapters.postgres.retention import PostgresRetentionDatabase
from datemaker.adapters.postgres.store import TRANSIENT_ERRORS, PostgresDatabase, create_pool
from datemaker.adapters.scheduler import TimelineScheduler
from datemaker.config import Settings
from datemaker.domain.timeline import Pacing
from datemaker.service.dispatch import CommandProcessor
from datemaker.service.intake import CommandIntake
from datemaker.service.lifecycle import EventRunner
from datemaker.service.ports import Clock
from datemaker.service.retention import purge_expired

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
        self._depths: asyncio.Task[None] | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

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
        intake = CommandIntake(
            CommandProcessor(database, self.clock),
            self.broker,
            s.bot_queue,
            transient_errors=(*TRANSIENT_ERRORS, PublishError),
            metrics=metrics.PrometheusIntakeMetrics(),
        )

        async def consume(incoming: Incoming) -> Disposition:
            self._in_flight += 1
            self._idle.clear()
            try:
                if self.scheduler is not None:  # an event's step first: links are due, commands can wait a moment
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(2.0):
                            await self.scheduler.idle.wait()
                return await intake(incoming)
            finally:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.set()

        self.ops = OpsServer(s.metrics_port, {"database": database.ping, "broker": self._broker_ready})
        await self.ops.start()
        await self.broker.consume(s.command_queue, consume)
        logger.info("datemaker consuming %s, replying on %s", s.command_queue, s.bot_queue)

        self.relay = OutboxRelay(self.pool, self.broker, s.bot_queue)
        self.relay.start()
        lifecycle = PostgresLifecycleDatabase(self.pool)
        self.runner = EventRunner(
            lifecycle,
            metrics.MeteredMeet(
                create_meet(
                    s.meet_api_endpoint,
                    s.meet_token_file,
                    s.meet_creds_file,
                    s.meet_creations_per_minute,
                    options=MeetOptions(backoff_initial_seconds=s.meet_retry_seconds),
                )
            ),
            self.clock,
            on_messages=self.relay.wake,
            metrics=metrics.PrometheusLifecycleMetrics(),
            pacing=Pacing(
                link_lead=timedelta(seconds=s.link_lead_seconds),
                results_delay=timedelta(seconds=s.results_delay_seconds),
            ),
        )
        self.scheduler = TimelineScheduler(
            self.runner,
            lifecycle,
            EventLeases(s.postgres_dsn()),
            self.clock,
            reconcile_seconds=s.reconcile_seconds,
            on_reconciled=metrics.reconciled,
            daily=self._purge_expired,
        )
        self.scheduler.start()
        self._depths = asyncio.create_task(self._refresh_queue_depths(), name="queue-depths")

    async def _purge_expired(self) -> None:
        """Data retention (daily): personal data of events over for RETENTION_DAYS is deleted."""
        assert self.pool is not None
        await purge_expired(PostgresRetentionDatabase(self.pool), self.clock(), self.settings.retention_days)

    async def _refresh_queue_depths(self, every: float = 5.0) -> None:
        """Messages waiting in datemaker's queue and its dead-letter queue (collectors cannot ask the broker)."""
        queues = [self.settings.command_queue, topology.dead_letter_queue(self.settings.command_queue)]
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
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.relay is not None:
            await self.relay.stop()
        if self.broker is not None:
            await self.broker.stop_consuming()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await self._idle.wait()
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
