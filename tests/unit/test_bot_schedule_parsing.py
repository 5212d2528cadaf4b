"""The days and time zones typed in /newschedule's dialog."""

import pytest

from chathub_bot.handlers.organizer import known_timezone, parse_weekdays


@pytest.mark.parametrize(
    ("typed", "days"),
    [
        ("mon,fri", "mon,fri"),
        ("Fri, MON", "mon,fri"),
        ("sat sun sat", "sat,sun"),
        ("  tue;thu ", "tue,thu"),
        ("daily", "daily"),
        ("DAILY", "daily"),
        ("mon,tue,wed,thu,fri,sat,sun", "mon,tue,wed,thu,fri,sat,sun"),
    ],
)
def test_days_of_the_week_are_read(typed, days):
    assert parse_weekdays(typed) == days


@pytest.mark.parametrize(
    "typed", [None, "", " , ", "monday", "mon,funday", "daily,mon", "1,5", "mon," * 8, "пн,пт", "mon\x00fri"]
)
def test_anything_else_is_not_days(typed):
    assert parse_weekdays(typed) is None


def test_time_zones_are_iana_names():
    assert known_timezone(" Europe/Samara ") == "Europe/Samara"
    for typed in (None, "", "Mars/Olympus", "../../etc/passwd", "Europe/" + "x" * 80, "Europe Moscow"):
        assert known_timezone(typed) is None, typed
