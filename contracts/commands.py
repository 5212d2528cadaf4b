"""Commands to datemaker (docs/protocol.md section 4), each declared once: its name, its arguments and its reply.

A command is a class: ``class RegisterEvent(Command[RegisterResult], name="register_event")`` names the
command on the wire, types its arguments (the fields) and its reply's ``data`` (the type parameter).
:data:`COMMANDS` is built from the classes; datemaker looks its handlers up by class, and the bot sends any
command through one typed ``request``.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)

from contracts.envelope import INT64_MAX
from contracts.notifications import PartnerCard
from contracts.profile import BIO_MAX, CITY_MAX, MAX_AGE, MIN_AGE, NAME_MAX


def _iso_date(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
EventId = Annotated[StrictInt, Field(gt=0, le=INT64_MAX)]
UserId = Annotated[StrictInt, Field(gt=0, le=INT64_MAX)]
ReportId = Annotated[StrictInt, Field(gt=0, le=INT64_MAX)]
ScheduleId = Annotated[StrictInt, Field(gt=0, le=INT64_MAX)]
Gender = Literal["M", "F"]
PartnerAge = Annotated[StrictInt, Field(ge=MIN_AGE, le=MAX_AGE)]
RegistrationStatus = Literal["registered", "waitlisted", "confirmed", "declined", "cancelled"]


class Verdict(StrEnum):
    """What a participant thinks of a partner after their date."""

    LIKE = "like"
    DISLIKE = "dislike"
    REPORT = "report"


class ReportReason(StrEnum):
    """Why someone reports a partner: what the bot's and the Mini App's buttons send as ``rate_partner``'s
    ``reason`` (any other text is kept as written, e.g. from an older client)."""

    RUDE = "rude"
    UNWANTED = "unwanted"
    """Sexual or other unwanted behaviour."""
    FAKE = "fake"
    """Not the person of the profile."""
    UNDERAGE = "underage"
    """Looks under 18."""
    OTHER = "other"


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _printable_text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def text(min_length: int, max_length: int) -> Any:
    """A trimmed string type of bounded length, without control characters (line breaks and tabs allowed)."""
    return Annotated[
        str,
        StringConstraints(strict=True, strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_printable_text),
    ]


class Data(BaseModel):
    """Base of a reply's ``data``."""


# --- reply data -------------------------------------------------------------------------------


class Profile(Data):
    user_id: int
    name: str
    gender: Gender
    birthday: date
    age: int
    city: str
    bio: str | None = None
    username: str | None = None
    language: str | None = None
    seeking: list[Gender] | None = None
    photo_file_id: str | None = None
    partner_age_min: int | None = None
    partner_age_max: int | None = None


class ProfileData(Data):
    profile: Profile


class EventSummary(Data):
    event_id: int
    starts_at: str = Field(description="ISO 8601 with the offset of the event's timezone")
    timezone: str
    capacity: int
    registered: int
    spots_left: int
    state: str
    my_status: RegistrationStatus | None = None
    can_confirm: bool = False
    """The user was asked to confirm their seat and may answer now (``confirm_registration``)."""
    min_age: int | None = None
    """The youngest age the event admits (null: no limit)."""
    max_age: int | None = None
    """The oldest age the event admits (null: no limit)."""


class EventList(Data):
    events: list[EventSummary]


class RegisterResult(Data):
    status: Literal["registered", "waitlisted", "already_registered"]
    event: EventSummary | None = None
    """The event as it is after this registration (so a client needs no second round trip)."""


class CancelResult(Data):
    cancelled: list[int]


class ConfirmResult(Data):
    status: Literal["confirmed", "declined"]


class RateResult(Data):
    recorded: bool
    """False when the verdict was not changed (a report is final)."""
    verdict: Verdict | None = None
    """The verdict that stands."""


class ReadyResult(Data):
    ready: bool


class DeletedResult(Data):
    deleted: bool


class AcceptOfferResult(Data):
    status: Literal["registered", "already_registered"]
    """A seat at the extra night (``already_registered``: the user had registered for it themselves)."""
    event: EventSummary
    """The extra night, as ``list_events`` shows it after this."""
    left_waitlist_of: int | None = None
    """The full event whose waitlist the user left, if they were still on it."""


class Match(Data):
    """A mutual match: the other person's contact, and the event where the two liked each other."""

    event_id: int
    user_id: int
    name: str
    username: str | None = None


class MatchList(Data):
    matches: list[Match]


class NextDate(Data):
    """The user's date after the current one."""

    round: int
    starts_at: str
    ends_at: str
    partner: PartnerCard


