"""User-facing texts shared by handlers and notifications (HTML; every string through gettext).

Call these inside an i18n context (a handler, or :func:`chathub_bot.i18n` ``use_locale``).
"""

from __future__ import annotations

import html
import logging
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_datetime, format_time

from contracts import commands as c
from contracts.errors import ErrorCode
from contracts.notifications import PartnerCard

logger = logging.getLogger(__name__)

MAX_BIO_IN_CAPTION = 600
"""Telegram captions hold 1024 characters; a partner's bio is cut to leave room for the rest."""


def esc(value: object) -> str:
    """Text safe inside an HTML message."""
    return html.escape(str(value), quote=False)


MESSAGE_CHARS = 4000
"""A Telegram message holds 4,096 characters: long lists are cut to fit in this, with room to spare."""


def fitting(head: list[str], items: list[str], tail: list[str], *, sep: str = "\n", limit: int = MESSAGE_CHARS) -> str:
    """``head``, as many of ``items`` as fit in ``limit`` characters, a line saying how many are left out, and
    ``tail``; whole items only (a cut one could split an HTML tag or entity)."""
    room = limit - len(sep.join([*head, *tail])) - 2 * len(sep) - 80  # 80: the line saying how many are left out
    shown: list[str] = []
    for item in items:
        room -= len(item) + len(sep)
        if room < 0:
            more = _("…and {count} more").format(count=len(items) - len(shown))
            return sep.join([*head, *shown, more, *tail])
        shown.append(item)
    return sep.join([*head, *shown, *tail])


def report_reasons() -> dict[str, str]:
    """The reasons a person can give for a report (``ReportReason``), in words."""
    return {
        c.ReportReason.RUDE: _("Rude or offensive"),
        c.ReportReason.UNWANTED: _("Sexual or unwanted behaviour"),
        c.ReportReason.FAKE: _("Not the person in the profile"),
        c.ReportReason.UNDERAGE: _("Looks under 18"),
        c.ReportReason.OTHER: _("Something else"),
    }


def report_reason(reason: str | None) -> str:
    """A report's reason for an organizer: the words of a known one, else what was written (escaped)."""
    if not reason:
        return "—"
    return report_reasons().get(reason) or esc(reason)


def locale() -> str:
    return get_i18n().current_locale


def _zone(timezone: str | None) -> ZoneInfo | None:
    if not timezone:
        return None
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_moment(value: str, timezone: str | None = None) -> datetime | None:
    """An ISO 8601 moment, shown in ``timezone`` when given (else in its own offset)."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    zone = _zone(timezone)
    if zone is not None and moment.tzinfo is not None:
        moment = moment.astimezone(zone)
    return moment


def when(value: str, timezone: str | None = None) -> str:
    """A start time for people: ``25 декабря, 19:00 (Europe/Moscow)`` / ``December 25, 19:00 (Europe/Moscow)``."""
    moment = parse_moment(value, timezone)
    if moment is None:
        return esc(value)
    pattern = "d MMMM, HH:mm" if locale() == "ru" else "MMMM d, HH:mm"
    text = format_datetime(moment, pattern, locale=locale())
    zone_name = timezone or (moment.tzname() or "")
    return f"{text} ({esc(zone_name)})" if zone_name else text


def when_short(value: str, timezone: str | None = None) -> str:
    """A start time for a button: ``25 дек., 19:00``."""
    moment = parse_moment(value, timezone)
    if moment is None:
        return value[:16]
    pattern = "d MMM, HH:mm" if locale() == "ru" else "MMM d, HH:mm"
    return format_datetime(moment, pattern, locale=locale())


def clock(value: str, timezone: str | None = None) -> str:
    """Only the time of day: ``19:05``."""
    moment = parse_moment(value, timezone)
    if moment is None:
        return esc(value)
    return format_time(moment, "HH:mm", locale=locale())


def busy() -> str:
    return _("The service is busy right now. Please try again in a minute.")


def error_text(code: str) -> str:
    """A polite explanation of a datemaker error code."""
    texts: dict[str, str] = {
        ErrorCode.PROFILE_REQUIRED: _("Please fill in your profile first: /profile"),
        ErrorCode.EVENT_NOT_FOUND: _("This event no longer exists."),
        ErrorCode.REGISTRATION_CLOSED: _("Registration for this event is closed."),
        ErrorCode.EVENT_FULL: _("Sorry, this event is full, and so is its waiting list."),
        ErrorCode.NOT_REGISTERED: _("You are not registered for this event."),
        ErrorCode.CONFIRMATION_NOT_OPEN: _("It is too early to confirm: we will ask you a day before the event."),
        ErrorCode.CONFIRMATION_CLOSED: _("Confirmations for this event are closed."),
        ErrorCode.NOT_YOUR_PARTNER: _("You can only rate people you had a date with at this event."),
        ErrorCode.RATING_CLOSED: _("Ratings for this event are closed."),
        ErrorCode.OFFER_NOT_FOUND: _("There is no seat offered to you at this event."),
        ErrorCode.OFFER_EXPIRED: _("Sorry, this offer has expired."),
        ErrorCode.OFFER_ALREADY_ACCEPTED: _("You have taken this seat already."),
        ErrorCode.NOT_ELIGIBLE: _("Sorry, this event is for another age range."),
        ErrorCode.NOT_AN_ORGANIZER: _("This command is for organizers."),
        ErrorCode.BANNED: _("Sorry, you can no longer take part in our events."),
        ErrorCode.BAD_REQUEST: _("Something in this request is not right. Please check and try again."),
    }
    return texts.get(code, _("Something went wrong on our side. Please try again later."))


def age_range(low: int | None, high: int | None) -> str | None:
    """An age range for people ("25–40", "25+", "up to 40"), or None when there is no limit."""
    if low is not None and high is not None:
        return f"{low}–{high}"
    if low is not None:
        return _("{low}+").format(low=low)
    if high is not None:
        return _("up to {high}").format(high=high)
    return None


def gender_label(gender: str) -> str:
    return _("Man") if gender == "M" else _("Woman")


def spots(count: int) -> str:
    return _("{n} spot left", "{n} spots left", n=count).format(n=count)


def profile_card(profile: c.Profile) -> str:
    lines = [
        _("<b>{name}</b>, {age}").format(name=esc(profile.name), age=profile.age),
        _("Gender: {gender}").format(gender=gender_label(profile.gender)),
        _("Birthday: {birthday}").format(birthday=profile.birthday.strftime("%d.%m.%Y")),
        _("City: {city}").format(city=esc(profile.city)),
    ]
    if profile.bio:
        lines.append(_("About: {bio}").format(bio=esc(profile.bio)))
    lines.append(
        _("Partner ages: {ages}").format(ages=age_range(profile.partner_age_min, profile.partner_age_max) or _("any"))
    )
    lines.append(_("Photo: {state}").format(state=_("yes") if profile.photo_file_id else _("no")))
    return "\n".join(lines)


def partner_card(partner: PartnerCard, *, bio_limit: int = MAX_BIO_IN_CAPTION) -> str:
    """A partner's name, age, city and bio."""
    head = f"<b>{esc(partner.name)}</b>"
    if partner.age:
        head += f", {partner.age}"
    lines = [head]
    if partner.city:
        lines.append(_("City: {city}").format(city=esc(partner.city)))
    if partner.bio:
        bio = partner.bio if len(partner.bio) <= bio_limit else partner.bio[: bio_limit - 1] + "…"
        lines.append(_("About: {bio}").format(bio=esc(bio)))
    return "\n".join(lines)


