"""Profiles: who may take part."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts.errors import ErrorCode
from contracts.profile import MAX_AGE, MIN_AGE, BirthdayProblem, birthday_problem
from datemaker.domain.errors import DomainError

_BIRTHDAY_ERRORS = {
    BirthdayProblem.FUTURE: "birthday: the date is in the future",
    BirthdayProblem.TOO_YOUNG: f"birthday: participants must be at least {MIN_AGE} years old",
    BirthdayProblem.TOO_OLD: "birthday: the date is too far in the past",
}


def check_birthday(birthday: date, today: date) -> None:
    """Participants are adults with a birthday that can be real."""
    problem = birthday_problem(birthday, today)
    if problem is not None:
        raise DomainError(ErrorCode.BAD_REQUEST, _BIRTHDAY_ERRORS[problem])


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
    partner_age_min: int | None = None
    partner_age_max: int | None = None

    @property
    def partner_ages(self) -> tuple[int, int] | None:
        """The ages the user wants to meet, as the planner's ``age_range`` (None: anyone)."""
        if self.partner_age_min is None and self.partner_age_max is None:
            return None
        return (self.partner_age_min or MIN_AGE, self.partner_age_max or MAX_AGE)
