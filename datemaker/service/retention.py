"""Data retention: the personal data of finished events is deleted after a number of days, anonymous
counts of each event are kept, and the profiles of people who stopped coming are erased.

What goes: who joined each call (``date_attendance``), the free-text reasons of reports, the event's
messages to the bot (``outbox``), idempotency records (``processed_messages``) after a week (they only
have to outlive a redelivery), and the profile of anyone who neither changed it nor registered for an
event during the period and holds no registration for an event to come (erased as ``delete_my_data``
erases it).
What stays: the event, its registrations, plan and verdicts (the planner needs them to keep reported
pairs apart and to avoid repeat dates), and ``event_stats``: the counts, computed once before the
first deletion.

An event is over when it is FINISHED (with its results collected: the runner may still write
attendance before that), SKIPPED or CANCELLED; its period runs from when it closed. Each event is
purged in a transaction of its own, so a job stopped half-way leaves every event either untouched or
done, and running it again is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from datemaker.domain.events import EventState
from datemaker.domain.timeline import TERMINAL

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpiredEvent:
    """An event past its retention period that still has personal data, or no counts yet."""

    event_id: int
    closed_at: datetime
    state: EventState


@dataclass(frozen=True)
class PurgedData:
    """What was deleted of one event's personal data."""

    attendance: int = 0
    """Rows of ``date_attendance``: who joined which call."""
    report_reasons: int = 0
    """Free-text reasons of reports (the reports themselves stay)."""
    messages: int = 0
    """Rows of ``outbox``: the event's messages to the bot."""

    @property
    def total(self) -> int:
        return self.attendance + self.report_reasons + self.messages


@dataclass(frozen=True)
class PurgedEvent:
    event: ExpiredEvent
    stats_saved: bool
    """The event's counts were computed by this run (they are computed once)."""
    purged: PurgedData


@dataclass
class RetentionReport:
    """What one run of :func:`purge_expired` did (or, in a dry run, would have done)."""

    cutoff: datetime
    """Personal data of events that closed before this moment is deleted."""
    dry_run: bool
    events: list[PurgedEvent] = field(default_factory=list)
    processed_messages: int = 0
    """Idempotency records older than :data:`IDEMPOTENCY_WINDOW`."""
    stray_messages: int = 0
    """Outbox rows of no event older than the cutoff."""
    erased_profiles: int = 0
    """Profiles of people inactive since before the cutoff."""

    @property
    def total(self) -> int:
        events = sum(e.purged.total for e in self.events)
        return events + self.processed_messages + self.stray_messages + self.erased_profiles


class RetentionStore(Protocol):
    """Reads and writes of the retention job, inside one transaction."""

    async def expired_events(self, cutoff: datetime, states: Sequence[EventState]) -> list[ExpiredEvent]:
        """Events in ``states`` that closed before ``cutoff`` (a FINISHED one only once its results are
        collected) and either have no counts saved yet or still have personal data; oldest first."""
        ...

    async def lock_event(self, event_id: int) -> bool:
        """Lock the event's row for the transaction; False if it is gone."""
        ...

    async def save_stats(self, event_id: int, now: datetime) -> bool:
        """Compute and store the event's counts unless they are stored already; True when stored now."""
        ...

    async def purge_event(self, event_id: int, now: datetime) -> PurgedData:
        """Delete the event's personal data (its counts must be saved first)."""
        ...

    async def purge_processed_messages(self, before: datetime) -> int: ...

    async def purge_stray_messages(self, before: datetime) -> int:
        """Outbox rows that belong to no event."""
        ...

    async def erase_inactive_profiles(self, before: datetime, now: datetime) -> int:
        """Erase the profiles not changed since ``before`` of people with no registration since then and none
        for an event not over; how many."""
        ...


class RetentionDatabase(Protocol):
    def transaction(self, *, rollback: bool = False) -> AbstractAsyncContextManager[RetentionStore]:
        """A transaction, committed when the block ends (rolled back instead with ``rollback``, for a
        dry run), rolled back when it raises."""
        ...


IDEMPOTENCY_WINDOW = timedelta(days=7)
"""How long a command's reply is kept to answer a redelivery of it (redeliveries come within minutes)."""
FINISHED_STATES: tuple[EventState, ...] = tuple(sorted(TERMINAL))
"""States an event does not leave: FINISHED, SKIPPED, CANCELLED."""


def retention_cutoff(now: datetime, days: int) -> datetime:
    """Data of events that closed before this moment is past its retention period."""
    if days < 1:
        raise ValueError(f"the retention period must be at least one day, not {days}")
    return now - timedelta(days=days)


async def purge_expired(
    database: RetentionDatabase,
    now: datetime,
    retention_days: int,
    *,
    dry_run: bool = False,
    on_start: Callable[[int], None] = lambda _: None,
    on_event: Callable[[PurgedEvent], None] = lambda _: None,
) -> RetentionReport:
    """Delete the personal data of events that closed more than ``retention_days`` before ``now``,
    after storing their counts; old idempotency records; and the profiles of people inactive that long.
    Safe to run at any time, in several processes at once; meant to be called once a day.

    ``dry_run`` does all the work in transactions that are rolled back: the report tells exactly what a
    real run would delete, and nothing changes. ``on_start`` is told how many events are due, ``on_event``
    is called after each of them (for progress).
    """
    cutoff = retention_cutoff(now, retention_days)
    report = RetentionReport(cutoff=cutoff, dry_run=dry_run)
    async with database.transaction(rollback=True) as store:
        expired = await store.expired_events(cutoff, FINISHED_STATES)
    on_start(len(expired))
    for event in expired:
        async with database.transaction(rollback=dry_run) as store:
            if not await store.lock_event(event.event_id):
                continue
            saved = await store.save_stats(event.event_id, now)
            purged = await store.purge_event(event.event_id, now)
        if saved or purged.total:  # else another job did it meanwhile
            done = PurgedEvent(event, saved, purged)
            report.events.append(done)
            on_event(done)
    async with database.transaction(rollback=dry_run) as store:
        report.processed_messages = await store.purge_processed_messages(min(cutoff, now - IDEMPOTENCY_WINDOW))
        report.stray_messages = await store.purge_stray_messages(cutoff)
        report.erased_profiles = await store.erase_inactive_profiles(cutoff, now)
    logger.info(
        "retention%s: %d events past %s, %d records of personal data deleted",
        " (dry run)" if dry_run else "",
        len(report.events),
        cutoff.isoformat(),
        report.total,
    )
    return report
