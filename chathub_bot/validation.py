"""Checks of the profile dialog's answers (pure; datemaker checks again, this is for helpful re-asks)."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from contracts.profile import BIO_MAX, CITY_MAX, MAX_AGE, MIN_AGE, NAME_MAX, BirthdayProblem, birthday_problem

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
    NOT_AN_AGE_RANGE = "not_an_age_range"


_BIRTHDAY_PROBLEMS = {
    BirthdayProblem.FUTURE: Problem.FUTURE,
    BirthdayProblem.TOO_YOUNG: Problem.TOO_YOUNG,
    BirthdayProblem.TOO_OLD: Problem.TOO_OLD,
}


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


_AGE_RANGE = re.compile(r"^(?P<low>\d{1,3})\s*(?:(?P<plus>\+)|[-–—\s]+\s*(?P<high>\d{1,3}))$")


def parse_age_range(value: str | None) -> tuple[int, int | None]:
    """The ages of partners wanted: "25-35" (or "25 35", "25–35") or "25+"; both ages 18 to 120, in order."""
    match = _AGE_RANGE.match((value or "").strip())
    if match is None:
        raise InvalidAnswer(Problem.NOT_AN_AGE_RANGE)
    low = int(match["low"])
    high = None if match["plus"] else int(match["high"])
    if not MIN_AGE <= low <= MAX_AGE or (high is not None and not low <= high <= MAX_AGE):
        raise InvalidAnswer(Problem.NOT_AN_AGE_RANGE)
    return low, high


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
    problem = birthday_problem(birthday, today)
    if problem is not None:
        raise InvalidAnswer(_BIRTHDAY_PROBLEMS[problem])
    return birthday


def telegram_username(value: str | None) -> str | None:
    """A Telegram username datemaker accepts, or None."""
    return value if value and _USERNAME.match(value) else None


def telegram_language(value: str | None) -> str | None:
    return value if value and _LANGUAGE.match(value) else None