def rules() -> str:
    return _(
        "<b>How speed dating works</b>\n"
        "• Register for an event below. A day before it starts we ask you to confirm.\n"
        "• At the start time you get a Google Meet link and your partner's profile for each round.\n"
        "• A round lasts a few minutes; between rounds there is a short break.\n"
        "• After every date, tell us whether you liked your partner. It stays private.\n"
        "• At the end you get the contacts of everyone who liked you back.\n"
        "Be kind and respectful; report anyone who is not."
    )


def _next_date(next_round: int | None, next_starts_at: str | None) -> str:
    """When someone's next date tonight is, or that there is none."""
    if next_round is not None and next_starts_at:
        return _("Your next date is in round {round}, at {time}.").format(round=next_round, time=clock(next_starts_at))
    return _("This was your last date tonight.")


def no_partner_free(next_round: int | None, next_starts_at: str | None) -> str:
    """Someone's partner never came and nobody is free: when their next date is."""
    text = _("😔 Your partner did not come, and nobody else is free in this round. We are sorry!")
    return text + " " + _next_date(next_round, next_starts_at)


def date_given_up(round_no: int, next_round: int | None, next_starts_at: str | None) -> str:
    """Someone never joined their date's call: it was given up, and the call is not theirs any more."""
    text = _(
        "⚠️ You did not join your date of round {round}, so it was given up. Please do not join that call: "
        "someone else may be having a date in it now."
    ).format(round=round_no)
    return text + " " + _next_date(next_round, next_starts_at)


def conversation_starters() -> list[str]:
    """The conversation starters an invite names by number (``contracts.notifications.CONVERSATION_STARTERS``)."""
    return [
        _("What was the best part of your week?"),
        _("Which place would you love to show a visitor in your city?"),
        _("What did you want to be when you were a child?"),
        _("Which book, film or series could you talk about for hours?"),
        _("What is a small thing that always makes your day better?"),
        _("Mountains or the sea, and why?"),
        _("What is the last thing you learned just for fun?"),
        _("Which trip do you still remember in detail?"),
        _("What would you do with a free day tomorrow?"),
        _("Which dish do you cook best?"),
        _("What is a hobby you would like to try?"),
        _("Early bird or night owl?"),
        _("What song have you had on repeat lately?"),
        _("Which skill would you like to master in a year?"),
        _("What is the most spontaneous thing you have done?"),
        _("Cats, dogs, or neither?"),
        _("What is your favourite way to spend a rainy evening?"),
        _("Which city would you like to live in for a year?"),
        _("What is something people are often surprised to learn about you?"),
        _("What makes a perfect weekend for you?"),
    ]