class CurrentDate(Data):
    """The user's date now, or the next one tonight (``starts_at`` is then ahead)."""

    event_id: int
    round: int
    url: str | None = None
    """The call's link, once it went out to the two (``invite_to_meeting``); null before."""
    starts_at: str = Field(description="ISO 8601 with the offset of the event's timezone")
    ends_at: str
    partner: PartnerCard
    timezone: str
    rounds: int
    """Rounds in the event's plan."""
    next: NextDate | None = None
    """The user's following date tonight, if any ("who is next")."""


class DateToRate(Data):
    """A date whose round is over and whose partner the user has not rated yet (ratings still open)."""

    event_id: int
    round: int
    partner: PartnerCard


class Tonight(Data):
    date: CurrentDate | None = None
    now: str
    """datemaker's clock (ISO 8601, UTC), so that a client's countdown does not depend on its own clock."""
    to_rate: list[DateToRate] = Field(default_factory=list)


# --- commands ---------------------------------------------------------------------------------

ReplyT = TypeVar("ReplyT", bound=Data)

COMMANDS: dict[str, type[Command[Any]]] = {}
"""Command name → its class, for every command datemaker answers (filled as the classes are declared)."""


class Command(BaseModel, Generic[ReplyT]):
    """Base of every command to datemaker: unknown fields are ignored, known ones strictly typed.

    A subclass names itself (``name=``) and its reply data (the type parameter); it is then in :data:`COMMANDS`.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: ClassVar[str]
    """The command's name: the message's ``type`` property."""
    reply: ClassVar[type[Data]]
    read_only: ClassVar[bool] = False
    """It changes nothing: asked twice, it is answered twice (no idempotency record is kept)."""

    def __init_subclass__(cls, *, name: str | None = None, read_only: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)

    @classmethod
    def __pydantic_init_subclass__(cls, *, name: str | None = None, read_only: bool = False, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.read_only = read_only
        if name is None:  # an intermediate class, e.g. Command[RegisterResult]
            return
        reply = next(
            (
                base.__pydantic_generic_metadata__["args"][0]
                for base in cls.__mro__
                if getattr(base, "__pydantic_generic_metadata__", {}).get("origin") is Command
            ),
            None,
        )
        if reply is None:
            raise TypeError(f"command {name!r} must name its reply: class X(Command[ReplyData], name=...)")
        if name in COMMANDS:
            raise TypeError(f"two commands are named {name!r}")
        cls.type, cls.reply = name, reply
        COMMANDS[name] = cls


class UpsertProfile(Command[ProfileData], name="upsert_profile"):
    name: text(1, NAME_MAX)
    gender: Gender
    birthday: IsoDate
    city: text(1, CITY_MAX)
    bio: text(0, BIO_MAX) | None = None
    username: Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_]{1,32}$")] | None = None
    language: (
        Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})?$")] | None
    ) = None
    seeking: Annotated[list[Gender], Field(min_length=1, max_length=2)] | None = None
    photo_file_id: text(1, 256) | None = None
    partner_age_min: PartnerAge | None = None
    """The youngest partner the user wants to meet (null: no limit); a hard constraint of the planner."""
    partner_age_max: PartnerAge | None = None
    """The oldest partner the user wants to meet (null: no limit)."""

    @model_validator(mode="after")
    def _partner_ages_in_order(self) -> UpsertProfile:
        low, high = self.partner_age_min, self.partner_age_max
        if low is not None and high is not None and low > high:
            raise ValueError(f"partner_age_min ({low}) is above partner_age_max ({high})")
        return self


class GetProfile(Command[ProfileData], name="get_profile", read_only=True):
    pass


class ListEvents(Command[EventList], name="list_events", read_only=True):
    pass


class RegisterEvent(Command[RegisterResult], name="register_event"):
    event_id: EventId


class CancelRegistration(Command[CancelResult], name="cancel_registration"):
    event_id: Annotated[StrictInt, Field(ge=0, le=INT64_MAX, description="0 cancels every upcoming registration")]


class ConfirmRegistration(Command[ConfirmResult], name="confirm_registration"):
    event_id: EventId
    attending: StrictBool


class RatePartner(Command[RateResult], name="rate_partner"):
    event_id: EventId
    partner_id: UserId
    verdict: Verdict
    reason: text(0, 1000) | None = None


class SetReady(Command[ReadyResult], name="set_ready"):
    event_id: EventId


class DeleteMyData(Command[DeletedResult], name="delete_my_data"):
    """Erase the user's profile and every personal detail; upcoming registrations are cancelled."""


class AcceptExtraSeat(Command[AcceptOfferResult], name="accept_extra_seat"):
    """Take the seat of an extra night offered to the user while they waited at a full event (the offer's
    ``offer_extra_seat``); the user leaves that event's waitlist."""

    event_id: EventId


