"""The schedule keeper: keeps every active schedule's calendar filled and applies its demand rules.

Every few seconds each instance looks at the active schedules and works on those whose lease it holds (one
instance per schedule at a time). Each schedule's work is one transaction holding the schedule's row lock:
the slots of its horizon that have no event yet are made, an event whose waitlist reached the threshold gets
its extra night, the people waiting there are offered that night's seats (which are held for them), and
organizers are told about events far from full; the messages go to the outbox in the same transaction. The
database makes each slot, extra night and offer exist once (unique keys), so even two instances working on
one schedule (a lease lost in a restart) make nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from datemaker.domain import notices
from datemaker.domain.notices import Notice, Organizer
from datemaker.domain.schedules import (
    ScheduleState,
    extra_slot,
    missing_slots,
    seats_to_offer,
    underfilled,
    wants_extra,
)
from datemaker.service.ports import Clock, Leases, ScheduleDatabase, ScheduledEvent, ScheduleStore

logger = logging.getLogger(__name__)


class CalendarMetrics(Protocol):
    def events_created(self, by: str, count: int) -> None:
        """``by`` is ``schedule`` (a slot of the horizon) or ``demand`` (an extra night)."""
        ...

    def offers_made(self, count: int) -> None: ...

    def alerts_sent(self, count: int) -> None: ...


class NoCalendarMetrics:
    def events_created(self, by: str, count: int) -> None:
        pass

    def offers_made(self, count: int) -> None:
        pass

    def alerts_sent(self, count: int) -> None:
        pass


@dataclass
class KeepReport:
    """What one pass over a schedule did."""

    created: list[int] = field(default_factory=list)
    """Events made for the horizon."""
    extras: list[int] = field(default_factory=list)
    """Extra nights opened by demand."""
    offers: int = 0
    alerts: int = 0
    messages: list[Notice] = field(default_factory=list)


class ScheduleKeeper:
    """Runs the schedules this instance holds the lease of."""

    def __init__(
        self,
        database: ScheduleDatabase,
        leases: Leases,
        clock: Clock,
        *,
        on_messages: Callable[[], None] = lambda: None,
        metrics: CalendarMetrics | None = None,
    ) -> None:
        self._db = database
        self._leases = leases
        self._clock = clock
        self._on_messages = on_messages
        self._metrics = metrics or NoCalendarMetrics()
        self._pass: asyncio.Task[None] | None = None

    async def keep_all(self) -> None:
        """One pass: every active schedule whose lease this instance holds or takes (others' are left to them)."""
        self._pass = asyncio.current_task()  # type: ignore[assignment]
        try:
            try:
                active = await self._db.active_schedules()
            except Exception as exc:
                logger.warning("cannot read schedules: %r", exc)
                return
            for schedule_id in active:
                if not await self._leases.try_acquire(schedule_id):
                    continue
                try:
                    await self.keep(schedule_id)
                except Exception:
                    logger.exception("schedule %d: keeping its calendar failed (tried again shortly)", schedule_id)
            for schedule_id in self._leases.held - set(active):  # paused or ended: let go
                await self._leases.release(schedule_id)
        finally:
            self._pass = None

    async def keep(self, schedule_id: int) -> KeepReport:
        """Fill the schedule's horizon and apply its demand rules, in one transaction."""
        now = self._clock()
        report = KeepReport()
        async with self._db.transaction() as store:
            schedule = await store.lock_schedule(schedule_id)
            if schedule is None or schedule.state != ScheduleState.ACTIVE:
                return report
            taken = await store.event_starts(schedule.id, now)
            made = await store.create_events(schedule, missing_slots(schedule, now, taken))
            report.created = list(made.values())
            taken |= set(made)
            events = await store.open_events(schedule.id, now)
            for item in events:
                if wants_extra(schedule, item.event, item.has_extra, now):
                    start = extra_slot(schedule, item.event, now, taken)
                    if start is None:
                        continue
                    extra = await store.create_events(schedule, [start], extra_for=item.event.id)
                    report.extras += extra.values()
                    taken |= set(extra)
                    if extra:
                        logger.info("schedule %d: event %d is full, extra night %s", schedule.id, item.event.id, extra)
            if report.extras:  # the new nights take offers at once
                events = await store.open_events(schedule.id, now)
            for item in events:  # seats held for offers, extra night by extra night (each locked in turn)
                if item.extra_for is not None:
                    report.offers += await self._offer(store, item, now, report.messages)
            organizers: list[Organizer] | None = None
            for item in events:
                if item.alerted or not underfilled(schedule, item.event, now):
                    continue
                event = await store.event(item.event.id, lock=True)  # as it is now: seats held by offers just made
                if event is None or not underfilled(schedule, event, now):
                    continue
                organizers = await store.organizers() if organizers is None else organizers
                report.messages += notices.underfilled(event, schedule.id, organizers)
                report.alerts += len(organizers)
                await store.mark_alerted(event.id, now)
            await store.enqueue(report.messages)
        self._metrics.events_created("schedule", len(report.created))
        self._metrics.events_created("demand", len(report.extras))
        self._metrics.offers_made(report.offers)
        self._metrics.alerts_sent(report.alerts)
        if report.created:
            logger.info("schedule %d: made events %s", schedule_id, report.created)
        if report.messages:
            self._on_messages()
        return report

    async def _offer(self, store: ScheduleStore, item: ScheduledEvent, now: datetime, messages: list[Notice]) -> int:
        """Offer the free seats of an extra night to the people still waiting at the full event."""
        assert item.extra_for is not None
        waiting = await store.waiting_for_offer(item.extra_for, item.event.id, item.event.users_limit)
        if not waiting:
            return 0
        extra = await store.event(item.event.id, lock=True)  # its counts, as they are now that it is locked
        full = await store.event(item.extra_for)
        if extra is None or full is None:
            return 0
        chosen = waiting[: seats_to_offer(extra, now)]
        if not chosen:
            return 0
        await store.make_offers(extra.id, full.id, [person.user_id for person in chosen], now)
        messages += notices.extra_seat_offers(extra, full, chosen)
        logger.info("event %d: %d seat(s) offered to people waiting at event %d", extra.id, len(chosen), full.id)
        return len(chosen)

    async def close(self, grace: float = 5.0) -> None:
        """Let a pass in progress finish (up to ``grace`` seconds), then let go of the leases."""
        running = self._pass
        if running is not None and running is not asyncio.current_task():
            try:
                await asyncio.wait_for(asyncio.shield(running), grace)
            except Exception as exc:
                logger.warning("schedule keeper stopped mid-pass: %r", exc)
        await self._leases.close()
