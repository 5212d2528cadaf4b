"""Schedules: a standing rule that keeps the calendar filled, and the demand rules; pure, time is an argument.

A rule names local days of the week, a local time and a time zone. Its occurrences are wall-clock times in
that zone: a time the clocks skip (a DST gap) is moved forward by the gap (02:30 becomes 03:30 on the night
the clocks go forward), a time that happens twice (the clocks go back) means its first occurrence, and two
days whose times fall on the same instant (a zone skipping a whole day) give one occurrence.

A schedule keeps its next ``horizon`` slots filled: the next occurrences whose registration is still open.
A slot once made is never made again (a cancelled night stays cancelled). Its demand rules: an extra night
when an event's waitlist reaches a threshold, its seats offered first to the people waiting; and organizers
told when an event is far from full a while before confirmations open. A paused or ended schedule does
nothing more; the events it made run as usual.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from contracts.errors import ErrorCode
from datemaker.domain.errors import DomainError
from datemaker.domain.event_settings import MAX_SECONDS, EventSettings, InvalidEventSettings, problems, zone
from datemaker.domain.events import OPEN_FOR_REGISTRATION, Event

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names as organizers type them; ISO numbers 1 (Monday) to 7 (Sunday) in that order."""
DAILY = "daily"
MAX_HORIZON = 52
DEFAULT_HORIZON = 3
DEFAULT_ALERT_BELOW = 50
"""Organizers are told about an event with fewer than this percentage of its seats taken ..."""
DEFAULT_ALERT_LEAD = 86400
"""... this many seconds before its confirmations open (two days before the start, by default)."""
_NO_START = datetime(1970, 1, 1, tzinfo=UTC)


class ScheduleState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


TRANSITIONS: dict[ScheduleState, frozenset[ScheduleState]] = {
    ScheduleState.ACTIVE: frozenset({ScheduleState.PAUSED, ScheduleState.ENDED}),
    ScheduleState.PAUSED: frozenset({ScheduleState.ACTIVE, ScheduleState.ENDED}),
    ScheduleState.ENDED: frozenset(),
}
_VERBS = {ScheduleState.ACTIVE: "resumed", ScheduleState.PAUSED: "paused", ScheduleState.ENDED: "ended"}


def check_transition(schedule_id: int, current: ScheduleState, target: ScheduleState) -> None:
    """``bad_request`` naming the problem unless a schedule in ``current`` may go to ``target``."""
    if target in TRANSITIONS[current]:
        return
    if current == target:
        raise DomainError(ErrorCode.BAD_REQUEST, f"schedule {schedule_id} is {current.value} already")
    if current == ScheduleState.ENDED:
        raise DomainError(ErrorCode.BAD_REQUEST, f"schedule {schedule_id} has ended: an ended schedule stays ended")
    raise DomainError(
        ErrorCode.BAD_REQUEST, f"schedule {schedule_id} is {current.value}: it cannot be {_VERBS[target]}"
    )


# --- the rule -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """Local days of the week (ISO numbers, 1 = Monday), a local time and an IANA time zone."""

    weekdays: frozenset[int]
    at: time
    timezone: str

    def describe(self) -> str:
        """``Mon, Fri at 19:00 (Europe/Moscow)``, ``daily at 19:00 (Europe/Moscow)``."""
        return f"{describe_days(self.weekdays)} at {self.at:%H:%M} ({self.timezone})"


def describe_days(weekdays: Collection[int]) -> str:
    if len(set(weekdays)) == 7:
        return DAILY
    return ", ".join(WEEKDAYS[day - 1].capitalize() for day in sorted(weekdays))


def parse_days(text: str) -> frozenset[int]:
    """``"mon,fri"`` (three-letter names, any case, commas or spaces) or ``"daily"``: ISO weekday numbers."""
    words = [word for word in re.split(r"[\s,]+", text.strip().lower()) if word]
    if words == [DAILY]:
        return frozenset(range(1, 8))
    unknown = [word for word in words if word not in WEEKDAYS]
    if not words or unknown:
        what = f"unknown day {unknown[0][:20]!r}" if unknown else "no days given"
        raise InvalidEventSettings(f"{what}: give days as {','.join(WEEKDAYS)} (e.g. mon,fri) or {DAILY}")
    return frozenset(WEEKDAYS.index(word) + 1 for word in words)


def parse_time(text: str) -> time:
    """A local time of day, ``HH:MM`` (24-hour)."""
    found = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if not found or int(found.group(1)) > 23 or int(found.group(2)) > 59:
        raise InvalidEventSettings(f"{text[:20]!r} is not a time of day: use HH:MM, e.g. 19:00")
    return time(int(found.group(1)), int(found.group(2)))


def wall_clock(day: date, at: time, timezone: str) -> datetime:
    """The instant (UTC) the clocks in ``timezone`` show ``at`` on ``day``: a skipped time is moved forward by the
    gap, a time shown twice means the first time (PEP 495's ``fold=0`` does both)."""
    local = datetime.combine(day, at, tzinfo=zone(timezone)).replace(fold=0)
    return local.astimezone(UTC)


