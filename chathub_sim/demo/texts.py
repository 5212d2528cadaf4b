"""Recognising the bot's messages as a person reads them, in Russian or English.

Buttons say most: their callback data, read with the bot's own callback classes (``chathub_bot.callbacks``:
:class:`ConfirmCb` the "I will be there" button, :class:`RateCb` a rating, :class:`EventCb` an event's
register/open button, :class:`ProfileCb` the profile dialog's choices), and the Meet link of an invitation.
Messages without buttons are told apart by a fragment of their text, taken from the bot's own gettext
catalogs in both languages, so a reworded text changes the fragment with it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

from aiogram.filters.callback_data import CallbackData

from chathub_bot.callbacks import ConfirmCb, RateCb, ReportCb

MEET_LINK = re.compile(r"https://meet\.google\.com/[a-z0-9-]+")
_PLACEHOLDER = re.compile(r"\{[^}]*\}")
_TAG = re.compile(r"<[^>]+>")
_NUMBER = re.compile(r"\d+")
_T_ME = re.compile(r'href="https://t\.me/([A-Za-z0-9_]+)"')
_TG_USER = re.compile(r'href="tg://user\?id=(\d+)"')

Callback = TypeVar("Callback", bound=CallbackData)


class Kind(StrEnum):
    CONFIRM_REQUEST = "confirm_request"
    CONFIRMED = "confirmed"
    TAKING_PART = "taking_part"
    NOT_TAKING_PART = "not_taking_part"
    INVITE = "invite"
    SIT_OUT = "sit_out"
    BREAK = "break"
    RATING_REQUEST = "rating_request"
    FINAL = "final"
    MATCHES = "matches"
    NO_MATCHES = "no_matches"
    PROFILE_SAVED = "profile_saved"
    OTHER = "other"


SOURCES: dict[Kind, tuple[str, ...]] = {
    Kind.CONFIRMED: ("✅ Thank you, you are confirmed! See you at the event.",),
    Kind.TAKING_PART: (
        "You are in! The event on {when} has {rounds} rounds. The call links will come here, in this chat.",
        "You are in! The event on {when} will take place. The call links will come here, in this chat.",
    ),
    Kind.NOT_TAKING_PART: (
        "Sorry, this time there is no place for you in the event. We hope to see you at the next one: /date",
    ),
    Kind.SIT_OUT: (
        "You sit out round {round}: there is no partner for you in this one. "
        "Your next date is in round {next} at {time}.",
        "You sit out round {round}: there is no partner for you in this one. Your next date is in round {next}.",
        "You sit out round {round}: there is no partner for you in this one.",
    ),
    Kind.BREAK: (
        "Round {round} is over. Take a short break: the next round starts at {time}.",
        "Round {round} is over. Take a short break.",
    ),
    Kind.FINAL: ("🎉 That's all for tonight! {dates} Thank you for coming. Your matches will follow shortly.",),
    Kind.MATCHES: ("💘 You liked each other! Write to them:",),
    Kind.NO_MATCHES: ("No mutual likes this time. Don't be sad: come to the next event! /date",),
    Kind.PROFILE_SAVED: ("Your profile is saved!",),
}
"""The bot's source strings (its gettext msgids) that tell each kind apart."""


def fragment(text: str) -> str:
    """The longest literal piece of a translated text (placeholders and HTML tags removed), trimmed."""
    pieces = [piece.strip() for piece in _PLACEHOLDER.split(_TAG.sub("", text))]
    return max(pieces, key=len)


@functools.cache
def markers() -> dict[Kind, tuple[str, ...]]:
    """Kind → its text fragment in every language of the bot (from the bot's catalogs)."""
    from chathub_bot.i18n import LOCALES, build_i18n

    i18n = build_i18n()
    found: dict[Kind, tuple[str, ...]] = {}
    for kind, sources in SOURCES.items():
        found[kind] = tuple(
            sorted({fragment(i18n.gettext(source, locale=locale)) for source in sources for locale in LOCALES})
        )
    return found


