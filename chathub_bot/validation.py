"""Checks of the profile dialog's answers (pure; datemaker checks again, this is for helpful re-asks)."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

MIN_AGE = 18
MAX_AGE = 100
NAME_MAX = 64
CITY_MAX = 64
BIO_MAX = 1000
_DATE_FORMATS = (
    re.compile(r"(?P<d>\d{1,2})[./-](?P<m>\d{1,2})[./-](?P<y>\d{4})"),
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"),
)
_GENDERS = {
    "M": ("m", "male", "man", "м", "муж", "мужчина", "мужской", "парень"),
    "F": ("f", "female", "woman", "ж", "жен", "женщина", "женский", "девушка"),
}
_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,32}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})?$")


class Problem(StrEnum):
    """Why an answer was not accepted."""

    EMPTY = "empty"
    TOO_LONG = "too_long"
    COMMAND = "command"
    NOT_A_DATE = "not_a_date"
    FUTURE = "future"
    TOO_YOUNG = "too_young"
    TOO_OLD = "too_old"
    UNKNOWN_GENDER = "unknown_gender"


class InvalidAnswer(ValueError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def _text(value: str | None, limit: int) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise InvalidAnswer(Problem.EMPTY)
    if text.startswith("/"):
        raise InvalidAnswer(Problem.COMMAND)
    if len(text) > limit:
        raise InvalidAnswer(Problem.TOO_LONG)
    return text


def parse_name(value: str | None) -> str:
    return _text(value, NAME_MAX)


def parse_city(value: str | None) -> str:
    return _text(value, CITY_MAX)


def parse_bio(value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidAnswer(Problem.EMPTY)
    if len(text) > BIO_MAX:
        raise InvalidAnswer(Problem.TOO_LONG)
    return text


def parse_gender(value: str | None) -> str:
    word = (value or "").strip().lower().rstrip(".!")
    for gender, words in _GENDERS.items():
        if word in words:
            return gender
    raise InvalidAnswer(Problem.UNKNOWN_GENDER)


def age_on(birthday: date, today: date) -> int:
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))


def parse_birthday(value: str | None, today: date) -> date:
    """A birthday as ``DD.MM.YYYY`` (or ``-``/``/`` separated) or ``YYYY-MM-DD``, of an adult."""
    text = (value or "").strip()
    for pattern in _DATE_FORMATS:
        match = pattern.fullmatch(text)
        if match:
            try:
                birthday = date(int(match["y"]), int(match["m"]), int(match["d"]))
            except ValueError:
                raise InvalidAnswer(Problem.NOT_A_DATE) from None
            break
    else:
        raise InvalidAnswer(Problem.NOT_A_DATE)
    if birthday > today:
        raise InvalidAnswer(Problem.FUTURE)
    age = age_on(birthday, today)
    if age < MIN_AGE:
        raise InvalidAnswer(Problem.TOO_YOUNG)
    if age > MAX_AGE:
        raise InvalidAnswer(Problem.TOO_OLD)
    return birthday


def telegram_username(value: str | None) -> str | None:
    """A Telegram username datemaker accepts, or None."""
    return value if value and _USERNAME.match(value) else None


def telegram_language(value: str | None) -> str | None:
    return value if value and _LANGUAGE.match(value) else None
