"""What a profile may hold, shared by the bot (which re-asks helpfully) and datemaker (which decides)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

NAME_MAX = 64
CITY_MAX = 64
BIO_MAX = 1000
MIN_AGE = 18
"""Participants are adults."""
MAX_AGE = 120
"""Older than this, a birthday is a typo."""


def age_on(birthday: date, today: date) -> int:
    """Completed years between ``birthday`` and ``today``."""
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))


class BirthdayProblem(StrEnum):
    """Why a birthday is not accepted."""

    FUTURE = "future"
    TOO_YOUNG = "too_young"
    TOO_OLD = "too_old"


def birthday_problem(birthday: date, today: date) -> BirthdayProblem | None:
    """What is wrong with ``birthday`` as a participant's, or None."""
    if birthday > today:
        return BirthdayProblem.FUTURE
    age = age_on(birthday, today)
    if age < MIN_AGE:
        return BirthdayProblem.TOO_YOUNG
    if age > MAX_AGE:
        return BirthdayProblem.TOO_OLD
    return None
