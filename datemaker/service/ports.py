"""Ports: what the service layer needs from the outside world, as protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chathub_common.delivery import Publisher as Publisher  # one of the service layer's ports
from contracts.commands import UpsertProfile, Verdict
from datemaker.domain.events import Event, EventState
from datemaker.domain.notices import Outgoing, PlannedDate
from datemaker.domain.planning import Plan
from datemaker.domain.profiles import UserProfile
from datemaker.domain.registrations import Registration
from datemaker.domain.timeline import Progress

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""


class Store(Protocol):
    """Reads and writes inside one transaction."""

    async def get_profile(self, user_id: int) -> UserProfile | None: ...

    async def save_profile(self, user_id: int, chat_id: int, profile: UpsertProfile, now: datetime) -> UserProfile: ...

    async def upcoming_events(
        self, user_id: int, now: datetime, limit: int
    ) -> list[tuple[Event, Registration | None]]: ...

    async def registration_context(
        self, event_id: int, user_id: int, *, lock: bool = True
    ) -> tuple[Event | None, bool, Registration | None]:
        """The event (locked for update unless ``lock`` is false), whether the user has a profile, and
        their registration."""
        ...

    async def claim_place(self, event: Event, user_id: int, now: datetime, waitlisted: bool) -> bool:
        """Take a seat (or a waitlist place) and create the registration, or start it afresh after a
        cancellation or a decline, provided the event's state and counts still allow it. False when they
        no longer do, or the user registered meanwhile: nothing is then written."""
        ...

    async def end_registration(self, event_id: int, user_id: int, now: datetime, how: str) -> None:
        """Mark the registration ``cancelled`` or ``declined``."""
        ...

    async def promote_waitlisted(self, event_id: int) -> int | None:
        """Give a free seat to the longest-waiting person; their user id, or None."""
        ...

    async def active_upcoming_event_ids(self, user_id: int, now: datetime) -> list[int]: ...

    async def confirm(self, event_id: int, user_id: int, now: datetime) -> None: ...

    async def mark_ready(self, event_id: int, user_id: int, now: datetime) -> None: ...

    async def event_exists(self, event_id: int) -> bool: ...

    async def had_date(self, event_id: int, user_id: int, partner_id: int) -> bool: ...

    async def record_rating(
        self, event_id: int, user_id: int, partner_id: int, verdict: Verdict, reason: str | None, now: datetime
    ) -> None: ...


class Session(Protocol):
    """One database connection, for one command: its idempotency record and its transaction."""

    async def load_event(self, event_id: int) -> Event | None: ...

    async def register_at_once(
        self, event: Event, user_id: int, now: datetime, message_id: str, reply: dict[str, Any]
    ) -> bool:
        """In one atomic step, record ``reply`` for ``message_id`` and seat the user, provided the message
        is new, the user has a profile and no active registration, the event is still in ``event.state``
        and a seat is free. False, with nothing changed, when any of that does not hold."""
        ...

    async def stored_reply(self, message_id: str) -> dict[str, Any] | None:
        """The reply recorded for ``message_id``, if it was processed already."""
        ...

    async def remember_reply(self, message_id: str, command: str, reply: dict[str, Any]) -> bool:
        """Record the reply (inside the open transaction, if any); False when the message id was already
        recorded (nothing is changed)."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Store]:
        """A transaction: committed when the block ends, rolled back when it raises."""
        ...


class Database(Protocol):
    def session(self) -> AbstractAsyncContextManager[Session]: ...


@dataclass(frozen=True)
class MeetSpace:
    """A Google Meet space made for one date."""

    name: str
    """Resource name, ``spaces/{space}``."""
    meeting_uri: str
    """The link participants open, ``https://meet.google.com/abc-mnop-xyz``."""
    meeting_code: str


@dataclass(frozen=True)
class Attendance:
    """Someone who joined a space's conference, from the Meet API's conference records."""

    space_name: str
    display_name: str
    joined_at: datetime
    left_at: datetime | None


class MeetError(Exception):
    """The Meet API refused or failed a call after the adapter's own retries."""


