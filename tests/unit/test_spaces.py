"""The pure rules of Meet spaces: how many an event may need, who gets a fresh one first, when a table keeps
its space, and whether the quota makes them in time."""

from datetime import UTC, datetime, timedelta

import pytest

from datemaker.domain.spaces import (
    DateNeed,
    EventNeed,
    Quota,
    RoundNeed,
    SpacePolicy,
    endangered,
    fresh_order,
    most_dates,
    most_tables,
    outlook,
    reuses_now,
    spaces_wanted,
)

NOW = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
minute = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("women", "men", "rounds", "mode", "tables", "dates"),
    [
        (10, 10, 10, "bipartite", 10, 100),
        (3, 4, 3, "bipartite", 3, 9),
        (3, 4, 10, "bipartite", 3, 12),  # no pair twice: 3 × 4
        (0, 5, 10, "bipartite", 0, 0),
        (4, 3, 10, "open", 3, 21),  # 7 people: 3 tables a round, 21 pairs in all
        (1, 0, 10, "open", 0, 0),
    ],
)
def test_the_most_an_event_can_hold(women, men, rounds, mode, tables, dates):
    assert most_tables(women, men, mode) == tables
    assert most_dates(women, men, rounds, mode) == dates
    assert spaces_wanted(women, men, rounds, mode, SpacePolicy.FRESH) == dates
    assert spaces_wanted(women, men, rounds, mode, SpacePolicy.AUTO) == dates
    assert spaces_wanted(women, men, rounds, mode, SpacePolicy.REUSE) == tables


def test_fresh_spaces_go_first_to_dates_that_cannot_reuse_then_by_deadline():
    needs = [
        DateNeed(1, NOW + 30 * minute, can_reuse=True),
        DateNeed(2, NOW + 60 * minute, can_reuse=False),
        DateNeed(3, NOW + 10 * minute, can_reuse=True),
        DateNeed(4, NOW + 20 * minute, can_reuse=False),
    ]
    assert [n.date_id for n in fresh_order(needs, SpacePolicy.AUTO)] == [4, 2, 3, 1]
    assert [n.date_id for n in fresh_order(needs, SpacePolicy.FRESH)] == [4, 2, 3, 1]
    assert [n.date_id for n in fresh_order(needs, SpacePolicy.REUSE)] == [4, 2]  # the others keep their table's


@pytest.mark.parametrize(
    ("policy", "can_reuse", "has_fresh", "reuses"),
    [
        (SpacePolicy.FRESH, True, False, False),
        (SpacePolicy.REUSE, True, True, True),
        (SpacePolicy.REUSE, False, False, False),
        (SpacePolicy.AUTO, True, True, False),
        (SpacePolicy.AUTO, True, False, True),
        (SpacePolicy.AUTO, False, False, False),
    ],
)
def test_when_a_table_keeps_its_space(policy, can_reuse, has_fresh, reuses):
    assert reuses_now(policy, can_reuse, has_fresh) is reuses


def test_quota_of_several_accounts_is_capped_by_the_project():
    assert Quota(1).per_second == pytest.approx(10 / 60)
    assert Quota(5).per_second == pytest.approx(50 / 60)
    assert Quota(20).per_second == pytest.approx(100 / 60)
    assert Quota(1).creatable(60) == 10 and Quota(1).creatable(59) == 9
    assert Quota(1).time_for(25) == timedelta(seconds=150)


def event_need(event_id: int, starts_in: timedelta, tables: int, rounds: int, ready: int = 0) -> EventNeed:
    """An event of ``rounds`` rounds six minutes apart, ``tables`` dates a round."""
    return EventNeed(
        event_id,
        tuple(
            RoundNeed(NOW + starts_in + r * 6 * minute, fresh=tables, new_tables=tables if r == 0 else 0)
            for r in range(rounds)
        ),
        ready,
    )


def test_one_event_created_early_enough_has_every_space_fresh():
    seen = outlook([event_need(1, 150 * minute, 10, 10)], free=0, quota=Quota(1), now=NOW)[1]
    assert (seen.needed, seen.late_fresh, seen.needed_reusing, seen.late_reusing) == (100, 0, 10, 0)
    assert not seen.at_risk


def test_twenty_five_events_at_one_hour_need_reuse_with_one_account_but_not_with_ten():
    events = [event_need(n, 150 * minute, 10, 10) for n in range(1, 26)]
    one = outlook(events, free=0, quota=Quota(1), now=NOW)
    assert sum(o.late_fresh for o in one.values()) > 0  # 2,500 fresh spaces at 10 a minute: not in time
    assert all(o.late_reusing == 0 for o in one.values())  # 250, one per table: in time
    first_late = min(o.first_late_round for o in one.values() if o.first_late_round)
    assert first_late >= 1
    ten = outlook(events, free=0, quota=Quota(10), now=NOW)
    assert all(o.late_fresh == 0 for o in ten.values())


def test_spaces_ready_and_free_count():
    tight = [event_need(1, 2 * minute, 10, 1)]  # ten dates in two minutes: 20 spaces could be made
    assert outlook(tight, free=0, quota=Quota(1), now=NOW)[1].late_fresh == 0
    tighter = [event_need(1, 30 * timedelta(seconds=1), 10, 1)]  # 5 can be made in time
    assert outlook(tighter, free=0, quota=Quota(1), now=NOW)[1].late_fresh == 5
    assert outlook(tighter, free=5, quota=Quota(1), now=NOW)[1].late_fresh == 0
    assert outlook([event_need(1, 30 * timedelta(seconds=1), 10, 1, ready=5)], 0, Quota(1), NOW)[1].late_fresh == 0
    assert outlook(tighter, free=0, quota=Quota(1), now=NOW)[1].at_risk


def test_a_new_event_taking_the_quota_first_pushes_one_already_filling_late():
    crowded = event_need(1, 12 * minute, 100, 3)  # 100 tables in 12 minutes at 10 a minute: in time reusing
    before = outlook([crowded], free=0, quota=Quota(1), now=NOW)
    assert not before[1].at_risk
    earlier = event_need(2, 11 * minute, 30, 3)  # a new night a minute earlier takes the quota first
    after = outlook([crowded, earlier], free=0, quota=Quota(1), now=NOW)
    assert not after[2].at_risk and after[1].at_risk
    assert endangered(before, after, new={2}) == [1]
    later = event_need(3, 40 * minute, 30, 3)  # one after it takes what is left: it endangers nobody
    assert endangered(before, outlook([crowded, later], free=0, quota=Quota(1), now=NOW), new={3}) == []
    assert endangered(after, after, new={2}) == [], "at risk already: not this event's doing"
