"""The pool of Meet spaces: made ahead of need within Google's quota, shared by every event, given to dates.

One datemaker instance fills the pool at a time (the scheduler holds its lease). A round of :meth:`fill`
reads what the events want: each planned event's dates that have no space yet, and for each event not yet
planned the most dates (or, under ``reuse``, tables) its registrants can produce. Free spaces go to dates at
once, those that cannot reuse a space first, earliest deadline first (``domain.spaces``); then spaces are
made, through whichever account's quota frees first, each one given to the neediest date the moment it
exists, until the pool holds what the events want or the round's time is up. A creation waiting for the
quota's next slot when the round's time is up is not cancelled: it keeps its place in the quota and the next
round takes its space (cancelled, each short round would give up a slot several seconds away and Google's 10
a minute would never be reached). A date given a space after its round's links went out is invited by the
event's runner at once (``on_assigned``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from datemaker.domain.events import Event
from datemaker.domain.spaces import (
    DateNeed,
    EventNeed,
    Outlook,
    Quota,
    RoundNeed,
    SpacePolicy,
    fresh_order,
    most_dates,
    most_tables,
    outlook,
    spaces_wanted,
)
from datemaker.domain.timeline import LINK_LEAD, links_at
from datemaker.service.ports import Clock, Meet, MeetError, MeetSpace

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UnspacedDate:
    """A date of a planned event with no space yet (and not invited)."""

    date_id: int
    event: Event
    round_no: int
    can_reuse: bool


@dataclass(frozen=True)
class UnplannedEvent:
    """An event not planned yet, and who holds its seats."""

    event: Event
    women: int
    men: int


class PoolDatabase(Protocol):
    """The pool's reads and writes (each a short transaction of its own)."""

    async def free_spaces(self) -> int:
        """Spaces in the pool no date holds."""
        ...

    async def unspaced_dates(self) -> list[UnspacedDate]: ...

    async def unplanned_events(self) -> list[UnplannedEvent]: ...

    async def spaces_held(self) -> dict[int, int]:
        """Event id → spaces its dates hold (planned events)."""
        ...

    async def assign(self, date_ids: list[int]) -> list[tuple[int, int]]:
        """Give free spaces to these dates, in order, while there are some (a date that got one meanwhile, or
        was invited, is skipped); the (date id, event id) given one."""
        ...

    async def add_space(self, space: MeetSpace, now: datetime) -> None: ...


@dataclass
class FillReport:
    created: int = 0
    assigned: int = 0
    wanted: int = 0
    """Spaces the events wanted beyond the pool when the round began."""
    failed: bool = False
    """Meet refused a creation (the round stopped there)."""

    @property
    def idle(self) -> bool:
        """Whether the next round can wait: the pool had what the events want, or Meet failed. A round cut short
        by the quota is not idle: the next one goes on at once, its creation already waiting for its slot."""
        return self.failed or self.created >= self.wanted