def callback_data(message: Mapping[str, Any]) -> list[str]:
    return [b["callback_data"] for row in message.get("buttons") or [] for b in row if b.get("callback_data")]


def unpack(kind: type[Callback], data: str) -> Callback | None:
    """``data`` read as the bot's callback class ``kind``; None when it is another button's (another prefix,
    another shape, or a value the class does not accept)."""
    try:
        return kind.unpack(data)
    except (ValueError, TypeError):  # a foreign prefix or shape; pydantic's ValidationError is a ValueError
        return None


def buttons(message: Mapping[str, Any], kind: type[Callback]) -> list[tuple[Callback, str]]:
    """The message's buttons of the callback class ``kind``: (what they say, their callback data), in order."""
    found = []
    for data in callback_data(message):
        unpacked = unpack(kind, data)
        if unpacked is not None:
            found.append((unpacked, data))
    return found


def has_button(message: Mapping[str, Any], kind: type[CallbackData], **fields: object) -> bool:
    """Whether the message has a button of ``kind`` whose fields have the given values (all of them)."""
    return any(
        all(getattr(button, name) == value for name, value in fields.items()) for button, _ in buttons(message, kind)
    )


def button_label(message: Mapping[str, Any], data: str) -> str | None:
    """The label of the button sending ``data`` (what a person sees and taps)."""
    for row in message.get("buttons") or []:
        for button in row:
            if button.get("callback_data") == data:
                return button["text"]
    return None


def content(message: Mapping[str, Any]) -> str:
    return message.get("text") or message.get("caption") or ""


def meet_link(message: Mapping[str, Any]) -> str | None:
    for row in message.get("buttons") or []:
        for button in row:
            url = button.get("url") or ""
            if MEET_LINK.fullmatch(url):
                return url
    found = MEET_LINK.search(content(message))
    return found.group(0) if found else None


def first_number(text: str) -> int | None:
    found = _NUMBER.search(text)
    return int(found.group(0)) if found else None


def classify(message: Mapping[str, Any], table: Mapping[Kind, Iterable[str]] | None = None) -> Kind:
    """What a bot message (as the emulator's control API shows it) is."""
    if confirm_button(message) is not None:
        return Kind.CONFIRM_REQUEST
    if buttons(message, RateCb):
        return Kind.RATING_REQUEST
    if meet_link(message):
        return Kind.INVITE
    text = content(message)
    for kind, fragments in (table or markers()).items():
        if any(f and f in text for f in fragments):
            return kind
    return Kind.OTHER


def confirm_button(message: Mapping[str, Any]) -> tuple[int, str] | None:
    """(event id, callback data) of the "I will be there" button."""
    for button, data in buttons(message, ConfirmCb):
        if button.attending:
            return button.event_id, data
    return None


def rating_buttons(message: Mapping[str, Any]) -> tuple[int, int, dict[str, str]] | None:
    """(event id, partner id, verdict → callback data) of a rating request."""
    found = buttons(message, RateCb)
    if not found:
        return None
    first = found[0][0]
    return first.event_id, first.partner_id, {button.verdict.value: data for button, data in found}


def report_buttons(message: Mapping[str, Any]) -> dict[str, str]:
    """Reason → callback data of the buttons a report asks its reason with."""
    return {button.reason.value: data for button, data in buttons(message, ReportCb)}


def invite_round(message: Mapping[str, Any]) -> int | None:
    """The round of an invitation: the number in its first line ("🔔 Round 2: ..." / "🔔 Раунд 2: ...")."""
    return first_number(content(message).split("\n", 1)[0])


def match_contacts(message: Mapping[str, Any], user_ids_by_username: Mapping[str, int]) -> tuple[int, ...]:
    """User ids of the contacts in a matches message (t.me links by username, tg://user links by id)."""
    source = message.get("source") or ""
    ids = [user_ids_by_username[name] for name in _T_ME.findall(source) if name in user_ids_by_username]
    ids += [int(found) for found in _TG_USER.findall(source)]
    return tuple(ids)
