"""The pure rules behind privacy and abuse: ratings' window and finality, waitlist promotion, the flood guard,
spreadsheet-safe cells, per-user locks that are let go."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from chathub_bot.fsm import ReleasingEventIsolation
from chathub_bot.guards import FloodGuard
from contracts.commands import Verdict
from contracts.errors import ErrorCode
from datemaker.cli.events import spreadsheet_safe
from datemaker.domain.errors import DomainError
from datemaker.domain.events import Event, EventState
from datemaker.domain.ratings import RATING_WINDOW, check_rating_open, standing_verdict
from datemaker.domain.registrations import Registration, seat_goes_to_waitlist

NOW = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)


def test_ratings_are_taken_during_the_event_and_48_hours_after():
    check_rating_open(1, None, NOW)  # not finished yet
    check_rating_open(1, NOW - RATING_WINDOW, NOW)
    with pytest.raises(DomainError) as closed:
        check_rating_open(1, NOW - RATING_WINDOW - timedelta(seconds=1), NOW)
    assert closed.value.code == ErrorCode.RATING_CLOSED


@pytest.mark.parametrize(
    ("previous", "new", "stands"),
    [
        (None, Verdict.LIKE, Verdict.LIKE),
        (Verdict.LIKE, Verdict.DISLIKE, Verdict.DISLIKE),
        (Verdict.DISLIKE, Verdict.REPORT, Verdict.REPORT),
        (Verdict.REPORT, Verdict.LIKE, Verdict.REPORT),
        (Verdict.REPORT, Verdict.DISLIKE, Verdict.REPORT),
        (Verdict.REPORT, Verdict.REPORT, Verdict.REPORT),
    ],
)
def test_a_report_is_final(previous, new, stands):
    assert standing_verdict(previous, new) is stands


@pytest.mark.parametrize(
    ("state", "waitlisted", "promotes"),
    [
        (EventState.NOT_STARTED, False, True),
        (EventState.REG_CONFIRM, False, True),
        (EventState.READY, False, False),  # planned: the waitlisted were told they stay on the list
        (EventState.RUNNING, False, False),
        (EventState.REG_CONFIRM, True, False),  # a waitlist place frees no seat
    ],
)
def test_a_freed_seat_goes_to_the_waitlist_only_before_planning(state, waitlisted, promotes):
    event = Event(id=1, start=NOW, state=state)
    registration = Registration(1, 2, NOW, waitlisted=waitlisted)
    assert seat_goes_to_waitlist(event, registration) is promotes


def test_flood_guard_serves_a_burst_then_one_a_second_and_warns_once_per_flood():
    now = [0.0]
    guard = FloodGuard(burst=10, per_second=1.0, clock=lambda: now[0])
    served = warned = 0
    for _ in range(100):
        ok, warn = guard.allow(7)
        served += ok
        warned += warn
        now[0] += 0.1
    assert served <= 20 and warned == 1
    now[0] += 10.0  # calm again
    assert guard.allow(7) == (True, False)
    for _ in range(9):  # the rest of the burst
        assert guard.allow(7) == (True, False)
    assert guard.allow(7) == (False, True)  # a new flood is told again


def test_flood_guard_forgets_quiet_users_and_stays_bounded():
    now = [0.0]
    guard = FloodGuard(burst=10, per_second=1.0, clock=lambda: now[0], capacity=100)
    for user in range(1000):
        guard.allow(user)
        now[0] += 0.001  # all within a second: only the capacity bounds them
    assert guard.size == 100
    now[0] += 11.0
    guard.allow(5000)
    assert guard.size == 1


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Anna", "Anna"),
        ("", ""),
        (-5, -5),
    ],
)
def test_cells_are_made_spreadsheet_safe(cell, safe):
    assert spreadsheet_safe(cell) == safe


async def test_per_user_locks_keep_order_and_are_let_go():
    isolation = ReleasingEventIsolation()
    order = []

    async def handle(key: str, n: int) -> None:
        async with isolation.lock(key):  # type: ignore[arg-type]
            order.append((key, n, "in"))
            await asyncio.sleep(0.01)
            order.append((key, n, "out"))

    await asyncio.gather(handle("a", 1), handle("a", 2), handle("b", 1))
    a = [step for step in order if step[0] == "a"]
    assert a == [("a", 1, "in"), ("a", 1, "out"), ("a", 2, "in"), ("a", 2, "out")]
    assert isolation.size == 0
