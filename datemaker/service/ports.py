"""Ports: what the service layer needs from the outside world, as protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from chathub_common.delivery import Publisher as Publisher  # one of the service layer's ports
from contracts.commands import UpsertProfile, Verdict
from datemaker.domain.board import BoardDate, Registrant
from datemaker.domain.event_settings import EventSettings
from datemaker.domain.events import Event, EventState
from datemaker.domain.notices import Notice, Organizer, PlannedDate
from datemaker.domain.planning import Plan
from datemaker.domain.profiles import UserProfile
from datemaker.domain.registrations import Registration
from datemaker.domain.schedules import Schedule, SeatOffer
from datemaker.domain.timeline import Progress
from datemaker.domain.tonight import BookedDate

LiveCalls = Callable[[list[BoardDate], dict[int, str]], Awaitable[dict[int, set[int]]]]
"""Meet's live participants: for the dates given (and their people's names), date id → the date's people in its
call right now."""

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""


@dataclass(frozen=True)
class RatingContext:
    """What a rating depends on: the event (and when it finished), whether the two had a date, the rater's
    standing verdict on the partner, and whether the partner liked the rater."""

    event: Event
    finished_at: datetime | None
    had_date: bool
    previous: Verdict | None
    liked_back: bool
    has_profile: bool


@dataclass(frozen=True)
class BoardData:
    """What the live board reads from the database."""

    event: Event
    rounds_planned: int
    rounds_started: int
    confirmed: int
    schedule_id: int | None
    registrants: list[Registrant]
    dates: list[BoardDate]


@dataclass(frozen=True)
class ReportLine:
    """A report as organizers see it."""

    report_id: int
    event_id: int
    reporter: int
    reported: int
    reporter_name: str | None
    reported_name: str | None
    reason: str | None
    at: datetime
    reported_before: int
    reporter_reported: int
    banned: bool
    resolved_at: datetime | None = None
    resolved_by: int | None = None


@dataclass(frozen=True)
class ReportResolution:
    """A report an organizer resolved: whose about whom, and whether it was resolved before."""

    event_id: int
    reporter: int
    reported: int
    already: bool


class Console(Protocol):
    """The organizer's console: organizers, their action log, events, the board's reads, reports and bans."""

    async def is_organizer(self, user_id: int) -> bool: ...

    async def log_action(
        self,
        organizer_id: int,
        action: str,
        now: datetime,
        *,
        event_id: int | None = None,
        user_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record who did what, and when."""
        ...

    async def events(self, now: datetime, *, everything: bool, limit: int) -> list[Any]:
        """Rows of ``events list`` (``EventLine``: event, confirmed, origin)."""
        ...

    async def create_event(self, settings: EventSettings) -> int: ...

    def lifecycle(self) -> LifecycleStore:
        """The runners' store over the same transaction (to cancel an event)."""
        ...

    async def board_data(self, event_id: int, today: date) -> BoardData | None: ...

    async def seated_for_preview(
        self, event_id: int
    ) -> tuple[list[UserProfile], list[tuple[int, int]], list[tuple[int, int]]]:
        """The seated registrants, and among them the blocked pairs and those who met before."""
        ...

    async def reports(self, *, open_only: bool, limit: int) -> list[ReportLine]: ...

    async def ban(self, user_id: int, reason: str, by: int, now: datetime) -> bool: ...

    async def resolve_report(self, report_id: int, by: int, now: datetime) -> ReportResolution | None:
        """Mark the report resolved (left as it is when it is already); None when there is no such report."""
        ...

    async def unban(self, user_id: int) -> dict[str, Any] | None:
        """Lift the user's ban; the ban that was lifted (``reason``, ``banned_by``, ``banned_at``), None when they
        were not banned."""
        ...

    async def events_to_leave(self, user_id: int) -> list[tuple[Event, bool]]: ...

    async def leave_plan(self, event_id: int, user_id: int, now: datetime) -> list[int]: ...

    def schedules(self) -> Any:
        """The CLI's schedule queries (``ScheduleQueries``: ``lines``, ``add``, ``set_state``) over the same
        transaction."""
        ...


