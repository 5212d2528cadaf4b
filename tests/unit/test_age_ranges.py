"""Age ranges: an event's (who may register) and a participant's (whom they meet, a hard constraint both ways)."""

from datetime import UTC, date, datetime

import pytest

from contracts.commands import UpsertProfile
from contracts.errors import ErrorCode
from datemaker.domain.errors import DomainError
from datemaker.domain.events import Event, EventState, age_range_text, check_age_admitted
from datemaker.domain.planning import Participant, PlanRequest, compatible, plan_event
from datemaker.domain.planning.model import PlanningError
from datemaker.domain.profiles import UserProfile

START = datetime(2026, 12, 20, 16, 0, tzinfo=UTC)


def event(min_age=None, max_age=None) -> Event:
    return Event(id=1, state=EventState.NOT_STARTED, start=START, min_age=min_age, max_age=max_age)


@pytest.mark.parametrize(
    ("birthday", "min_age", "max_age", "admitted"),
    [
        (date(1990, 1, 1), None, None, True),
        (date(1990, 1, 1), 25, 40, True),  # 36
        (date(2001, 12, 21), 25, None, False),  # 24 on the night, 25 the day after
        (date(2001, 12, 20), 25, None, True),  # 25 on the event's day
        (date(1980, 1, 1), None, 40, False),  # 46
        (date(1986, 12, 21), None, 39, True),  # 39 until the day after the event
    ],
)
def test_the_event_admits_ages_within_its_range_on_its_day(birthday, min_age, max_age, admitted):
    today = date(2026, 12, 1)
    if admitted:
        check_age_admitted(event(min_age, max_age), birthday, today)
    else:
        with pytest.raises(DomainError) as refused:
            check_age_admitted(event(min_age, max_age), birthday, today)
        assert refused.value.code == ErrorCode.NOT_ELIGIBLE


def test_age_range_text():
    assert [age_range_text(25, 40), age_range_text(25, None), age_range_text(None, 40)] == ["25-40", "25+", "up to 40"]


def test_partner_ages_are_bounded_and_ordered():
    base = {"name": "A", "gender": "F", "birthday": "1990-01-01", "city": "msk"}
    assert UpsertProfile(**base, partner_age_min=25, partner_age_max=35).partner_age_max == 35
    for bad in ({"partner_age_min": 40, "partner_age_max": 30}, {"partner_age_min": 17}, {"partner_age_max": 10**30}):
        with pytest.raises(ValueError):
            UpsertProfile(**base, **bad)


def test_a_profile_without_partner_ages_meets_anyone_and_one_side_open_is_open():
    person = UserProfile(1, 1, "A", "F", date(1990, 1, 1), "msk")
    assert person.partner_ages is None
    assert UserProfile(1, 1, "A", "F", date(1990, 1, 1), "msk", partner_age_min=30).partner_ages == (30, 120)


ON = date(2026, 12, 20)


def person(pid, gender, born, age_range=None):
    return Participant(id=pid, gender=gender, birthday=date(born, 6, 1), city="msk", age_range=age_range)


def test_compatibility_needs_each_age_within_the_others_range():
    woman, man = person(1, "F", 1996, (25, 32)), person(2, "M", 1990)  # she is 30, he is 36
    assert not compatible(woman, man, "bipartite", ON)
    assert not compatible(man, woman, "bipartite", ON)
    younger = person(3, "M", 1995, (35, 45))  # he is 31 and wants 35-45: she is 30
    assert not compatible(woman, younger, "bipartite", ON)
    assert compatible(woman, person(4, "M", 1995), "bipartite", ON)


def test_the_planner_never_pairs_people_outside_each_others_ranges():
    people = [
        person(1, "F", 1996, (25, 32)),
        person(2, "F", 1980),
        person(3, "M", 1994),
        person(4, "M", 1975, (40, 60)),  # 51: only the woman of 46 is in his range, and he is not in the first's
        person(5, "M", 2004, (18, 22)),  # 22: nobody in his range
    ]
    plan = plan_event(PlanRequest(participants=people, max_rounds=4, on=ON))
    pairs = {pair for g in plan.groups for r in g.rounds for pair in r.pairs}
    assert pairs, plan
    for a, b in pairs:
        assert compatible(people[a - 1], people[b - 1], "bipartite", ON), (a, b)
    assert (2, 4) in pairs and (1, 4) not in pairs
    assert {u.id for u in plan.unseated} == {5}


def test_the_json_input_takes_age_range_and_the_day():
    data = {
        "participants": [
            {"id": 1, "gender": "F", "birthday": "1996-06-01", "age_range": [25, 32]},
            {"id": 2, "gender": "M", "birthday": "1990-06-01"},
        ],
        "on": "2026-12-20",
    }
    plan = plan_event(PlanRequest.from_json(data))
    assert plan.stats["dates"] == 0
    assert plan_event(PlanRequest.from_json({**data, "on": None}, today=date(2020, 1, 1))).stats["dates"] == 1
    for bad in ([25], [40, 30], ["a", 3], [-1, 30], [20, 10**9], "25-30"):
        raw = {**data, "participants": [{**data["participants"][0], "age_range": bad}, data["participants"][1]]}
        with pytest.raises(PlanningError, match="age_range"):
            PlanRequest.from_json(raw)
    with pytest.raises(PlanningError, match="'on'"):
        PlanRequest.from_json({**data, "on": None})
