"""Meet spaces for dates under Google's quota: how many an event may need, which dates get one first, when
a table may reuse its space, and whether the quota can make them in time. Pure: time is an argument.

Google lets one account create 10 spaces a minute and a Cloud project 100. A space lives until it is
deleted, and ending its call frees it for the next one: a space can serve one table of an event round after
round. The policy says what datemaker prefers:

- ``fresh``: a new space for every date (a link never opens a later date's call);
- ``reuse``: a space per table, kept from round to round (its call ended in between);
- ``auto`` (the default): a fresh space while the quota gives one in time, else the table's space again.

Spaces are made ahead into a pool shared by all events, from the moment seats are taken; they are given to
dates earliest deadline first (a date's deadline is when its round's links go out), dates that could not
reuse a space (a round's first use of a table) before those that could.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

ACCOUNT_CREATIONS_PER_MINUTE = 10
"""Google's ``spaces.create`` quota per user (account) of a Cloud project ("Usage limits")."""
PROJECT_CREATIONS_PER_MINUTE = 100
"""... and per project, all its accounts together."""


class SpacePolicy(StrEnum):
    FRESH = "fresh"
    REUSE = "reuse"
    AUTO = "auto"

    @property
    def reuses(self) -> bool:
        """A table may keep its space for its next date."""
        return self is not SpacePolicy.FRESH

    @property
    def recycles(self) -> bool:
        """A space whose call ended goes back to the pool (``fresh`` uses each space once)."""
        return self is not SpacePolicy.FRESH


def most_tables(women: int, men: int, mode: str = "bipartite") -> int:
    """The most dates one round of an event can hold (every table busy)."""
    if mode == "open":
        return (women + men) // 2
    return min(women, men)


