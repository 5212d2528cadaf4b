"""Pure rules of registrations, confirmations and profiles, with time as an argument."""

from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.errors import ErrorCode
from contracts.profile import age_on
from datemaker.domain.errors import DomainError
from datemaker.domain.events import (
    Event,
    EventState,
    check_cancellation_open,
    check_confirmation_open,
    check_registration_open,
)
from datemaker.domain.profiles import check_birthday
from datemaker.domain.registrations import Registration, placement, require_active

START = datetime(2026, 12, 31, 19, 0, tzinfo=UTC)


def event(**kwargs) -> Event:
    fields = dict(id=1, start=START, timezone="Europe/Moscow", users_limit=2, state=EventState.NOT_STARTED)
    fields.update(kwargs)
    return Event(**fields)


def code_of(call, *args) -> ErrorCode | None:
    try:
        call(*args)
    except DomainError as exc:
        return exc.code
    return None


@pytest.mark.parametrize(
    ("state", "now", "expected"),
    [
        (EventState.NOT_STARTED, START - timedelta(days=5), None),
        (EventState.REG_CONFIRM, START - timedelta(hours=2), None),
        (EventState.REG_CONFIRM, START - timedelta(hours=1), ErrorCode.REGISTRATION_CLOSED),  # the deadline
        (EventState.NOT_STARTED, START + timedelta(minutes=1), ErrorCode.REGISTRATION_CLOSED),
        (EventState.READY, START - timedelta(days=1), ErrorCode.REGISTRATION_CLOSED),
        (EventState.CANCELLED, START - timedelta(days=1), ErrorCode.REGISTRATION_CLOSED),
        (EventState.FINISHED, START - timedelta(days=1), ErrorCode.REGISTRATION_CLOSED),
    ],
)
def test_registration_window(state, now, expected):
    assert code_of(check_registration_open, event(state=state), now) == expected


@pytest.mark.parametrize(
    ("state", "now", "expected"),
    [
        (EventState.READY, START - timedelta(minutes=1), None),
        (EventState.READY, START, ErrorCode.REGISTRATION_CLOSED),
        (EventState.RUNNING, START - timedelta(minutes=1), ErrorCode.REGISTRATION_CLOSED),
        (EventState.SKIPPED, START - timedelta(days=1), ErrorCode.REGISTRATION_CLOSED),
    ],
)
def test_cancellation_window(state, now, expected):
    assert code_of(check_cancellation_open, event(state=state), now) == expected


@pytest.mark.parametrize(
    ("sent", "state", "now", "expected"),
    [
        (False, EventState.NOT_STARTED, START - timedelta(hours=30), ErrorCode.CONFIRMATION_NOT_OPEN),
        (True, EventState.REG_CONFIRM, START - timedelta(hours=20), None),
        (True, EventState.REG_CONFIRM, START - timedelta(minutes=59), ErrorCode.CONFIRMATION_CLOSED),
        (True, EventState.READY, START - timedelta(hours=2), ErrorCode.CONFIRMATION_CLOSED),
    ],
)
def test_confirmation_window(sent, state, now, expected):
    assert code_of(check_confirmation_open, event(state=state), now, sent) == expected


def test_placement_fills_seats_then_waitlist_then_refuses():
    assert placement(event(registered_count=1)) == "registered"
    assert placement(event(registered_count=2)) == "waitlisted"
    assert placement(event(registered_count=2, waitlisted_count=1)) == "waitlisted"
    assert code_of(placement, event(registered_count=2, waitlisted_count=2)) == ErrorCode.EVENT_FULL


def test_registration_status_story():
    base = Registration(event_id=1, user_id=2, registered_at=START)
    assert base.status == "registered" and base.holds_seat
    assert Registration(**{**base.__dict__, "waitlisted": True}).status == "waitlisted"
    assert Registration(**{**base.__dict__, "confirmed_at": START}).status == "confirmed"
    declined = Registration(**{**base.__dict__, "declined_at": START})
    assert declined.status == "declined" and not declined.active
    cancelled = Registration(**{**base.__dict__, "cancelled_at": START, "confirmed_at": START})
    assert cancelled.status == "cancelled"
    assert code_of(require_active, cancelled, 1) == ErrorCode.NOT_REGISTERED
    assert code_of(require_active, None, 1) == ErrorCode.NOT_REGISTERED


def test_event_times_carry_its_timezone():
    assert event().local_iso(START) == "2026-12-31T22:00:00+03:00"
    assert event(timezone="Not/AZone").local_iso(START).endswith("+00:00")


@pytest.mark.parametrize(
    ("birthday", "today", "age"),
    [
        (date(2000, 3, 1), date(2018, 2, 28), 17),
        (date(2000, 3, 1), date(2018, 3, 1), 18),
        (date(2000, 2, 29), date(2018, 2, 28), 17),
        (date(2000, 2, 29), date(2018, 3, 1), 18),
    ],
)
def test_age_on(birthday, today, age):
    assert age_on(birthday, today) == age


@pytest.mark.parametrize(
    ("birthday", "ok"),
    [(date(2030, 1, 1), False), (date(2010, 1, 1), False), (date(1890, 1, 1), False), (date(1990, 1, 1), True)],
)
def test_birthday_rules(birthday, ok):
    assert (code_of(check_birthday, birthday, date(2026, 11, 22)) is None) == ok