class Store(Protocol):
    """Reads and writes inside one transaction."""

    async def get_profile(self, user_id: int) -> UserProfile | None: ...

    async def save_profile(self, user_id: int, profile: UpsertProfile, now: datetime) -> UserProfile:
        """Create or change the profile (an erased one comes back); messages go to the user's private chat."""
        ...

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
        """Give a free seat to the longest-waiting person of the short side (the gender with fewer seats taken), else
        to the longest-waiting person; their user id, or None."""
        ...

    async def active_upcoming_event_ids(self, user_id: int, now: datetime) -> list[int]:
        """Events not started yet that the user holds a seat or waitlist place in."""
        ...

    async def registrations_not_over(self, user_id: int) -> list[int]:
        """Events not over (running ones too) that the user holds a seat or waitlist place in."""
        ...

    async def confirm(self, event_id: int, user_id: int, now: datetime) -> None: ...

    async def mark_ready(self, event_id: int, user_id: int, now: datetime) -> None: ...

    async def rating_context(self, event_id: int, user_id: int, partner_id: int) -> RatingContext | None:
        """What a rating of ``partner_id`` by ``user_id`` depends on (None: no such event); the event is
        share-locked until the transaction ends, so the event's finale never overlaps it."""
        ...

    async def profiles(self, user_ids: Iterable[int]) -> dict[int, UserProfile]: ...

    async def enqueue(self, messages: Sequence[Notice]) -> int:
        """Put notices in the outbox, in this transaction (those there already are left alone)."""
        ...

    async def erase_profile(self, user_id: int, now: datetime) -> None:
        """Clear every personal detail of the user (the row stays under the Telegram id, pseudonymous),
        the reasons of the reports they wrote, their replies kept for idempotency, and the messages to them
        or naming them (a match message still to be sent goes without them)."""
        ...

    async def record_rating(
        self, event_id: int, user_id: int, partner_id: int, verdict: Verdict, reason: str | None, now: datetime
    ) -> None: ...

    async def seat_offer(self, event_id: int, user_id: int) -> SeatOffer | None:
        """The user's offer of a seat at ``event_id`` (locked until the transaction ends), if any."""
        ...

    async def accept_offer(self, event_id: int, user_id: int, now: datetime) -> None:
        """Mark the offer accepted: the seat it held is free for its person to take in this transaction."""
        ...

    async def seat_waitlisted(self, event_id: int, user_id: int) -> None:
        """Give the user's waitlisted registration a seat."""
        ...

    async def matches_of(self, user_id: int, limit: int) -> list[tuple[int, UserProfile]]:
        """(event id, the other person) of the user's mutual matches at finished events, newest event first;
        people who erased their data are left out."""
        ...

    def console(self) -> Console:
        """The organizer's console over the same transaction."""
        ...

    def rescue(self) -> Any:
        """Rescue's reads and writes over the same transaction (``adapters.postgres.rescue.PostgresRescue``)."""
        ...

    async def is_banned(self, user_id: int) -> bool: ...

    async def dates_of(self, user_id: int, finished_since: datetime) -> list[BookedDate]:
        """The user's dates in events planned or running, and in events finished since ``finished_since``; not
        the dates given up because a partner never joined (``partner_absent``): a rescue date takes their place."""
        ...


@dataclass(frozen=True)
class StoredReply:
    """The idempotency record of a processed command: whose it was, which command, and its reply."""

    user_id: int | None
    command: str
    reply: dict[str, Any]


@dataclass(frozen=True)
class SeatClaim:
    """A ``register_event`` taking the fast path: who, under which message id, the reply to record."""

    user_id: int
    message_id: str
    reply: str
    """The reply's JSON, as sent."""
    at: datetime


