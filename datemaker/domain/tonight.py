"""A participant's evening: which of their dates is now or next, who comes after, which they may still rate.

Pure: the dates come in as :class:`BookedDate` rows and the time as an argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from datemaker.domain.events import PLANNED, Event
from datemaker.domain.ratings import RATING_WINDOW
from datemaker.domain.timeline import round_ends_at, round_starts_at


@dataclass(frozen=True)
class BookedDate:
    """One of the user's dates in an event's plan."""

    event: Event
    round_no: int
    """0-based, as the plan counts."""
    partner_id: int
    rounds: int
    """Rounds in the event's plan."""
    meeting_uri: str | None = None
    invited: bool = False
    """The two got their link (``invite_to_meeting``): the date took place, or is taking place."""
    rated: bool = False
    """The user gave the partner a verdict at this event."""
    finished_at: datetime | None = None
    """When the event finished (None while it runs)."""

    @property
    def starts_at(self) -> datetime:
        return round_starts_at(self.event, self.round_no)

    @property
    def ends_at(self) -> datetime:
        return round_ends_at(self.event, self.round_no)

    @property
    def url(self) -> str | None:
        """The link, once the two were given it."""
        return self.meeting_uri if self.invited else None


def now_and_next(dates: Iterable[BookedDate], now: datetime) -> tuple[BookedDate | None, BookedDate | None]:
    """The date going on at ``now`` or, between dates, the next one; and the one after it."""
    ahead = sorted(
        (d for d in dates if d.event.state in PLANNED and d.ends_at > now),
        key=lambda d: (d.starts_at, d.event.id, d.round_no),
    )
    return (ahead[0] if ahead else None), (ahead[1] if len(ahead) > 1 else None)


def to_rate(dates: Iterable[BookedDate], now: datetime, limit: int = 20) -> Sequence[BookedDate]:
    """Dates that took place, are over, and whose partner the user has not rated while ratings are open."""
    open_ = [
        d
        for d in dates
        if d.invited
        and not d.rated
        and d.ends_at <= now
        and (d.finished_at is None or now - d.finished_at <= RATING_WINDOW)
    ]
    return sorted(open_, key=lambda d: (d.starts_at, d.event.id, d.round_no))[:limit]
