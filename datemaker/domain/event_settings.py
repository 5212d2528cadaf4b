"""An organizer's settings of a new event, and the rules they must meet: pure, time is an argument.

The defaults are the ``dating_events`` columns' defaults (docs/protocol.md section 6). A start is given
either as a local wall-clock time in the event's timezone or as an ISO 8601 time with an offset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contracts.errors import ErrorCode
from contracts.profile import MAX_AGE, MIN_AGE
from datemaker.domain.errors import DomainError

DEFAULT_TIMEZONE = "Europe/Moscow"
MODES = ("bipartite", "open")
REPEATS: dict[str, timedelta] = {"daily": timedelta(days=1), "weekly": timedelta(weeks=1)}
"""How a series repeats: the same local time, this far apart on the calendar."""
MAX_SERIES = 104
"""Two years of weekly events."""
MAX_SECONDS = 30 * 86400
"""No duration of an event's timeline is longer than 30 days."""
MAX_COUNT = 100_000
"""Capacity, group size and rounds stay far below what a 32-bit column holds."""


class InvalidEventSettings(DomainError):
    """The organizer asked for an event that cannot run; ``message`` says why, in one line."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.BAD_REQUEST, message)


@dataclass(frozen=True)
class EventSettings:
    """What an organizer chooses for an event (the columns of a ``dating_events`` row they may set)."""

    start: datetime
    """Timezone-aware."""
    timezone: str = DEFAULT_TIMEZONE
    users_limit: int = 20
    round_seconds: int = 300
    break_seconds: int = 60
    rules_lead_seconds: int = 300
    confirm_open_seconds: int = 86400
    confirm_deadline_seconds: int = 3600
    group_size: int = 20
    max_rounds: int = 10
    mode: str = "bipartite"
    time_left_warning_seconds: int = 60
    """Each person in a date is told this long before the round ends (0: not told)."""
    min_age: int | None = None
    """Youngest age admitted (None: no limit; checking registrants' ages is not built yet)."""
    max_age: int | None = None
    """Oldest age admitted (None: no limit)."""

    @property
    def confirm_opens_at(self) -> datetime:
        return self.start - timedelta(seconds=self.confirm_open_seconds)

    @property
    def confirm_deadline(self) -> datetime:
        return self.start - timedelta(seconds=self.confirm_deadline_seconds)

    def local(self, moment: datetime | None = None) -> datetime:
        """``moment`` (the start by default) in the event's timezone (UTC if that name is unknown: a row
        written by hand may hold anything)."""
        try:
            where = zone(self.timezone)
        except InvalidEventSettings:
            where = ZoneInfo("UTC")
        return (moment or self.start).astimezone(where)

    def changed_columns(self) -> dict[str, int | str]:
        """Columns whose value differs from the table's default, by column name (besides start and timezone):
        the rest are left to the database's defaults."""
        changed: dict[str, int | str] = {}
        for name in SETTING_COLUMNS:
            value = getattr(self, name)
            if value != _DEFAULTS[name]:
                changed[name] = value
        return changed


SETTING_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(EventSettings) if f.name not in ("start", "timezone"))
"""The settings an event row and a schedule row both hold, by column name (besides start and timezone)."""
_DEFAULTS = {f.name: f.default for f in fields(EventSettings)}


# Human names of the settings, as the organizer's command line calls them.
_LABELS = {
    "users_limit": "capacity",
    "round_seconds": "round duration",
    "break_seconds": "break duration",
    "rules_lead_seconds": "rules lead time",
    "confirm_open_seconds": "confirmation window",
    "confirm_deadline_seconds": "confirmation deadline",
    "group_size": "group size",
    "max_rounds": "maximum number of rounds",
    "time_left_warning_seconds": "time-left warning",
    "min_age": "minimum age",
    "max_age": "maximum age",
}
_POSITIVE = ("users_limit", "round_seconds", "max_rounds")
_NOT_NEGATIVE = (
    "break_seconds",
    "rules_lead_seconds",
    "confirm_open_seconds",
    "confirm_deadline_seconds",
    "time_left_warning_seconds",
)