def occurrences(rule: Rule, after: datetime, count: int) -> list[datetime]:
    """The first ``count`` starts of ``rule`` strictly after ``after`` (an aware time), in order, each once."""
    return [start for start, _ in zip(_starts(rule, after), range(count), strict=False)]


def _starts(rule: Rule, after: datetime) -> Iterator[datetime]:
    where = zone(rule.timezone)
    day = after.astimezone(where).date() - timedelta(days=1)  # the day before: its time may land after `after`
    last: datetime | None = None
    for _ in range(7 * (MAX_HORIZON + 60)):  # far beyond any horizon; stops the loop on an empty rule
        if day.isoweekday() in rule.weekdays:
            start = wall_clock(day, rule.at, rule.timezone)
            if start > after and start != last:
                last = start
                yield start
        day += timedelta(days=1)


# --- the schedule ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Demand:
    """The demand rules of a schedule; None switches a rule off."""

    extra_when_waitlist: int | None = None
    """Open an extra night when an event's waitlist holds this many people."""
    extra_offset_seconds: int | None = None
    """The extra night starts this long after the full one (in local time); None: the schedule's next free slot."""
    alert_below_percent: int | None = DEFAULT_ALERT_BELOW
    """Tell organizers about an event with fewer than this percentage of its seats taken ..."""
    alert_lead_seconds: int = DEFAULT_ALERT_LEAD
    """... from this long before its confirmations open until its registration closes."""

    def describe(self) -> str:
        parts = []
        if self.extra_when_waitlist is not None:
            where = (
                "the next free slot"
                if self.extra_offset_seconds is None
                else f"{describe_span(self.extra_offset_seconds)} later"
            )
            parts.append(f"an extra night ({where}) when {self.extra_when_waitlist} are waiting")
        if self.alert_below_percent is not None:
            parts.append(
                f"organizers told when under {self.alert_below_percent}% full "
                f"{describe_span(self.alert_lead_seconds)} before confirmations open"
            )
        return "; ".join(parts) or "none"


def template(timezone: str, **settings: object) -> EventSettings:
    """The settings of a schedule's events (``settings`` by ``EventSettings`` field); each event's start is its slot."""
    return EventSettings(start=_NO_START, timezone=timezone, **settings)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Schedule:
    """A standing rule, the settings of the events it makes, how many of them to keep open, its demand rules."""

    id: int
    rule: Rule
    template: EventSettings = field(default_factory=lambda: EventSettings(start=_NO_START))
    """The settings of its events; their start is each one's slot (the template's own start means nothing)."""
    horizon: int = DEFAULT_HORIZON
    demand: Demand = field(default_factory=Demand)
    state: ScheduleState = ScheduleState.ACTIVE

    def event_at(self, start: datetime) -> EventSettings:
        """The settings of this schedule's event starting at ``start``."""
        return replace(self.template, start=start, timezone=self.rule.timezone)

    @property
    def earliest_lead(self) -> timedelta:
        """An event is made only while its registration is open: at least this long before it starts."""
        return timedelta(seconds=self.template.confirm_deadline_seconds)


def horizon_slots(schedule: Schedule, now: datetime) -> list[datetime]:
    """The starts of the schedule's next ``horizon`` events: the next occurrences still taking registrations."""
    return occurrences(schedule.rule, now + schedule.earliest_lead, schedule.horizon)


def missing_slots(schedule: Schedule, now: datetime, taken: Collection[datetime]) -> list[datetime]:
    """The slots of the horizon that have no event yet (none for a schedule that is not active)."""
    if schedule.state != ScheduleState.ACTIVE:
        return []
    return [start for start in horizon_slots(schedule, now) if start not in taken]


def extra_slot(schedule: Schedule, full: Event, now: datetime, taken: Collection[datetime]) -> datetime | None:
    """Where the extra night for ``full``'s waitlist starts: the demand's offset after it (local wall-clock), else
    the first occurrence of the rule after it; in either case the first such start that is free and still takes
    registrations (the occurrences after it, when the offset's start is not)."""
    earliest = now + schedule.earliest_lead
    after = full.start
    offset = schedule.demand.extra_offset_seconds
    if offset is not None:
        local = full.local().replace(tzinfo=None) + timedelta(seconds=offset)
        start = wall_clock(local.date(), local.time(), schedule.rule.timezone)
        if start > earliest and start not in taken:
            return start
        after = max(after, start)
    for start in occurrences(schedule.rule, max(after, earliest), len(taken) + 1):
        if start not in taken:
            return start
    return None


def wants_extra(schedule: Schedule, event: Event, has_extra: bool, now: datetime) -> bool:
    """The event's waitlist has reached the schedule's threshold while it takes registrations, and it has no
    extra night yet (one per event)."""
    threshold = schedule.demand.extra_when_waitlist
    return (
        schedule.state == ScheduleState.ACTIVE
        and threshold is not None
        and not has_extra
        and takes_registrations(event, now)
        and event.waitlisted_count >= threshold
    )


