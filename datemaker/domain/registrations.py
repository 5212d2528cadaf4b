"""Registrations: the status a registration is in, and where a new one goes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from contracts.errors import ErrorCode
from datemaker.domain.errors import DomainError
from datemaker.domain.events import OPEN_FOR_REGISTRATION, Event

Status = Literal["registered", "waitlisted", "confirmed", "declined", "cancelled"]
Placement = Literal["registered", "waitlisted"]
"""Where a new registration goes."""


@dataclass(frozen=True)
class Registration:
    """One user's registration for one event (a row of ``registrations``)."""

    event_id: int
    user_id: int
    registered_at: datetime
    waitlisted: bool = False
    confirmation_sent_at: datetime | None = None
    confirmed_at: datetime | None = None
    declined_at: datetime | None = None
    cancelled_at: datetime | None = None
    ready_at: datetime | None = None

    @property
    def status(self) -> Status:
        if self.cancelled_at is not None:
            return "cancelled"
        if self.declined_at is not None:
            return "declined"
        if self.waitlisted:
            return "waitlisted"
        if self.confirmed_at is not None:
            return "confirmed"
        return "registered"

    @property
    def active(self) -> bool:
        """Holds a seat or a place on the waitlist."""
        return self.status in ("registered", "waitlisted", "confirmed")

    @property
    def holds_seat(self) -> bool:
        return self.status in ("registered", "confirmed")


def placement(event: Event) -> Placement:
    """Where a new registration goes: a seat while any is left (seats held for offers are not), else the
    waitlist while it has room."""
    if event.spots_left > 0:
        return "registered"
    if event.waitlisted_count < event.waitlist_limit:
        return "waitlisted"
    raise DomainError(ErrorCode.EVENT_FULL, f"event {event.id} is full and so is its waitlist")


def taken(event: Event, placed: Placement) -> Event:
    """The event once a new registration took a seat (``registered``) or a waitlist place."""
    if placed == "registered":
        return replace(event, registered_count=event.registered_count + 1)
    return replace(event, waitlisted_count=event.waitlisted_count + 1)


def seat_goes_to_waitlist(event: Event, registration: Registration) -> bool:
    """A seat given up goes to the longest-waiting person while the plan is not made yet. After planning
    the waitlisted were told they do not take part, and a seat then would leave them without a group."""
    return registration.holds_seat and event.state in OPEN_FOR_REGISTRATION


def may_confirm(event: Event, registration: Registration | None, now: datetime) -> bool:
    """The user was asked to confirm their seat and can answer now (``confirm_registration`` would take it)."""
    return (
        registration is not None
        and registration.status == "registered"
        and registration.confirmation_sent_at is not None
        and event.state in OPEN_FOR_REGISTRATION
        and now < event.confirm_deadline
    )


def require_active(registration: Registration | None, event_id: int) -> Registration:
    """The user's active registration for the event, or ``not_registered``."""
    if registration is None or not registration.active:
        raise DomainError(ErrorCode.NOT_REGISTERED, f"you are not registered for event {event_id}")
    return registration