def zone(name: str) -> ZoneInfo:
    """The IANA timezone ``name``; ``InvalidEventSettings`` when there is none by that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidEventSettings(f"unknown timezone {name!r} (use an IANA name such as Europe/Moscow)") from None


def localize(naive: datetime, timezone: str) -> datetime:
    """A wall-clock time in ``timezone`` as an aware time in UTC; refused when the clocks skip it (a DST gap).

    An ambiguous time (the clocks go back) means its first occurrence.
    """
    tz = zone(timezone)
    moment = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if moment.astimezone(tz).replace(tzinfo=None) != naive:
        raise InvalidEventSettings(f"{naive:%Y-%m-%d %H:%M} does not exist in {timezone} (the clocks skip it)")
    return moment


def parse_start(text: str, timezone: str = DEFAULT_TIMEZONE) -> datetime:
    """``"2026-12-05 19:00"`` (local time in ``timezone``) or ``"2026-12-05T16:00:00+00:00"``; aware."""
    value = text.strip()
    if not re.search(r"\d[T ]\d{1,2}:\d{2}", value):
        raise InvalidEventSettings(f"start {text!r} needs a date and a time, e.g. '2026-12-05 19:00'")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEventSettings(
            f"start {text!r} is not a time: use 'YYYY-MM-DD HH:MM' (local) or ISO 8601 with an offset"
        ) from None
    if moment.tzinfo is None:
        return localize(moment, timezone)
    zone(timezone)  # the offset fixes the moment; the timezone must still exist
    return moment


_DURATION = re.compile(r"(\d+)\s*([dhms])")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    """Seconds: ``"300"``, ``"90s"``, ``"5m"``, ``"1h30m"``, ``"1d"``; negative numbers are returned as
    they are (``validate`` refuses them with a clear message)."""
    value = text.strip().lower()
    if re.fullmatch(r"[+-]?\d+", value):
        return int(value)
    if value and re.fullmatch(r"(\d+\s*[dhms]\s*)+", value):
        return sum(int(n) * _UNITS[unit] for n, unit in _DURATION.findall(value))
    raise InvalidEventSettings(f"{text!r} is not a duration: give seconds, or e.g. 90s, 5m, 1h30m, 1d")


def problems(settings: EventSettings, now: datetime) -> list[str]:
    """Everything wrong with ``settings`` for an event created at ``now``, one sentence each."""
    found: list[str] = []
    try:
        zone(settings.timezone)
    except InvalidEventSettings as exc:
        found.append(exc.message)
    for name in _POSITIVE:
        if getattr(settings, name) <= 0:
            found.append(f"the {_LABELS[name]} must be positive, not {getattr(settings, name)}")
    for name in _NOT_NEGATIVE:
        if getattr(settings, name) < 0:
            found.append(f"the {_LABELS[name]} cannot be negative ({getattr(settings, name)})")
    if settings.group_size < 2:
        found.append(f"the group size must be at least 2, not {settings.group_size}")
    for name in ("users_limit", "group_size", "max_rounds"):
        if getattr(settings, name) > MAX_COUNT:
            found.append(f"the {_LABELS[name]} is too large ({getattr(settings, name)} > {MAX_COUNT})")
    for name in ("round_seconds", *_NOT_NEGATIVE):
        if getattr(settings, name) > MAX_SECONDS:
            found.append(f"the {_LABELS[name]} is too long ({getattr(settings, name)} s > 30 days)")
    for name in ("min_age", "max_age"):
        age = getattr(settings, name)
        if age is not None and not MIN_AGE <= age <= MAX_AGE:
            found.append(f"the {_LABELS[name]} must be between {MIN_AGE} and {MAX_AGE}, not {age}")
    if settings.min_age is not None and settings.max_age is not None and settings.min_age > settings.max_age:
        found.append(f"the minimum age ({settings.min_age}) is above the maximum age ({settings.max_age})")
    if settings.mode not in MODES:
        found.append(f"unknown mode {settings.mode!r} (one of: {', '.join(MODES)})")
    if settings.confirm_deadline_seconds >= settings.confirm_open_seconds >= 0:
        found.append(
            f"the confirmation deadline ({settings.confirm_deadline_seconds} s before the start) must be shorter "
            f"than the confirmation window ({settings.confirm_open_seconds} s before the start), "
            "or nobody has time to confirm"
        )
    if settings.start <= now:
        found.append(f"the start {_show(settings)} is in the past")
    elif settings.confirm_deadline <= now and settings.confirm_deadline_seconds >= 0:
        found.append(
            f"registration for a start at {_show(settings)} would already be closed (it closes "
            f"{settings.confirm_deadline_seconds} s before the start): start later or shorten the confirmation deadline"
        )
    return found


def validate(settings: EventSettings, now: datetime) -> None:
    """Raise ``InvalidEventSettings`` naming every problem of ``settings`` (in one line)."""
    found = problems(settings, now)
    if found:
        raise InvalidEventSettings("; ".join(found))


def series(settings: EventSettings, repeat: str | None, count: int | None) -> list[EventSettings]:
    """The events of a series: the same local wall-clock time every day or week, ``count`` of them.

    Without ``repeat`` and ``count``: just the one event.
    """
    if repeat is None and count is None:
        return [settings]
    if repeat is None:
        raise InvalidEventSettings("--count needs --repeat (e.g. --repeat weekly --count 4)")
    if repeat not in REPEATS:
        raise InvalidEventSettings(f"unknown repeat {repeat!r} (one of: {', '.join(REPEATS)})")
    if count is None:
        raise InvalidEventSettings(f"--repeat {repeat} needs --count N, the number of events")
    if not 1 <= count <= MAX_SERIES:
        raise InvalidEventSettings(f"the count of a series must be between 1 and {MAX_SERIES}, not {count}")
    first = settings.local().replace(tzinfo=None)
    step = REPEATS[repeat]
    return [replace(settings, start=localize(first + i * step, settings.timezone)) for i in range(count)]


def validate_series(events: list[EventSettings], now: datetime) -> None:
    """Every event of a series must be valid; the first problem found is reported (with which event)."""
    for i, event in enumerate(events):
        found = problems(event, now)
        if found:
            where = f"event {i + 1} of {len(events)}: " if len(events) > 1 else ""
            raise InvalidEventSettings(where + "; ".join(found))


def _show(settings: EventSettings) -> str:
    try:
        return f"{settings.local():%Y-%m-%d %H:%M} {settings.timezone}"
    except InvalidEventSettings:
        return settings.start.isoformat()
