"""Registrations: the status a registration is in, and where a new one goes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from contracts.errors import ErrorCode
from datemaker.domain.errors import DomainError
from datemaker.domain.events import Event

Status = Literal["registered", "waitlisted", "confirmed", "declined", "cancelled"]


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


def placement(event: Event) -> Literal["registered", "waitlisted"]:
    """Where a new registration goes: a seat while any is left, else the waitlist while it has room."""
    if event.registered_count < event.users_limit:
        return "registered"
    if event.waitlisted_count < event.waitlist_limit:
        return "waitlisted"
    raise DomainError(ErrorCode.EVENT_FULL, f"event {event.id} is full and so is its waitlist")


def require_active(registration: Registration | None, event_id: int) -> Registration:
    """The user's active registration for the event, or ``not_registered``."""
    if registration is None or not registration.active:
        raise DomainError(ErrorCode.NOT_REGISTERED, f"you are not registered for event {event_id}")
    return registration