class SpacePool:
    """Fills the pool and hands its spaces out; see the module docstring."""

    def __init__(
        self,
        database: PoolDatabase,
        meet: Meet,
        clock: Clock,
        quota: Quota,
        *,
        policy: SpacePolicy = SpacePolicy.AUTO,
        link_lead: timedelta = LINK_LEAD,
        on_assigned: Callable[[int], None] = lambda event_id: None,
    ) -> None:
        self._db = database
        self._meet = meet
        self._clock = clock
        self.quota = quota
        self.policy = policy
        self._link_lead = link_lead
        self._on_assigned = on_assigned
        self._making: asyncio.Task[MeetSpace] | None = None
        """A creation under way (waiting for its quota slot, or called), carried over from round to round."""

    def _deadline(self, event: Event, round_no: int) -> datetime:
        return links_at(event, round_no, self._link_lead)

    async def fill(self, budget: float = 10.0) -> FillReport:
        """One round: hand out free spaces, then make and hand out more for up to ``budget`` seconds."""
        report = FillReport()
        deadline = time.monotonic() + budget
        unspaced = await self._db.unspaced_dates()
        needs = fresh_order(
            (DateNeed(d.date_id, self._deadline(d.event, d.round_no), d.can_reuse) for d in unspaced), self.policy
        )
        queue = [need.date_id for need in needs]
        given = await self._assign(queue)
        report.assigned += len(given)
        done = {date_id for date_id, _ in given}
        queue = [date_id for date_id in queue if date_id not in done]
        unplanned = sum(
            spaces_wanted(u.women, u.men, u.event.max_rounds, u.event.mode, self.policy)
            for u in await self._db.unplanned_events()
        )
        report.wanted = len(queue) + unplanned - await self._db.free_spaces()
        while (report.created < report.wanted or self._making is not None) and time.monotonic() < deadline:
            if self._making is None:
                self._making = asyncio.create_task(self._meet.create_space(), name="meet-space")
            done, _ = await asyncio.wait({self._making}, timeout=max(0.1, deadline - time.monotonic()))
            if not done:
                break  # the quota's next slot is beyond this round: the creation waits on into the next one
            making, self._making = self._making, None
            try:
                space = making.result()
            except MeetError as exc:
                logger.warning("Meet space not made: %s", exc)
                report.failed = True
                break
            await self._db.add_space(space, self._clock())
            report.created += 1
            if queue:
                given = await self._assign(queue)
                report.assigned += len(given)
                done = {date_id for date_id, _ in given}
                queue = [date_id for date_id in queue if date_id not in done]
        if report.created or report.assigned:
            logger.info(
                "space pool: %d made, %d given to dates, %d more wanted",
                report.created,
                report.assigned,
                max(0, report.wanted - report.created),
            )
        return report

    async def stop(self) -> None:
        """Give up the creation under way, if any (this instance no longer fills the pool)."""
        making, self._making = self._making, None
        if making is not None and not making.done():
            making.cancel()
            with contextlib.suppress(asyncio.CancelledError, MeetError):
                await making

    async def _assign(self, queue: list[int]) -> list[tuple[int, int]]:
        if not queue:
            return []
        given = await self._db.assign(queue)
        for event_id in sorted({event_id for _, event_id in given}):
            self._on_assigned(event_id)
        return given

    async def outlook(self, now: datetime, also: Sequence[UnplannedEvent] = ()) -> dict[int, Outlook]:
        """Whether each event not over can have its spaces in time (see ``domain.spaces.outlook``); ``also``:
        events as they would be with other seats taken (a new event when full), in place of how they are."""
        held = await self._db.spaces_held()
        by_event: dict[int, list[UnspacedDate]] = {}
        events: dict[int, Event] = {}
        for date in await self._db.unspaced_dates():
            by_event.setdefault(date.event.id, []).append(date)
            events[date.event.id] = date.event
        needs: list[EventNeed] = []
        for event_id, dates in by_event.items():
            event = events[event_id]
            rounds: dict[int, list[UnspacedDate]] = {}
            for date in dates:
                rounds.setdefault(date.round_no, []).append(date)
            needs.append(
                EventNeed(
                    event_id,
                    tuple(
                        RoundNeed(
                            self._deadline(event, round_no),
                            fresh=len(in_round),
                            new_tables=sum(1 for d in in_round if not d.can_reuse),
                        )
                        for round_no, in_round in sorted(rounds.items())
                    ),
                    ready=held.get(event_id, 0),
                )
            )
        instead = {unplanned.event.id for unplanned in also}
        for unplanned in [u for u in await self._db.unplanned_events() if u.event.id not in instead] + list(also):
            need = self._most_asked(unplanned)
            if need is not None:
                needs.append(need)
        return outlook(needs, await self._db.free_spaces(), self.quota, now)

    def _most_asked(self, unplanned: UnplannedEvent) -> EventNeed | None:
        """The most an event not planned yet can ask of the pool, round by round, with the seats taken as they are."""
        event = unplanned.event
        tables = most_tables(unplanned.women, unplanned.men, event.mode)
        if not tables:
            return None
        rounds = []
        left = most_dates(unplanned.women, unplanned.men, event.max_rounds, event.mode)
        for round_no in range(event.max_rounds):
            count = min(tables, left)
            if count <= 0:
                break
            rounds.append(RoundNeed(self._deadline(event, round_no), count, count if round_no == 0 else 0))
            left -= count
        return EventNeed(event.id, tuple(rounds))
