"""Commands to the bot (docs/protocol.md section 5), each declared once: its name, its body and its priority.

datemaker sends them, one user each (the ``user_id``/``chat_id`` headers). A notification is a class:
``class InviteToMeeting(Notification, name="invite_to_meeting", priority=Priority.URGENT)``;
:data:`NOTIFICATIONS` is built from the classes, and the bot looks its renderers up by class. The priority
orders both datemaker's outbox and the bot's sending: meeting links first.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class Priority(IntEnum):
    """How soon a message must reach its user; lower goes first."""

    URGENT = 0
    """Time-critical: a meeting link is worthless after its round."""
    INTERACTIVE = 1
    """The answer to something a user just did (the bot's own replies)."""
    ROUND = 2
    """What belongs to a round: breaks, sit-outs, rating requests."""
    NORMAL = 3
    """The rest: confirmations, rules, results."""


NOTIFICATIONS: dict[str, type[Notification]] = {}
"""Notification name → its class, for every command the bot receives from datemaker."""


class Notification(BaseModel):
    """Base of every command to the bot; addressed by the ``user_id``/``chat_id`` headers.

    A subclass names itself (``name=``) and may set its ``priority`` (default NORMAL); it is then in
    :data:`NOTIFICATIONS`.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: ClassVar[str]
    """The notification's name: the message's ``type`` property."""
    priority: ClassVar[Priority] = Priority.NORMAL

    event_id: int
    language: str | None = None
    """The user's language (``ru``, ``en``; the profile's ``language``), to pick the message's translation.
    Optional, and may come as a ``language`` header instead; without either the bot uses the language the
    user was last seen with, else Russian."""
    expires_at: str | None = None
    """ISO 8601: past it the message is worthless (a round's link after the round) and is dropped, counted,
    not sent. A message without it is never dropped."""

    def __init_subclass__(cls, *, name: str | None = None, priority: Priority | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)

    @classmethod
    def __pydantic_init_subclass__(
        cls, *, name: str | None = None, priority: Priority | None = None, **kwargs: Any
    ) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if priority is not None:
            cls.priority = priority
        if name is None:
            return
        if name in NOTIFICATIONS:
            raise TypeError(f"two notifications are named {name!r}")
        cls.type = name
        NOTIFICATIONS[name] = cls


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


class ConfirmRegistrationRequest(Notification, name="confirm_registration"):
    starts_at: str
    timezone: str
    deadline: str


class SendRules(Notification, name="send_rules"):
    starts_at: str
    rounds: int
    round_seconds: int
    break_seconds: int


CONVERSATION_STARTERS = 20
"""How many conversation starters the bot keeps (in its locale files); an invite names one by its number."""


class InviteToMeeting(Notification, name="invite_to_meeting", priority=Priority.URGENT):
    round: int
    url: str
    starts_at: str
    ends_at: str
    partner: PartnerCard
    rescue: bool = False
    """A new partner for the rest of the round: the first one never joined (``partner_absent``)."""
    starter: int | None = None
    """A conversation starter for the date: its number, 0 to ``CONVERSATION_STARTERS`` - 1."""


class LinkDelayed(Notification, name="link_delayed", priority=Priority.URGENT):
    """The date's link is not ready at its round's start; it follows as ``invite_to_meeting`` the moment it
    exists."""

    round: int
    partner: PartnerCard


class SendTimeLeft(Notification, name="send_time_left", priority=Priority.URGENT):
    """The call ends soon (``time_left_warning_seconds`` before the round ends)."""

    round: int
    seconds_left: int


class SendPartnerProfile(Notification, name="send_partner_profile", priority=Priority.ROUND):
    round: int
    partner: PartnerCard


class SendPartnerRatingRequest(Notification, name="send_partner_rating_request", priority=Priority.ROUND):
    round: int
    partner: PartnerCard


class SendBreakMessage(Notification, name="send_break_message", priority=Priority.ROUND):
    round: int
    sitting_out: bool = False
    next_round: int | None = None
    next_round_starts_at: str | None = None


class SendFinalDatingMessage(Notification, name="send_final_dating_message"):
    dates: int = 0


class SendMatchMessage(Notification, name="send_match_message"):
    matches: list[MatchContact]


class SendReadyForEventRequest(Notification, name="send_ready_for_event_request"):
    starts_at: str


class SendUserWillTakePartInEvent(Notification, name="send_user_will_take_part_in_event"):
    starts_at: str
    rounds: int = 0


class SendUserWillNotTakePartInEvent(Notification, name="send_user_will_not_take_part_in_event"):
    reason: str


class EventCancelled(Notification, name="event_cancelled"):
    starts_at: str


class OfferExtraSeat(Notification, name="offer_extra_seat"):
    """A seat at an extra night (``event_id``) for someone waiting at a full event, until ``deadline``."""

    from_event_id: int
    from_starts_at: str
    starts_at: str
    timezone: str
    deadline: str
    """When the offer expires: the extra night's registration closes."""


class EventUnderfilled(Notification, name="event_underfilled"):
    """To an organizer: an event is far from full while there is still time to act."""

    starts_at: str
    timezone: str
    registered: int
    capacity: int
    confirm_opens_at: str
    schedule_id: int | None = None


class UserBanned(Notification, name="user_banned"):
    """To someone an organizer banned: they can no longer register, and were taken out of upcoming events
    (``event_id`` is 0: the ban is not about one event)."""

    removed_from: list[int] = []


class UserUnbanned(Notification, name="user_unbanned"):
    """To someone whose ban an organizer lifted: they may register for events again (``event_id`` is 0)."""


class NoPartnerFree(Notification, name="no_partner_free", priority=Priority.URGENT):
    """The user's partner never joined the round's call and nobody compatible is free: when the next date is."""

    round: int
    next_round: int | None = None
    next_starts_at: str | None = None


class DateGivenUp(Notification, name="date_given_up", priority=Priority.URGENT):
    """The user never joined their date's call in ``round``, so the date was given up and the call may now hold
    someone else's date (their partner's rescue): they must not join it. When their next date is (nulls: none
    tonight)."""

    round: int
    next_round: int | None = None
    next_starts_at: str | None = None