class ListMatches(Command[MatchList], name="list_matches", read_only=True):
    """The user's mutual matches at finished events, newest event first; erased people are nobody's contact."""


class GetCurrentDate(Command[Tonight], name="get_current_date", read_only=True):
    """The user's date now or next tonight, and the dates they may still rate."""


# --- the organizer's console (organizer_* commands: only for the users in public.organizers) ----------


class OrganizerEvent(Data):
    """An event as an organizer lists it (the CLI's ``events list``)."""

    event_id: int
    starts_at: str = Field(description="ISO 8601 with the offset of the event's timezone")
    timezone: str
    state: str
    capacity: int
    registered: int
    waitlisted: int
    confirmed: int
    min_age: int | None = None
    max_age: int | None = None
    schedule_id: int | None = None


class OrganizerEventList(Data):
    events: list[OrganizerEvent]


class BoardPerson(Data):
    """One registrant on the live board."""

    user_id: int
    name: str
    gender: Gender | None = None
    age: int | None = None
    status: RegistrationStatus
    confirmed: bool
    seated: bool
    """Has dates in the plan."""
    partner: PartnerCard | None = None
    """Tonight's partner in the current round (or the first round, before the start)."""
    link_sent: bool = False
    """The current round's link went out to this person."""
    in_call: bool | None = None
    """In the current round's call right now (Meet's live participants); null when not known."""
    ratings_given: int = 0
    reason: str | None = None
    """Why the plan leaves them out, if it does."""


class BalancePreview(Data):
    """What a plan from the current registrations would look like (before the event is planned)."""

    participants: int
    dates: int
    dates_per_person: dict[str, int]
    """User id (as a string: JSON keys) → dates."""
    sit_outs: dict[str, int]
    """Gender → expected sit-out rounds in all."""
    match_nobody: list[int]
    """People nobody in the event may meet (gender, seeking, age ranges, blocks)."""


class BoardSummary(Data):
    round: int | None = None
    """The round running now (1-based), or null."""
    dates_running: int = 0
    waiting_for_link: int = 0
    alone_in_call: int = 0


class EventBoard(Data):
    """``organizer_show_event``: the event, its registrations by status, its plan (or a preview) and per person
    their state tonight."""

    event: OrganizerEvent
    counts: dict[str, int]
    people: list[BoardPerson]
    summary: BoardSummary
    preview: BalancePreview | None = None
    rounds_planned: int = 0


class CreatedEvent(Data):
    event_id: int


class CancelledEvent(Data):
    cancelled: bool
    told: int = 0


class Report(Data):
    report_id: int
    event_id: int
    reporter: int
    reported: int
    reporter_name: str | None = None
    reported_name: str | None = None
    reason: str | None = None
    at: str
    reported_before: int
    """Reports against the reported person before this one."""
    reporter_reported: int = 0
    """Reports against the reporter, ever."""
    reported_banned: bool = False
    resolved_at: str | None = None
    """When an organizer dismissed it (``organizer_dismiss_report``); null while it is not resolved."""
    resolved_by: int | None = None
    """The organizer who dismissed it."""


class ReportList(Data):
    reports: list[Report]


class BanResult(Data):
    banned: bool
    removed_from: list[int] = Field(default_factory=list)
    """Upcoming events the user was taken out of."""


class DismissedReport(Data):
    dismissed: bool
    already: bool = False
    """It was dismissed before: nothing changed."""


class UnbanResult(Data):
    unbanned: bool
    """False: the user was not banned (nothing changed)."""


OrganizerAge = Annotated[StrictInt, Field(ge=MIN_AGE, le=MAX_AGE)]


class OrganizerListEvents(Command[OrganizerEventList], name="organizer_list_events", read_only=True):
    all: StrictBool = False


class OrganizerShowEvent(Command[EventBoard], name="organizer_show_event", read_only=True):
    event_id: EventId


class OrganizerCreateEvent(Command[CreatedEvent], name="organizer_create_event"):
    start: Annotated[str, StringConstraints(strict=True, max_length=64)]
    """ISO 8601 with an offset, or a local time in ``timezone`` ("2026-12-05 19:00")."""
    timezone: Annotated[str, StringConstraints(strict=True, max_length=64)] | None = None
    capacity: Annotated[StrictInt, Field(ge=2, le=10_000)] | None = None
    min_age: OrganizerAge | None = None
    max_age: OrganizerAge | None = None


class OrganizerCancelEvent(Command[CancelledEvent], name="organizer_cancel_event"):
    event_id: EventId
    reason: text(0, 500) | None = None


