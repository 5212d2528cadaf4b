"""Typed inline-button data (each packs to at most 64 bytes).

Button data names an action and the ids of things (events, partners), never the acting user: who acts
is always the update's ``from_user``, and datemaker checks every id against that user.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


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


class ProfileAction(StrEnum):
    EDIT = "e"
    GENDER = "g"
    SKIP = "s"
    SAVE = "v"
    RESTART = "n"


class Verdict(StrEnum):
    LIKE = "like"
    DISLIKE = "dislike"
    REPORT = "report"


class MenuCb(CallbackData, prefix="m"):
    action: MenuAction


class EventCb(CallbackData, prefix="e"):
    action: EventAction
    event_id: int


class ProfileCb(CallbackData, prefix="p"):
    action: ProfileAction
    value: str = ""


class ConfirmCb(CallbackData, prefix="c"):
    event_id: int
    attending: bool


class RateCb(CallbackData, prefix="r"):
    event_id: int
    partner_id: int
    verdict: Verdict


class ReadyCb(CallbackData, prefix="y"):
    event_id: int
