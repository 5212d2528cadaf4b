"""Events: their states and the windows in which registrations and confirmations are accepted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import IntEnum

from contracts.errors import ErrorCode
from contracts.profile import age_on
from datemaker.domain.errors import DomainError
from datemaker.domain.event_settings import EventSettings


class EventState(IntEnum):
    """Rows of ``public.event_states`` (the seed's ids, plus CANCELLED)."""

    NOT_STARTED = 0
    REG_CONFIRM = 1
    READY = 2
    RUNNING = 3
    FINISHED = 4
    SKIPPED = 5
    CANCELLED = 6


OPEN_FOR_REGISTRATION = frozenset({EventState.NOT_STARTED, EventState.REG_CONFIRM})
"""New registrations are taken (until the confirmation deadline)."""
BEFORE_START = OPEN_FOR_REGISTRATION | {EventState.READY}
"""Not started yet: a registration may still be cancelled."""
UPCOMING = BEFORE_START | {EventState.RUNNING}
"""Not over: shown to participants."""
PLANNED = frozenset({EventState.READY, EventState.RUNNING})
"""Has a plan whose dates are yet to happen (their Meet spaces are prepared)."""


@dataclass(frozen=True, kw_only=True)
class Event(EventSettings):
    """A speed-dating event as the rules see it: its settings and where it is (a row of ``dating_events``)."""

    id: int
    state: EventState
    registered_count: int = 0
    waitlisted_count: int = 0
    held_seats: int = 0
    """Seats held for the waitlisted people of a full event who were offered one here (an extra night)."""

    @property
    def spots_left(self) -> int:
        """Seats anyone may still take: neither registered nor held for an offer."""
        return max(0, self.users_limit - self.registered_count - self.held_seats)

    @property
    def waitlist_limit(self) -> int:
        """How many may wait for a spot: as many as the event seats."""
        return self.users_limit

    def local_iso(self, moment: datetime) -> str:
        return self.local(moment).isoformat()


def check_registration_open(event: Event, now: datetime) -> None:
    """Registrations are accepted until confirmations close, and only before the event starts."""
    if event.state not in OPEN_FOR_REGISTRATION:
        raise DomainError(
            ErrorCode.REGISTRATION_CLOSED, f"event {event.id} no longer takes registrations ({event.state.name})"
        )
    if now >= event.confirm_deadline:
        raise DomainError(
            ErrorCode.REGISTRATION_CLOSED,
            f"registration for event {event.id} closed at {event.local_iso(event.confirm_deadline)}",
        )


def check_age_admitted(event: Event, birthday: date, today: date) -> None:
    """An event with an age range admits only people whose age on the event's day is within it."""
    if event.min_age is None and event.max_age is None:
        return
    age = age_on(birthday, max(today, event.local(event.start).date()))
    if (event.min_age is not None and age < event.min_age) or (event.max_age is not None and age > event.max_age):
        raise DomainError(
            ErrorCode.NOT_ELIGIBLE,
            f"event {event.id} is for ages {age_range_text(event.min_age, event.max_age)}; you will be {age}",
        )


def age_range_text(low: int | None, high: int | None) -> str:
    """An age range as people write it: "25-40", "25+", "up to 40"."""
    if low is not None and high is not None:
        return f"{low}-{high}"
    if low is not None:
        return f"{low}+"
    return f"up to {high}"


def check_cancellation_open(event: Event, now: datetime) -> None:
    """A registration may be cancelled until the event starts."""
    if event.state not in BEFORE_START or now >= event.start:
        raise DomainError(ErrorCode.REGISTRATION_CLOSED, f"event {event.id} has started or is over")


def check_confirmation_open(event: Event, now: datetime, confirmation_sent: bool) -> None:
    """Confirmations are accepted after the request went out and before the deadline."""
    if not confirmation_sent:
        raise DomainError(
            ErrorCode.CONFIRMATION_NOT_OPEN,
            f"confirmations for event {event.id} open at {event.local_iso(event.confirm_opens_at)}",
        )
    if now >= event.confirm_deadline or event.state not in OPEN_FOR_REGISTRATION:
        raise DomainError(
            ErrorCode.CONFIRMATION_CLOSED,
            f"confirmations for event {event.id} closed at {event.local_iso(event.confirm_deadline)}",
        )