def most_dates(women: int, men: int, max_rounds: int, mode: str = "bipartite") -> int:
    """The most dates an event's registrants can have: a table each round, no pair twice."""
    if mode == "open":
        people = women + men
        return min(max_rounds * (people // 2), people * (people - 1) // 2)
    return min(max_rounds * min(women, men), women * men)


def spaces_wanted(women: int, men: int, max_rounds: int, mode: str, policy: SpacePolicy) -> int:
    """Spaces an event may need under ``policy``: a space per date, or (reuse) a space per table."""
    if policy is SpacePolicy.REUSE:
        return most_tables(women, men, mode)
    return most_dates(women, men, max_rounds, mode)


@dataclass(frozen=True)
class DateNeed:
    """A date of a planned event that has no space yet."""

    date_id: int
    deadline: datetime
    """When its round's links go out."""
    can_reuse: bool
    """Its table had a date the round before, whose space it may take over."""


def fresh_order(needs: Iterable[DateNeed], policy: SpacePolicy) -> list[DateNeed]:
    """The dates to give fresh spaces to, in order: those that cannot reuse a space first, then (unless the
    policy is ``reuse``) the others, each earliest deadline first."""
    ordered = sorted(needs, key=lambda need: (need.can_reuse, need.deadline, need.date_id))
    if policy is SpacePolicy.REUSE:
        return [need for need in ordered if not need.can_reuse]
    return ordered


def reuses_now(policy: SpacePolicy, can_reuse: bool, has_fresh: bool) -> bool:
    """Whether a date about to get its link takes over its table's space: under ``reuse`` always (when it
    can), under ``auto`` only when no fresh space came in time, under ``fresh`` never."""
    if not can_reuse or policy is SpacePolicy.FRESH:
        return False
    return policy is SpacePolicy.REUSE or not has_fresh


@dataclass(frozen=True)
class Quota:
    """How fast spaces can be made: ``accounts`` Google accounts of one Cloud project."""

    accounts: int = 1
    per_account_per_minute: float = ACCOUNT_CREATIONS_PER_MINUTE
    per_project_per_minute: float = PROJECT_CREATIONS_PER_MINUTE

    @property
    def per_second(self) -> float:
        return min(self.accounts * self.per_account_per_minute, self.per_project_per_minute) / 60.0

    def creatable(self, seconds: float) -> int:
        """Spaces the quota lets through in ``seconds``."""
        return max(0, math.floor(self.per_second * max(0.0, seconds) + 1e-9))

    def time_for(self, spaces: int) -> timedelta:
        """How long the quota takes to make ``spaces``."""
        return timedelta(seconds=spaces / self.per_second) if spaces > 0 else timedelta(0)


@dataclass(frozen=True)
class RoundNeed:
    """What one round of an event asks of the pool."""

    deadline: datetime
    fresh: int
    """Spaces for its dates, one each (``fresh``, ``auto``)."""
    new_tables: int
    """Spaces its tables did not have the round before (``reuse``: a table keeps its space)."""


@dataclass(frozen=True)
class EventNeed:
    event_id: int
    rounds: tuple[RoundNeed, ...]
    ready: int = 0
    """Spaces already given to its dates."""


@dataclass(frozen=True)
class Outlook:
    """Whether an event's spaces can be made in time, fresh and by reuse."""

    event_id: int
    needed: int
    """Spaces for a fresh one per date."""
    ready: int
    late_fresh: int
    """Dates whose fresh space the quota cannot make before their links go out."""
    first_late_round: int | None
    """1-based round of the first such date."""
    needed_reusing: int
    """Spaces for one per table, kept from round to round."""
    late_reusing: int

    @property
    def at_risk(self) -> bool:
        """Even reusing, some date would get its link late."""
        return self.late_reusing > 0


def outlook(events: Sequence[EventNeed], free: int, quota: Quota, now: datetime) -> dict[int, Outlook]:
    """For each event: whether the pool's ``free`` spaces and what the quota makes from ``now`` suffice, every
    event competing for the same quota earliest deadline first; once with a fresh space per date, once
    reusing each table's space."""
    fresh = _late(events, free, quota, now, reusing=False)
    reusing = _late(events, free, quota, now, reusing=True)
    result = {}
    for event in events:
        late, first = fresh[event.event_id]
        result[event.event_id] = Outlook(
            event_id=event.event_id,
            needed=sum(r.fresh for r in event.rounds),
            ready=event.ready,
            late_fresh=late,
            first_late_round=first,
            needed_reusing=sum(r.new_tables for r in event.rounds),
            late_reusing=reusing[event.event_id][0],
        )
    return result


def endangered(before: Mapping[int, Outlook], after: Mapping[int, Outlook], new: Collection[int]) -> list[int]:
    """Events, other than the ``new`` ones, that were in time ``before`` them and are at risk ``after``: those a new
    event would push late by taking the quota first."""
    return sorted(
        event_id
        for event_id, seen in after.items()
        if event_id not in new and seen.at_risk and event_id in before and not before[event_id].at_risk
    )


def _late(
    events: Sequence[EventNeed], free: int, quota: Quota, now: datetime, *, reusing: bool
) -> dict[int, tuple[int, int | None]]:
    """Event id → (dates late, first late round) when every need is served earliest deadline first."""
    needs: list[tuple[datetime, int, int, int]] = []
    for event in events:
        ready = event.ready
        for number, round_ in enumerate(event.rounds, start=1):
            count = round_.new_tables if reusing else round_.fresh
            covered = min(ready, count)
            ready -= covered
            if count - covered:
                needs.append((round_.deadline, event.event_id, number, count - covered))
    needs.sort()
    result: dict[int, tuple[int, int | None]] = {event.event_id: (0, None) for event in events}
    used = 0
    for deadline, event_id, number, count in needs:
        supply = free + quota.creatable((deadline - now).total_seconds())
        in_time = max(0, min(count, supply - used))
        used += count
        late = count - in_time
        if late:
            before, first = result[event_id]
            result[event_id] = (before + late, first if first is not None else number)
    return result