class Meet(Protocol):
    """Google Meet: one fresh space per date, its call ended when the round ends, attendance afterwards."""

    async def create_space(self) -> MeetSpace:
        """A new space with open access (anyone with the link joins without knocking)."""
        ...

    async def end_active_conference(self, space_name: str) -> None:
        """End the call in the space, if one is running (no call running is not an error)."""
        ...

    async def attendance(self, space_name: str) -> list[Attendance]:
        """Everyone who joined a conference in the space."""
        ...


@dataclass(frozen=True)
class PlanningInput:
    """Everything the planner needs about an event's registrants."""

    confirmed: list[UserProfile]
    not_confirmed: dict[int, str]
    """Active registrants who will not take part, and why (``not_confirmed``, ``waitlisted``)."""
    blocked: list[tuple[int, int]]
    met_before: list[tuple[int, int]]


@dataclass(frozen=True)
class RoundPlan:
    """A round of the plan: its dates, who sits it out, and which rounds each seated person plays."""

    dates: list[PlannedDate]
    sitting_out: list[int]
    rounds_of: dict[int, list[int]]


class LifecycleStore(Protocol):
    """Reads and writes of the event runners, inside one transaction holding the event's row lock."""

    async def lock_event(self, event_id: int) -> tuple[Event, Progress] | None: ...

    async def set_state(self, event_id: int, state: EventState, now: datetime, reason: str | None = None) -> None: ...

    async def unasked_registrants(self, event_id: int) -> list[tuple[UserProfile, datetime]]: ...

    async def mark_asked(self, event_id: int, user_ids: list[int], now: datetime) -> None: ...

    async def planning_input(self, event_id: int) -> PlanningInput: ...

    async def save_plan(
        self, event_id: int, plan: Plan, scores: dict[tuple[int, int], float], now: datetime
    ) -> None: ...

    async def seated_profiles(self, event_id: int) -> list[UserProfile]: ...

    async def mark_rules_sent(self, event_id: int, now: datetime) -> None: ...

    async def round_plan(self, event_id: int, round_no: int) -> RoundPlan: ...

    async def profiles(self, user_ids: Iterable[int]) -> dict[int, UserProfile]: ...

    async def mark_invited(self, date_ids: list[int], now: datetime) -> None: ...

    async def mark_round_started(self, event_id: int, rounds_started: int) -> None: ...

    async def mark_round_ended(self, event_id: int, rounds_ended: int) -> None: ...

    async def dates_per_person(self, event_id: int) -> dict[int, int]:
        """How many dates each person had (dates they were invited to)."""
        ...

    async def mutual_matches(self, event_id: int) -> dict[int, list[int]]: ...

    async def active_registrant_profiles(self, event_id: int) -> list[UserProfile]: ...

    async def enqueue(self, messages: Sequence[Outgoing]) -> int:
        """Put messages in the outbox (those already there are left alone); how many were new."""
        ...


@dataclass(frozen=True)
class SpaceToPrepare:
    date_id: int
    round_no: int
    started: bool = False
    """Its round has started already: its people are waiting."""


@dataclass(frozen=True)
class CallToEnd:
    date_id: int
    space_name: str


class LifecycleDatabase(Protocol):
    """Transactions for the runners, and the short writes of their Meet work done outside them."""

    def transaction(self) -> AbstractAsyncContextManager[LifecycleStore]: ...

    async def active_events(self) -> list[tuple[Event, Progress]]: ...

    async def spaces_to_prepare(self, event_id: int, limit: int) -> list[SpaceToPrepare]: ...

    async def save_space(self, date_id: int, space: MeetSpace) -> bool: ...

    async def calls_to_end(self, event_id: int, up_to_round: int) -> list[CallToEnd]: ...

    async def mark_calls_ended(self, date_ids: list[int], now: datetime) -> None: ...

    async def spaces_of(self, event_id: int) -> list[CallToEnd]: ...

    async def save_attendance(self, event_id: int, attendance: dict[int, list[Attendance]], now: datetime) -> None: ...

    async def funnel(self, event_id: int) -> dict[str, int]:
        """How many of the event's people reached each stage: registered, confirmed, seated, joined (had at
        least one call that both partners joined: attendance names people, not users), matched."""
        ...

    async def active_conferences(self) -> int:
        """Dates whose people were invited and whose call is not ended yet, over all running events."""
        ...
