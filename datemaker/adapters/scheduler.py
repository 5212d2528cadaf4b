"""Schedules every event's next step with APScheduler, rebuilt from the database.

The job store is in memory and holds one date job per event (job id ``event:<id>``) for its next due
step; a reconcile job re-reads every active event every few seconds, so a lost or stale job costs at
most that long. Late jobs run late rather than being skipped (no misfire grace limit). An instance
runs the events that rendezvous hashing gives it among the living instances (``service.instances``),
each under its lease; the one that the space pool falls to fills it, in the background.
The calendar (the schedules' keeper) runs as often, beside the events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from datemaker.adapters.postgres.leases import EventLeases
from datemaker.domain.events import EventState
from datemaker.domain.spaces import Outlook
from datemaker.service.instances import POOL_KEY, Instances, owner
from datemaker.service.lifecycle import EventRunner
from datemaker.service.ports import Clock, LifecycleDatabase
from datemaker.service.precedence import TimelineFirst
from datemaker.service.space_pool import SpacePool

logger = logging.getLogger(__name__)


class TimelineScheduler:
    def __init__(
        self,
        runner: EventRunner,
        database: LifecycleDatabase,
        leases: EventLeases,
        clock: Clock,
        *,
        reconcile_seconds: float = 2.0,
        on_reconciled: Callable[[dict[EventState, int], int], None] = lambda counts, conferences: None,
        daily: Callable[[], Coroutine[Any, Any, object]] | None = None,
        calendar: Callable[[], Coroutine[Any, Any, object]] | None = None,
        precedence: TimelineFirst | None = None,
        instances: Instances | None = None,
        pool: SpacePool | None = None,
        on_outlook: Callable[[dict[int, Outlook]], None] = lambda outlook: None,
    ) -> None:
        self._runner = runner
        self._db = database
        self._leases = leases
        self._clock = clock
        self._reconcile_seconds = reconcile_seconds
        self._daily = daily
        self._calendar = calendar
        self._on_reconciled = on_reconciled
        self._scheduler = AsyncIOScheduler(
            timezone=UTC, job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1}
        )
        self._running: dict[int, asyncio.Task[object]] = {}
        self._rerun: set[int] = set()
        self._precedence = precedence or TimelineFirst()
        self._instances = instances
        self._pool = pool
        self._on_outlook = on_outlook
        self._filler: asyncio.Task[None] | None = None
        self._jobs: set[asyncio.Task[object]] = set()
        self._stopping = False

    def _tracked(self, job: Callable[[], Coroutine[Any, Any, object]]) -> Callable[[], Coroutine[Any, Any, None]]:
        """``job`` as APScheduler runs it, its run known to ``stop`` (APScheduler's shutdown cancels a coroutine
        job mid-query; stopping waits for it instead)."""

        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None
            self._jobs.add(task)
            try:
                await job()
            finally:
                self._jobs.discard(task)

        run.__qualname__ = getattr(job, "__qualname__", "job")
        return run

    def start(self) -> None:
        self._scheduler.add_job(
            self._tracked(self.reconcile),
            IntervalTrigger(seconds=self._reconcile_seconds, timezone=UTC),
            id="reconcile",
            next_run_time=datetime.now(UTC),
        )
        if self._calendar is not None:  # schedules: events made ahead, demand rules
            self._scheduler.add_job(
                self._tracked(self._calendar),
                IntervalTrigger(seconds=self._reconcile_seconds, timezone=UTC),
                id="calendar",
                next_run_time=datetime.now(UTC),
            )
        if self._daily is not None:  # housekeeping (data retention): a minute after start, then daily
            # (an `async def`: APScheduler awaits coroutine functions, and runs anything else in a thread)
            self._scheduler.add_job(
                self._tracked(self._daily),
                IntervalTrigger(days=1, timezone=UTC),
                id="daily",
                next_run_time=datetime.now(UTC) + timedelta(minutes=1),
            )
        self._scheduler.start()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop scheduling; let the jobs and steps in progress finish (up to ``grace`` seconds each), then let go
        of leases."""
        self._stopping = True
        self._scheduler.pause()
        if self._jobs:
            await asyncio.wait(list(self._jobs), timeout=grace)
        self._scheduler.shutdown(wait=False)
        if self._filler is not None:
            self._filler.cancel()
        running = list(self._running.values())
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
        await asyncio.gather(*([self._filler] if self._filler else []), *running, return_exceptions=True)
        await self._runner.drain()
        if self._instances is not None:
            with contextlib.suppress(Exception):
                await self._instances.leave()
        await self._leases.close()

    async def reconcile(self) -> None:
        """Schedule the next step of every active event this instance runs, and fill the pool if it is ours."""
        try:
            events = await self._db.active_events()
            alive = await self._instances.alive() if self._instances is not None else None
        except Exception as exc:
            logger.warning("cannot read events to schedule: %r", exc)
            return
        now = self._clock()
        counts: dict[EventState, int] = {}
        active = set()
        for event, progress in events:
            counts[progress.state] = counts.get(progress.state, 0) + 1
            step = self._runner.next_step(event, progress, now)
            if step is None or not self._ours(event.id, alive) or not await self._leases.try_acquire(event.id):
                continue
            active.add(event.id)
            if event.id not in self._running:  # a run in progress schedules its own next step
                self.schedule(event.id, step.due_at)
        if self._pool is not None and self._ours(POOL_KEY, alive) and await self._leases.try_acquire(POOL_KEY):
            active.add(POOL_KEY)
            if self._filler is None or self._filler.done():
                self._filler = asyncio.create_task(self._fill(), name="space-pool")
        elif self._filler is not None and not self._filler.done():
            self._filler.cancel()
        for event_id in self._leases.held - active:
            await self._leases.release(event_id)
        try:
            conferences = await self._db.active_conferences()
        except Exception as exc:
            logger.warning("cannot count active conferences: %r", exc)
            return
        self._on_reconciled(counts, conferences)

    def schedule(self, event_id: int, due_at: datetime) -> None:
        """Run the event's due steps at ``due_at`` (at once if past; after the run in progress, if any)."""
        if event_id in self._running and due_at <= datetime.now(UTC):
            self._rerun.add(event_id)
            return
        self._scheduler.add_job(
            self._run,
            DateTrigger(run_date=max(due_at, datetime.now(UTC)), timezone=UTC),
            args=[event_id],
            id=f"event:{event_id}",
            replace_existing=True,
        )

    async def _run(self, event_id: int) -> None:
        if not await self._leases.try_acquire(event_id):
            return
        self._running[event_id] = asyncio.current_task()  # type: ignore[assignment]
        try:
            with self._precedence.step():
                report = await self._runner.run_due(event_id)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # cut short by stop after its grace: the step's transaction rolled back, and it runs again at the
            # next start (said in one line, not as a traceback)
            logger.info("event %d: a step still running at stop was cut short; it runs again later", event_id)
            return
        finally:
            del self._running[event_id]
        if event_id in self._rerun:
            self._rerun.discard(event_id)
            self.schedule(event_id, datetime.now(UTC))
        elif report.next is not None:
            self.schedule(event_id, report.next.due_at)

    def _ours(self, key: int, alive: list[str] | None) -> bool:
        return alive is None or self._instances is None or owner(key, alive) == self._instances.instance_id

    async def _fill(self) -> None:
        """Fill the space pool for as long as this instance holds its lease (cancelled when it does not)."""
        assert self._pool is not None
        looked = 0.0
        try:
            while True:
                try:
                    report = await self._pool.fill(budget=max(self._reconcile_seconds, 0.5))
                    if time.monotonic() - looked > max(10.0, self._reconcile_seconds):
                        looked = time.monotonic()
                        self._on_outlook(await self._pool.outlook(self._clock()))
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("filling the Meet space pool failed")
                    report = None
                if report is None or report.idle:
                    await asyncio.sleep(self._reconcile_seconds)
        finally:
            await self._pool.stop()
