"""Schedules every event's next step with APScheduler, rebuilt from the database.

The job store is in memory and holds one date job per event (job id ``event:<id>``) for its next due
step; a reconcile job re-reads every active event every few seconds, so a lost or stale job costs at
most that long. Late jobs run late rather than being skipped (no misfire grace limit). An instance
runs only the events whose lease it holds; spaces for READY and RUNNING events are prepared in the
background.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from datemaker.adapters.postgres.leases import EventLeases
from datemaker.domain.events import EventState
from datemaker.service.lifecycle import EventRunner
from datemaker.service.ports import Clock, LifecycleDatabase

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
    ) -> None:
        self._runner = runner
        self._db = database
        self._leases = leases
        self._clock = clock
        self._reconcile_seconds = reconcile_seconds
        self._daily = daily
        self._on_reconciled = on_reconciled
        self._scheduler = AsyncIOScheduler(
            timezone=UTC, job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1}
        )
        self._preparers: dict[int, asyncio.Task[None]] = {}
        self._running: dict[int, asyncio.Task[object]] = {}
        self._rerun: set[int] = set()
        self.idle = asyncio.Event()
        """Set while no event's steps are being carried out: other work may wait for it, so that the
        timeline is never delayed by a backlog of commands."""
        self.idle.set()

    def start(self) -> None:
        self._scheduler.add_job(
            self.reconcile,
            IntervalTrigger(seconds=self._reconcile_seconds, timezone=UTC),
            id="reconcile",
            next_run_time=datetime.now(UTC),
        )
        if self._daily is not None:  # housekeeping (data retention): a minute after start, then daily
            # (an `async def`: APScheduler awaits coroutine functions, and runs anything else in a thread)
            self._scheduler.add_job(
                self._daily,
                IntervalTrigger(days=1, timezone=UTC),
                id="daily",
                next_run_time=datetime.now(UTC) + timedelta(minutes=1),
            )
        self._scheduler.start()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop scheduling; let steps in progress finish (up to ``grace`` seconds), then let go of leases."""
        self._scheduler.shutdown(wait=False)
        for task in self._preparers.values():
            task.cancel()
        running = list(self._running.values())
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
        await asyncio.gather(*self._preparers.values(), *running, return_exceptions=True)
        await self._runner.drain()
        await self._leases.close()

    async def reconcile(self) -> None:
        """Schedule the next step of every active event this instance may run."""
        try:
            events = await self._db.active_events()
        except Exception as exc:
            logger.warning("cannot read events to schedule: %r", exc)
            return
        now = self._clock()
        counts: dict[EventState, int] = {}
        active = set()
        for event, progress in events:
            counts[progress.state] = counts.get(progress.state, 0) + 1
            step = self._runner.next_step(event, progress, now)
            if step is None or not await self._leases.try_acquire(event.id):
                continue
            active.add(event.id)
            if event.id not in self._running:  # a run in progress schedules its own next step
                self.schedule(event.id, step.due_at)
            if progress.state in (EventState.READY, EventState.RUNNING):
                self._prepare_spaces(event.id)
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
        self.idle.clear()
        try:
            report = await self._runner.run_due(event_id)
        finally:
            del self._running[event_id]
            if not self._running:
                self.idle.set()
        if event_id in self._rerun:
            self._rerun.discard(event_id)
            self.schedule(event_id, datetime.now(UTC))
        elif report.next is not None:
            self.schedule(event_id, report.next.due_at)

    def _prepare_spaces(self, event_id: int) -> None:
        running = self._preparers.get(event_id)
        if running is not None and not running.done():
            return

        async def prepare() -> None:
            try:
                if await self._runner.prepare_spaces(event_id, on_space=lambda: self.schedule(event_id, self._clock())):
                    self.schedule(event_id, self._clock())
            except Exception:
                logger.exception("event %d: preparing Meet spaces failed", event_id)

        self._preparers[event_id] = asyncio.create_task(prepare(), name=f"spaces:{event_id}")
