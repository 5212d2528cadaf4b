"""Commands to the bot (PROTOCOL.md section 5), sent by datemaker to one user each."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Notification(BaseModel):
    """Base of every command to the bot; addressed by the ``user_id``/``chat_id`` headers."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: int
    language: str | None = None
    """The user's language (``ru``, ``en``; the profile's ``language``), to pick the message's translation.
    Optional, and may come as a ``language`` header instead; without either the bot uses the language the
    user was last seen with, else Russian."""


class PartnerCard(BaseModel):
    """What a participant sees of a partner."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    user_id: int
    name: str
    age: int | None = None
    city: str | None = None
    bio: str | None = None
    photo_file_id: str | None = None


class MatchContact(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    user_id: int
    name: str
    username: str | None = None


class ConfirmRegistrationRequest(Notification):
    starts_at: str
    timezone: str
    deadline: str


class SendRules(Notification):
    starts_at: str
    rounds: int
    round_seconds: int
    break_seconds: int


class InviteToMeeting(Notification):
    round: int
    url: str
    starts_at: str
    ends_at: str
    partner: PartnerCard


class SendPartnerProfile(Notification):
    round: int
    partner: PartnerCard


class SendPartnerRatingRequest(Notification):
    round: int
    partner: PartnerCard


class SendBreakMessage(Notification):
    round: int
    sitting_out: bool = False
    next_round: int | None = None
    next_round_starts_at: str | None = None


class SendFinalDatingMessage(Notification):
    dates: int = 0


class SendMatchMessage(Notification):
    matches: list[MatchContact]


class SendReadyForEventRequest(Notification):
    starts_at: str


class SendUserWillTakePartInEvent(Notification):
    starts_at: str
    rounds: int = 0


class SendUserWillNotTakePartInEvent(Notification):
    reason: str


class EventCancelled(Notification):
    starts_at: str


BOT_COMMANDS: dict[str, type[Notification]] = {
    "confirm_registration": ConfirmRegistrationRequest,
    "send_rules": SendRules,
    "invite_to_meeting": InviteToMeeting,
    "send_partner_profile": SendPartnerProfile,
    "send_partner_rating_request": SendPartnerRatingRequest,
    "send_break_message": SendBreakMessage,
    "send_final_dating_message": SendFinalDatingMessage,
    "send_match_message": SendMatchMessage,
    "send_ready_for_event_request": SendReadyForEventRequest,
    "send_user_will_take_part_in_event": SendUserWillTakePartInEvent,
    "send_user_will_not_take_part_in_event": SendUserWillNotTakePartInEvent,
    "event_cancelled": EventCancelled,
}
"""Command name → body model, for every command the bot receives from datemaker."""