class Session(Protocol):
    """One database connection, for one command: its idempotency record and its transaction."""

    async def stored_reply(self, message_id: str) -> StoredReply | None:
        """The reply recorded for ``message_id``, if it was processed already."""
        ...

    async def remember_reply(self, message_id: str, user_id: int, command: str, reply: dict[str, Any]) -> bool:
        """Record the reply (inside the open transaction, if any); False when the message id was already
        recorded (nothing is changed)."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Store]:
        """A transaction: committed when the block ends, rolled back when it raises."""
        ...


class Database(Protocol):
    def session(self) -> AbstractAsyncContextManager[Session]: ...

    async def load_event(self, event_id: int) -> Event | None: ...

    async def register_at_once(self, event: Event, claims: list[SeatClaim]) -> set[str]:
        """In one statement, for each claim (one per user) of ``event``: record the reply for the message id
        and seat the user, provided the message is new, the user has a profile and no active registration, the
        event is still in ``event.state`` and seats are free. The message ids that were; nothing changes for
        the others (all of them, when the seats do not suffice)."""
        ...


@dataclass(frozen=True)
class MeetSpace:
    """A Google Meet space, made into the pool and then given to dates."""

    name: str
    """Resource name, ``spaces/{space}``."""
    meeting_uri: str
    """The link participants open, ``https://meet.google.com/abc-mnop-xyz``."""
    meeting_code: str
    account: str = ""
    """The Google account that made it: the one that may end its calls and read its records."""


@dataclass(frozen=True)
class Attendance:
    """Someone who joined a space's conference, from the Meet API's conference records."""

    space_name: str
    display_name: str
    joined_at: datetime
    left_at: datetime | None


class MeetError(Exception):
    """The Meet API refused or failed a call after the adapter's own retries."""


class QuotaExhausted(MeetError):
    """Google's ``spaces.create`` quota is used up for now; another account may still have some."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Meet(Protocol):
    """Google Meet, through one or more Google accounts: spaces made within the quota, a space's call ended
    when its date is over, attendance afterwards (a space's calls and records through the account that made
    it)."""

    async def create_space(self) -> MeetSpace:
        """A new space with open access (anyone with the link joins without knocking), through whichever
        account's quota allows it first; waits for the quota as long as it has to."""
        ...

    async def end_active_conference(self, space_name: str, account: str = "") -> None:
        """End the call in the space, if one is running (no call running is not an error)."""
        ...

    async def attendance(
        self, space_name: str, account: str = "", since: datetime | None = None, until: datetime | None = None
    ) -> list[Attendance]:
        """Everyone who joined a conference in the space (one that began between ``since`` and ``until``,
        when given: a space that served several dates has a conference for each)."""
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

    async def claim_free_spaces(self, event_id: int, round_no: int) -> int:
        """Give the round's dates without a space free spaces of the pool, while there are some; how many."""
        ...

    async def take_over_table_spaces(self, event_id: int, round_no: int) -> int:
        """Give each date of the round without a space its table's space of the round before (the table of
        the same group with the same number), if that had one; how many dates did."""
        ...

    async def mark_delayed(self, date_ids: list[int], now: datetime) -> None: ...

    async def mark_warned(self, event_id: int, rounds_warned: int) -> None: ...

    async def retire_spaces(self, date_ids: list[int], now: datetime) -> None:
        """The dates' spaces are used up: never given to a date again (the ``fresh`` policy)."""
        ...

    async def withdraw_unsent(self, event_id: int) -> int:
        """Drop the event's messages not published yet (a link or a reminder must not follow its cancellation);
        how many. Those being published at this moment go out."""
        ...

    async def release_unused_spaces(self, event_id: int, before_round: int | None = None) -> int:
        """Take spaces back from the event's dates that were never invited (of rounds before ``before_round``,
        or all): they go back to the pool; how many."""
        ...

    async def mark_round_started(self, event_id: int, rounds_started: int) -> None: ...

    async def mark_round_ended(self, event_id: int, rounds_ended: int) -> None: ...

    async def dates_per_person(self, event_id: int) -> dict[int, int]:
        """How many dates each person had (dates they were invited to); nobody banned."""
        ...

    async def mutual_matches(self, event_id: int) -> dict[int, list[int]]:
        """Each person's mutual likes at the event, with nobody banned on either side."""
        ...

    async def active_registrant_profiles(self, event_id: int) -> list[UserProfile]: ...

    async def enqueue(self, messages: Sequence[Notice]) -> int:
        """Put messages in the outbox (those already there are left alone); how many were new."""
        ...