def takes_registrations(event: Event, now: datetime) -> bool:
    return event.state in OPEN_FOR_REGISTRATION and now < event.confirm_deadline


def seats_to_offer(extra: Event, now: datetime) -> int:
    """How many more of an extra night's seats may be offered: those free, while it takes registrations."""
    return extra.spots_left if takes_registrations(extra, now) else 0


def alert_opens_at(schedule: Schedule, event: Event) -> datetime:
    return event.confirm_opens_at - timedelta(seconds=schedule.demand.alert_lead_seconds)


def underfilled(schedule: Schedule, event: Event, now: datetime) -> bool:
    """Organizers are to be told: fewer seats taken (or held for offers) than the alert's percentage, from the
    alert's lead before confirmations open until registration closes (the caller tells them once)."""
    percent = schedule.demand.alert_below_percent
    return (
        schedule.state == ScheduleState.ACTIVE
        and percent is not None
        and takes_registrations(event, now)
        and now >= alert_opens_at(schedule, event)
        and (event.registered_count + event.held_seats) * 100 < event.users_limit * percent
    )


def schedule_problems(schedule: Schedule, now: datetime) -> list[str]:
    """Everything wrong with a new (or changed) schedule made at ``now``, one sentence each."""
    found: list[str] = []
    try:
        zone(schedule.rule.timezone)
    except InvalidEventSettings as exc:
        return [exc.message]
    if not schedule.rule.weekdays or not schedule.rule.weekdays <= frozenset(range(1, 8)):
        found.append("a schedule needs days of the week (1 = Monday ... 7 = Sunday)")
    if not 1 <= schedule.horizon <= MAX_HORIZON:
        found.append(f"the horizon must be between 1 and {MAX_HORIZON} events, not {schedule.horizon}")
    demand, capacity = schedule.demand, schedule.template.users_limit
    if demand.extra_when_waitlist is not None and not 1 <= demand.extra_when_waitlist <= max(capacity, 1):
        found.append(
            f"the waitlist threshold must be between 1 and the capacity ({capacity}: a waitlist holds at most as "
            f"many people as the event seats), not {demand.extra_when_waitlist}"
        )
    if demand.extra_offset_seconds is not None and not 0 < demand.extra_offset_seconds <= MAX_SECONDS:
        found.append(
            f"the extra night's offset must be positive and at most 30 days, not {demand.extra_offset_seconds} s"
        )
    if demand.alert_below_percent is not None and not 1 <= demand.alert_below_percent <= 100:
        found.append(f"the alert percentage must be between 1 and 100, not {demand.alert_below_percent}")
    if not 0 <= demand.alert_lead_seconds <= MAX_SECONDS:
        found.append(f"the alert's lead must be between 0 and 30 days, not {demand.alert_lead_seconds} s")
    if not schedule.rule.weekdays:
        return found
    first = horizon_slots(replace(schedule, horizon=1), now)  # the settings of its first event, as an event's
    return found + problems(schedule.event_at(first[0]), now)


def validate(schedule: Schedule, now: datetime) -> None:
    """Raise ``InvalidEventSettings`` naming every problem of ``schedule`` (in one line)."""
    found = schedule_problems(schedule, now)
    if found:
        raise InvalidEventSettings("; ".join(found))


def describe_span(seconds: int) -> str:
    """``2 days``, ``1 day``, ``3 h``, ``90 min``, ``45 s``."""
    if seconds and seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day" if days == 1 else f"{days} days"
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


# --- offers of an extra night's seats ----------------------------------------------------------------


@dataclass(frozen=True)
class SeatOffer:
    """A seat of an extra night (``event_id``) offered to someone waiting at the full event (``from_event_id``)."""

    event_id: int
    user_id: int
    from_event_id: int
    offered_at: datetime
    accepted_at: datetime | None = None
    withdrawn_at: datetime | None = None


def check_offer(offer: SeatOffer | None, event: Event | None, now: datetime) -> SeatOffer:
    """The offer, if it may be accepted now; else the reason, as a ``DomainError`` with its code."""
    if offer is None or event is None:
        raise DomainError(ErrorCode.OFFER_NOT_FOUND, "you have no offer of a seat at this event")
    if offer.accepted_at is not None:
        raise DomainError(
            ErrorCode.OFFER_ALREADY_ACCEPTED, f"you accepted this offer already: you have a seat at event {event.id}"
        )
    if offer.withdrawn_at is not None:
        raise DomainError(
            ErrorCode.OFFER_EXPIRED,
            f"the offer was withdrawn when you stopped waiting for a seat at event {offer.from_event_id}",
        )
    if event.state not in OPEN_FOR_REGISTRATION:
        raise DomainError(ErrorCode.OFFER_EXPIRED, f"the offer expired: event {event.id} takes no registrations")
    if now >= event.confirm_deadline:
        raise DomainError(
            ErrorCode.OFFER_EXPIRED,
            f"the offer expired when registration for event {event.id} closed at "
            f"{event.local_iso(event.confirm_deadline)}",
        )
    return offer
