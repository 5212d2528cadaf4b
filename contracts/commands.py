"""Commands to datemaker (PROTOCOL.md section 4): argument models and reply data models."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
)

from contracts.envelope import INT64_MAX


def _iso_date(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
EventId = Annotated[StrictInt, Field(gt=0, le=INT64_MAX)]
UserId = Annotated[StrictInt, Field(gt=0, le=INT64_MAX)]
Gender = Literal["M", "F"]
Verdict = Literal["like", "dislike", "report"]
RegistrationStatus = Literal["registered", "waitlisted", "confirmed", "declined", "cancelled"]


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


class Arguments(BaseModel):
    """Base of every command's arguments: unknown fields are ignored, known ones strictly typed."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class UpsertProfile(Arguments):
    name: text(1, 64)
    gender: Gender
    birthday: IsoDate
    city: text(1, 64)
    bio: text(0, 1000) | None = None
    username: Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_]{1,32}$")] | None = None
    language: (
        Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})?$")] | None
    ) = None
    seeking: Annotated[list[Gender], Field(min_length=1, max_length=2)] | None = None
    photo_file_id: text(1, 256) | None = None


class GetProfile(Arguments):
    pass


class ListEvents(Arguments):
    pass


class RegisterEvent(Arguments):
    event_id: EventId


class CancelRegistration(Arguments):
    event_id: Annotated[StrictInt, Field(ge=0, le=INT64_MAX, description="0 cancels every upcoming registration")]


class ConfirmRegistration(Arguments):
    event_id: EventId
    attending: StrictBool


class RatePartner(Arguments):
    event_id: EventId
    partner_id: UserId
    verdict: Verdict
    reason: text(0, 1000) | None = None


class SetReady(Arguments):
    event_id: EventId


DATEMAKER_COMMANDS: dict[str, type[Arguments]] = {
    "upsert_profile": UpsertProfile,
    "get_profile": GetProfile,
    "list_events": ListEvents,
    "register_event": RegisterEvent,
    "cancel_registration": CancelRegistration,
    "confirm_registration": ConfirmRegistration,
    "rate_partner": RatePartner,
    "set_ready": SetReady,
}
"""Command name → argument model, for every command datemaker answers."""


# --- reply data -------------------------------------------------------------------------------


class Profile(BaseModel):
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


class ProfileData(BaseModel):
    profile: Profile


class EventSummary(BaseModel):
    event_id: int
    starts_at: str = Field(description="ISO 8601 with the offset of the event's timezone")
    timezone: str
    capacity: int
    registered: int
    spots_left: int
    state: str
    my_status: RegistrationStatus | None = None


class EventList(BaseModel):
    events: list[EventSummary]


class RegisterResult(BaseModel):
    status: Literal["registered", "waitlisted", "already_registered"]


class CancelResult(BaseModel):
    cancelled: list[int]


class ConfirmResult(BaseModel):
    status: Literal["confirmed", "declined"]


class RateResult(BaseModel):
    recorded: bool


class ReadyResult(BaseModel):
    ready: bool
