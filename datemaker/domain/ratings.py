"""Ratings after a date: when they are taken, and which verdict stands."""

from __future__ import annotations

from datetime import datetime, timedelta

from contracts.commands import Verdict
from contracts.errors import ErrorCode
from datemaker.domain.errors import DomainError

RATING_WINDOW = timedelta(hours=48)
"""How long after an event finished its dates may still be rated."""


def check_rating_open(event_id: int, finished_at: datetime | None, now: datetime) -> None:
    """Ratings are taken during the event and for :data:`RATING_WINDOW` after it finished."""
    if finished_at is not None and now - finished_at > RATING_WINDOW:
        raise DomainError(
            ErrorCode.RATING_CLOSED,
            f"ratings of event {event_id} closed {RATING_WINDOW.total_seconds() / 3600:.0f} hours after it finished",
        )


def standing_verdict(previous: Verdict | None, new: Verdict) -> Verdict:
    """The verdict once ``new`` is given: a report is final (it keeps the two apart for good); anything
    else may be changed."""
    return Verdict.REPORT if previous is Verdict.REPORT else new