class OrganizerListReports(Command[ReportList], name="organizer_list_reports", read_only=True):
    open: StrictBool = True
    """Only reports about people not banned yet."""


class OrganizerBanUser(Command[BanResult], name="organizer_ban_user"):
    user_id: UserId
    reason: text(1, 500)


class OrganizerDismissReport(Command[DismissedReport], name="organizer_dismiss_report"):
    """The report (``report_id`` from ``organizer_list_reports``) is resolved: no longer open. Its person is not told,
    and the two people are still never paired again."""

    report_id: ReportId


class OrganizerUnbanUser(Command[UnbanResult], name="organizer_unban_user"):
    """The user's ban is lifted: they may register again (not put back into the events the ban took them out of), and
    are told."""

    user_id: UserId


class OrganizerSchedule(Data):
    """A schedule as an organizer lists it (the CLI's ``schedules list``)."""

    schedule_id: int
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]]
    """Its local days of the week, Monday first."""
    local_time: str = Field(description="HH:MM, local time in ``timezone``")
    timezone: str
    capacity: int
    horizon: int
    """It keeps this many of its next events open for registration."""
    state: Literal["active", "paused", "ended"]
    upcoming: int = 0
    """Its events taking registrations now."""
    next_starts_at: str | None = None
    """The start of the next of them (ISO 8601 with the offset of its timezone); null: none."""
    min_age: int | None = None
    max_age: int | None = None


class OrganizerScheduleList(Data):
    schedules: list[OrganizerSchedule]


class ScheduledEvent(Data):
    """One of a schedule's events (the CLI's ``schedules show``)."""

    event_id: int
    starts_at: str = Field(description="ISO 8601 with the offset of the event's timezone")
    state: str
    capacity: int
    registered: int
    waitlisted: int
    extra_for: int | None = None
    """The full event this extra night was opened for (null: one of the schedule's own)."""
    offers: int = 0
    """Seats of this extra night offered to the full event's waitlist, and how many of them were taken."""
    accepted: int = 0


class ScheduleDetails(Data):
    """``organizer_show_schedule``: the schedule, its demand rules (null: off) and its events not over yet (and
    those of the last two weeks), by start."""

    schedule: OrganizerSchedule
    extra_when_waitlist: int | None = None
    alert_below_percent: int | None = None
    events: list[ScheduledEvent]


class CreatedSchedule(Data):
    schedule_id: int
    first_starts: list[str] = Field(default_factory=list)
    """The starts of its first events (ISO 8601 with the offset), made by datemaker within seconds."""


class ScheduleStateChange(Data):
    schedule_id: int
    state: Literal["active", "paused", "ended"]
    """Its state now."""
    already: bool = False
    """It was in that state before: nothing changed."""


class OrganizerListSchedules(Command[OrganizerScheduleList], name="organizer_list_schedules", read_only=True):
    all: StrictBool = False
    """Ended schedules too."""


class OrganizerShowSchedule(Command[ScheduleDetails], name="organizer_show_schedule", read_only=True):
    schedule_id: ScheduleId


class OrganizerAddSchedule(Command[CreatedSchedule], name="organizer_add_schedule"):
    """A weekly schedule, checked as ``datemaker schedules add`` checks it; event settings left out take the
    defaults."""

    days: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)]
    """``mon,fri`` (three-letter names, commas or spaces) or ``daily``."""
    time: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=16)]
    """The local start time, ``HH:MM``."""
    timezone: Annotated[str, StringConstraints(strict=True, max_length=64)] | None = None
    capacity: Annotated[StrictInt, Field(ge=2, le=10_000)] | None = None
    min_age: OrganizerAge | None = None
    max_age: OrganizerAge | None = None
    horizon: Annotated[StrictInt, Field(ge=1, le=INT64_MAX)] | None = None


class OrganizerSetScheduleState(Command[ScheduleStateChange], name="organizer_set_schedule_state"):
    """Pause, resume or end a schedule (ended is for good; the events it made stay). Asking for the state it is in
    already changes nothing."""

    schedule_id: ScheduleId
    action: Literal["pause", "resume", "end"]


class PartnerAbsentResult(Data):
    status: Literal["partner_joined", "rematched", "no_one_free"]
    """``rematched``: a new ``invite_to_meeting`` with ``"rescue": true`` follows; ``no_one_free``: see ``next``."""
    next_round: int | None = None
    """With ``no_one_free``: the user's next round with a date tonight (null: none)."""
    next_starts_at: str | None = None


class PartnerAbsent(Command[PartnerAbsentResult], name="partner_absent"):
    """The caller's partner has not joined the call of the round running now."""

    event_id: EventId
    round: Annotated[StrictInt, Field(ge=1, le=1000)]
