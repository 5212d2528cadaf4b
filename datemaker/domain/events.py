"""Events: their states and the windows in which registrations and confirmations are accepted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contracts.errors import ErrorCode
from datemaker.domain.errors import DomainError


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
UPCOMING = frozenset({EventState.NOT_STARTED, EventState.REG_CONFIRM, EventState.READY, EventState.RUNNING})


@dataclass(frozen=True)
class Event:
    """A speed-dating event as the rules see it (a row of ``dating_events``)."""

    id: int
    start: datetime
    timezone: str
    users_limit: int
    state: EventState
    round_seconds: int = 300
    break_seconds: int = 60
    rules_lead_seconds: int = 300
    confirm_open_seconds: int = 86400
    confirm_deadline_seconds: int = 3600
    registered_count: int = 0
    waitlisted_count: int = 0
    group_size: int = 20
    max_rounds: int = 10
    mode: str = "bipartite"

    @property
    def confirm_opens_at(self) -> datetime:
        return self.start - timedelta(seconds=self.confirm_open_seconds)

    @property
    def confirm_deadline(self) -> datetime:
        return self.start - timedelta(seconds=self.confirm_deadline_seconds)

    @property
    def spots_left(self) -> int:
        return max(0, self.users_limit - self.registered_count)

    @property
    def waitlist_limit(self) -> int:
        """How many may wait for a spot: as many as the event seats."""
        return self.users_limit

    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def local(self, moment: datetime) -> datetime:
        """``moment`` in the event's timezone."""
        return moment.astimezone(self.zone())

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


def check_cancellation_open(event: Event, now: datetime) -> None:
    """A registration may be cancelled until the event starts."""
    if event.state not in UPCOMING or event.state == EventState.RUNNING or now >= event.start:
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
