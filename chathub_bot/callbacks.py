"""Typed inline-button data (each packs to at most 64 bytes).

Button data names an action and the ids of things (events, partners), never the acting user: who acts
is always the update's ``from_user``, and datemaker checks every id against that user. Ids are positive
64-bit integers: forged data outside that is not a button of ours (the user is told it is stale).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

from contracts.commands import ReportReason, Verdict
from contracts.envelope import INT64_MAX

Id = Annotated[int, Field(gt=0, le=INT64_MAX)]
"""An event's or a user's id (callback data arrives as text: not a strict integer)."""


class MenuAction(StrEnum):
    EVENTS = "ev"
    RULES = "ru"
    CANCEL_ALL = "ca"
    CANCEL_ALL_CONFIRMED = "cy"


class EventAction(StrEnum):
    REGISTER = "r"
    OPEN = "o"
    CANCEL = "c"
    CANCEL_CONFIRMED = "y"


class PrivacyAction(StrEnum):
    ERASE = "e"
    KEEP = "k"


class ProfileAction(StrEnum):
    EDIT = "e"
    GENDER = "g"
    SKIP = "s"
    SAVE = "v"
    RESTART = "n"


class MenuCb(CallbackData, prefix="m"):
    action: MenuAction


class EventCb(CallbackData, prefix="e"):
    action: EventAction
    event_id: Id


class ProfileCb(CallbackData, prefix="p"):
    action: ProfileAction
    value: str = ""


class PrivacyCb(CallbackData, prefix="d"):
    action: PrivacyAction


class ConfirmCb(CallbackData, prefix="c"):
    event_id: Id
    attending: bool


class RateCb(CallbackData, prefix="r"):
    """A verdict on a date (a report asks for its reason first: :class:`ReportCb`)."""

    event_id: Id
    partner_id: Id
    verdict: Verdict


class ReportCb(CallbackData, prefix="rr"):
    """A report with its reason (a class of its own: buttons already in chats keep their ``RateCb`` format)."""

    event_id: Id
    partner_id: Id
    reason: ReportReason


class RateMenuCb(CallbackData, prefix="rm"):
    """Back from a report's reasons to the verdicts."""

    event_id: Id
    partner_id: Id


class ReadyCb(CallbackData, prefix="y"):
    event_id: Id


class OfferCb(CallbackData, prefix="o"):
    """Accept the seat offered at an extra night."""

    event_id: Id


class OrganizerAction(StrEnum):
    SHOW = "s"
    BOARD = "b"
    CANCEL = "c"
    CANCEL_CONFIRMED = "y"
    BAN = "x"
    BAN_CONFIRMED = "z"
    DISMISS = "d"
    SKIP = "k"
    TIMEZONE = "t"
    SCHEDULE_PAUSE = "p"
    SCHEDULE_RESUME = "r"
    SCHEDULE_END = "e"
    SCHEDULE_END_CONFIRMED = "f"


class OrganizerCb(CallbackData, prefix="g"):
    """A button of the organizer's console: an event's (``target`` is its id), a reported person's (their user id),
    a report's (its ``report_id``) or a schedule's (its id), 0 when it names nothing; datemaker checks that the
    presser is an organizer."""

    action: OrganizerAction
    target: Annotated[int, Field(ge=0, le=INT64_MAX)] = 0


class AbsentCb(CallbackData, prefix="a"):
    """ "My partner isn't here": the date of this round of this event."""

    event_id: Id
    round: Annotated[int, Field(ge=1, le=1000)]
