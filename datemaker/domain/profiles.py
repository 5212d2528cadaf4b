"""Profiles: who may take part."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts.errors import ErrorCode
from datemaker.domain.errors import DomainError

MIN_AGE = 18
MAX_AGE = 120


def age_on(birthday: date, today: date) -> int:
    """Completed years between ``birthday`` and ``today``."""
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))


def check_birthday(birthday: date, today: date) -> None:
    """Participants are adults with a birthday that can be real."""
    if birthday > today:
        raise DomainError(ErrorCode.BAD_REQUEST, "birthday: the date is in the future")
    age = age_on(birthday, today)
    if age < MIN_AGE:
        raise DomainError(ErrorCode.BAD_REQUEST, f"birthday: participants must be at least {MIN_AGE} years old")
    if age > MAX_AGE:
        raise DomainError(ErrorCode.BAD_REQUEST, "birthday: the date is too far in the past")


@dataclass(frozen=True)
class UserProfile:
    """A participant's profile (a row of ``users``)."""

    user_id: int
    chat_id: int
    name: str
    gender: str
    birthday: date
    city: str
    bio: str | None = None
    username: str | None = None
    language: str | None = None
    seeking: tuple[str, ...] | None = None
    photo_file_id: str | None = None
    manual_score: int = 0
    rating: float = 0.0
