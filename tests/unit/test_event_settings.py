"""An organizer's event settings as tables: parsing starts and durations, every rule, series over DST."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from datemaker.domain.attendance import joined_call
from datemaker.domain.event_settings import (
    EventSettings,
    InvalidEventSettings,
    parse_duration,
    parse_start,
    problems,
    series,
    validate,
    validate_series,
)

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
GOOD = EventSettings(start=datetime(2026, 12, 5, 19, 0, tzinfo=MOSCOW))


@pytest.mark.parametrize(
    ("text", "timezone", "expected"),
    [
        ("2026-12-05 19:00", "Europe/Moscow", datetime(2026, 12, 5, 16, 0, tzinfo=UTC)),
        ("2026-12-05T19:00", "Europe/Moscow", datetime(2026, 12, 5, 16, 0, tzinfo=UTC)),
        (" 2026-12-05 19:00:30 ", "Europe/Moscow", datetime(2026, 12, 5, 16, 0, 30, tzinfo=UTC)),
        ("2026-07-05 19:00", "Europe/Berlin", datetime(2026, 7, 5, 17, 0, tzinfo=UTC)),  # summer time
        ("2026-12-05 19:00", "Europe/Berlin", datetime(2026, 12, 5, 18, 0, tzinfo=UTC)),
        ("2026-12-05T19:00:00+01:00", "Europe/Moscow", datetime(2026, 12, 5, 18, 0, tzinfo=UTC)),  # offset wins
        ("2026-12-05T16:00Z", "Asia/Tokyo", datetime(2026, 12, 5, 16, 0, tzinfo=UTC)),
        ("2026-10-25 02:30", "Europe/Berlin", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),  # ambiguous: the first
    ],
)
def test_a_start_is_a_local_time_or_an_iso_time_with_offset(text, timezone, expected):
    start = parse_start(text, timezone)
    assert start == expected and start.tzinfo is not None


@pytest.mark.parametrize(
    ("text", "timezone", "message"),
    [
        ("2026-12-05", "Europe/Moscow", "needs a date and a time"),
        ("tomorrow 19:00", "Europe/Moscow", "needs a date and a time"),
        ("2026-13-05 19:00", "Europe/Moscow", "is not a time"),
        ("2026-12-05 25:00", "Europe/Moscow", "is not a time"),
        ("05.12.2026 19:00", "Europe/Moscow", "is not a time"),
        ("2026-03-29 02:30", "Europe/Berlin", "does not exist in Europe/Berlin"),  # the clocks skip it
        ("2026-12-05 19:00", "Mars/Olympus", "unknown timezone 'Mars/Olympus'"),
        ("2026-12-05T19:00+03:00", "Europe", "unknown timezone 'Europe'"),
        ("2026-12-05 19:00", "../../etc/passwd", "unknown timezone"),
        ("2026-12-05 19:00", "", "unknown timezone"),
    ],
)
def test_a_bad_start_says_what_is_wrong(text, timezone, message):
    with pytest.raises(InvalidEventSettings, match=message):
        parse_start(text, timezone)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("300", 300), ("0", 0), ("-5", -5), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("1d", 86400), ("2H 5M", 7500)],
)
def test_durations_are_seconds_or_units(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "five", "5 minutes", "1.5h", "m5", "5x", "--5"])
def test_a_bad_duration_is_refused(text):
    with pytest.raises(InvalidEventSettings, match="not a duration"):
        parse_duration(text)


def test_good_settings_have_no_problems():
    assert problems(GOOD, NOW) == []
    validate(GOOD, NOW)
    assert problems(replace(GOOD, break_seconds=0, rules_lead_seconds=0, confirm_deadline_seconds=0), NOW) == []


PROBLEMS = [
    ({"start": NOW - timedelta(minutes=1)}, "is in the past"),
    ({"start": NOW}, "is in the past"),
    ({"start": NOW + timedelta(minutes=30)}, "would already be closed"),  # closes an hour before
    ({"timezone": "Mars/Olympus"}, "unknown timezone"),
    ({"users_limit": 0}, "the capacity must be positive, not 0"),
    ({"users_limit": -4}, "the capacity must be positive, not -4"),
    ({"users_limit": 10**9}, "the capacity is too large"),
    ({"round_seconds": 0}, "the round duration must be positive"),
    ({"round_seconds": -300}, "the round duration must be positive"),
    ({"round_seconds": 40 * 86400}, "the round duration is too long"),
    ({"break_seconds": -1}, "the break duration cannot be negative"),
    ({"rules_lead_seconds": -1}, "the rules lead time cannot be negative"),
    ({"confirm_open_seconds": -1}, "the confirmation window cannot be negative"),
    ({"confirm_deadline_seconds": -1}, "the confirmation deadline cannot be negative"),
    ({"confirm_deadline_seconds": 90000}, "must be shorter than the confirmation window"),
    ({"confirm_deadline_seconds": 86400}, "must be shorter than the confirmation window"),  # no time to confirm
    ({"confirm_open_seconds": 0, "confirm_deadline_seconds": 0}, "must be shorter than the confirmation window"),
    ({"max_rounds": 0}, "the maximum number of rounds must be positive"),
    ({"group_size": 1}, "the group size must be at least 2"),
    ({"mode": "everyone"}, "unknown mode 'everyone'"),
]


@pytest.mark.parametrize(("changes", "message"), PROBLEMS, ids=[m for _, m in PROBLEMS])
def test_each_rule(changes, message):
    found = problems(replace(GOOD, **changes), NOW)
    assert len(found) == 1 and message in found[0], found
    with pytest.raises(InvalidEventSettings, match=message) as raised:
        validate(replace(GOOD, **changes), NOW)
    assert raised.value.code == "bad_request"


def test_every_problem_is_named_in_one_line():
    bad = replace(GOOD, users_limit=0, round_seconds=0, break_seconds=-1)
    with pytest.raises(InvalidEventSettings) as raised:
        validate(bad, NOW)
    assert "\n" not in raised.value.message
    assert raised.value.message.count("; ") == 2


def test_only_settings_that_differ_from_the_table_defaults_are_written():
    assert GOOD.changed_columns() == {}
    changed = replace(GOOD, users_limit=12, mode="open", break_seconds=60, timezone="Asia/Tokyo")
    assert changed.changed_columns() == {"users_limit": 12, "mode": "open"}


def test_a_weekly_series_keeps_the_local_time_across_a_clock_change():
    first = EventSettings(start=parse_start("2026-10-17 19:00", "Europe/Berlin"), timezone="Europe/Berlin")
    events = series(first, "weekly", 3)
    assert [e.local().strftime("%Y-%m-%d %H:%M") for e in events] == [
        "2026-10-17 19:00",
        "2026-10-24 19:00",
        "2026-10-31 19:00",  # winter time from Oct 25: still 19:00 local
    ]
    assert [e.start.astimezone(UTC).hour for e in events] == [17, 17, 18]
    assert all(e.users_limit == first.users_limit and e.timezone == "Europe/Berlin" for e in events)


def test_a_daily_series_and_a_single_event():
    assert [e.start.day for e in series(GOOD, "daily", 3)] == [5, 6, 7]
    assert series(GOOD, None, None) == [GOOD]
    assert series(GOOD, "weekly", 1) == [GOOD]


@pytest.mark.parametrize(
    ("repeat", "count", "message"),
    [
        (None, 3, "--count needs --repeat"),
        ("weekly", None, "needs --count"),
        ("weekly", 0, "between 1 and 104"),
        ("weekly", 105, "between 1 and 104"),
        ("monthly", 3, "unknown repeat 'monthly'"),
    ],
)
def test_a_bad_series_is_refused(repeat, count, message):
    with pytest.raises(InvalidEventSettings, match=message):
        series(GOOD, repeat, count)


def test_a_series_is_checked_event_by_event():
    validate_series(series(GOOD, "weekly", 4), NOW)
    past_first = replace(GOOD, start=NOW - timedelta(days=8))
    with pytest.raises(InvalidEventSettings, match=r"event 1 of 3: the start .* is in the past"):
        validate_series(series(past_first, "weekly", 3), NOW)
    with pytest.raises(InvalidEventSettings, match=r"^the start .* is in the past$"):
        validate_series([past_first], NOW)


@pytest.mark.parametrize(
    ("name", "attendees", "joined"),
    [
        ("Anna", ["Anna", "Boris"], True),
        ("Anna", ["anna  "], True),
        ("Anna Petrova", ["anna   petrova"], True),
        ("Cyril", ["Bella"], False),
        ("Cyril", [], False),
        ("Vera", ["Vera K", "Boris"], True),  # two people were there: both of the pair
        ("Vera", ["Boris", "boris"], False),  # one person, twice
        ("Vera", [" "], False),
    ],
)
def test_who_joined_a_call(name, attendees, joined):
    assert joined_call(name, attendees) is joined