@dataclass(frozen=True)
class CallToEnd:
    """A date's call: where it is, and through which account."""

    date_id: int
    space_name: str
    account: str = ""


@dataclass(frozen=True)
class DateCall:
    """Where a held date's call was, and when its conference may have begun (a space may serve several
    dates, one after the other)."""

    date_id: int
    space_name: str
    account: str
    since: datetime | None
    until: datetime | None


class LifecycleDatabase(Protocol):
    """Transactions for the runners, and the short writes of their Meet work done outside them."""

    def transaction(self) -> AbstractAsyncContextManager[LifecycleStore]: ...

    async def active_events(self) -> list[tuple[Event, Progress]]: ...

    async def calls_to_end(self, event_id: int, up_to_round: int) -> list[CallToEnd]: ...

    async def mark_calls_ended(self, date_ids: list[int], now: datetime) -> None: ...

    async def spaces_of(self, event_id: int) -> list[DateCall]: ...

    async def save_attendance(self, event_id: int, attendance: dict[int, list[Attendance]], now: datetime) -> None: ...

    async def funnel(self, event_id: int) -> dict[str, int]:
        """How many of the event's people reached each stage: registered, confirmed, seated, joined (had at
        least one call that both partners joined: attendance names people, not users), matched."""
        ...

    async def active_conferences(self) -> int:
        """Dates whose people were invited and whose call is not ended yet, over all running events."""
        ...


# --- schedules --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduledEvent:
    """An event of a schedule that takes registrations, as the demand rules see it."""

    event: Event
    extra_for: int | None = None
    """It is the extra night opened for this event's waitlist."""
    has_extra: bool = False
    """An extra night was opened for its own waitlist."""
    alerted: bool = False
    """Organizers were told it is far from full."""


class ScheduleStore(Protocol):
    """Reads and writes of the schedule keeper, inside one transaction holding the schedule's row lock."""

    async def lock_schedule(self, schedule_id: int) -> Schedule | None: ...

    async def event_starts(self, schedule_id: int, since: datetime) -> set[datetime]:
        """Starts of the schedule's events (whatever their state) after ``since``."""
        ...

    async def create_events(
        self, schedule: Schedule, starts: Sequence[datetime], extra_for: int | None = None
    ) -> dict[datetime, int]:
        """Create the schedule's events at ``starts`` (the extra night of ``extra_for``, if given); the ids of those
        made by start. A start (or an extra night) that exists already is left alone: each is made once."""
        ...

    async def open_events(self, schedule_id: int, now: datetime) -> list[ScheduledEvent]:
        """The schedule's events that take registrations at ``now``, soonest first."""
        ...

    async def event(self, event_id: int, *, lock: bool = False) -> Event | None:
        """The event (its row locked until the transaction ends, with ``lock``)."""
        ...

    async def waiting_for_offer(self, full_id: int, extra_id: int, limit: int) -> list[UserProfile]:
        """Up to ``limit`` people waiting for a seat at ``full_id``, longest-waiting first, who have neither an offer
        of ``extra_id`` nor a registration there."""
        ...

    async def make_offers(self, extra_id: int, full_id: int, user_ids: Sequence[int], now: datetime) -> None:
        """Offer each user a seat at ``extra_id`` (holding it for them)."""
        ...

    async def organizers(self) -> list[Organizer]: ...

    async def mark_alerted(self, event_id: int, now: datetime) -> None: ...

    async def enqueue(self, messages: Sequence[Notice]) -> int: ...


class ScheduleDatabase(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[ScheduleStore]: ...

    async def active_schedules(self) -> list[int]:
        """Ids of the schedules that are active."""
        ...


class Leases(Protocol):
    """Which instance works on which thing (here: which schedule); lost when the instance dies."""

    async def try_acquire(self, key: int) -> bool: ...

    async def release(self, key: int) -> None: ...

    @property
    def held(self) -> frozenset[int]: ...

    async def close(self) -> None: ...
