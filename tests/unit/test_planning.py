"""Table tests of the pairing planner: small cases worked out by hand, the score, and bad input."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.errors import ErrorCode
from datemaker.domain.errors import DomainError
from datemaker.domain.planning import (
    Participant,
    PlanningError,
    PlanRequest,
    age_difference,
    pair_score,
    plan_event,
)
from tests.unit.test_planning_invariants import check_plan

ALL_BLOCKED = "no compatible partner: every compatible partner is blocked"


def person(pid, gender, birthday="1995-06-15", city="msk", manual=0, seeking=None):
    return Participant(
        id=pid,
        gender=gender,
        birthday=date.fromisoformat(birthday),
        city=city,
        manual_score=manual,
        seeking=None if seeking is None else frozenset(seeking),
    )


def plan_of(people, **kwargs):
    request = PlanRequest(participants=tuple(people), **kwargs)
    plan = plan_event(request)
    check_plan(request, plan)
    return plan


def rounds_of(plan, group=0):
    return [(list(r.pairs), list(r.sitting_out)) for r in plan.groups[group].rounds]


def dates_of(plan):
    counts = {}
    for g in plan.groups:
        for r in g.rounds:
            for a, b in r.pairs:
                counts[a] = counts.get(a, 0) + 1
                counts[b] = counts.get(b, 0) + 1
    return counts


# ------------------------------------------------------------------ score and age


@pytest.mark.parametrize(
    ("a", "b", "years"),
    [
        ("1990-05-01", "1990-05-01", 0),
        ("1990-05-01", "1991-04-30", 0),
        ("1990-05-01", "1991-05-01", 1),
        ("1991-05-01", "1990-05-01", 1),  # order does not matter
        ("1980-01-01", "1995-12-31", 15),
        ("2000-02-29", "2001-02-28", 0),  # a leap-day birthday completes its year on 1 March
        ("2000-02-29", "2001-03-01", 1),
    ],
)
def test_age_difference_is_whole_years_between_birthdays(a, b, years):
    assert age_difference(person(1, "F", a), person(2, "M", b)) == years


@pytest.mark.parametrize(
    ("a", "b", "score"),
    [
        (person(1, "F"), person(2, "M"), 12),  # same age, same city, same manual score
        (person(1, "F", city="msk"), person(2, "M", city=" MSK "), 12),  # cities compare case-insensitively
        (person(1, "F", city="msk"), person(2, "M", city="spb"), 10),
        (person(1, "F", "1990-01-01"), person(2, "M", "1996-06-01"), 6),  # 6 years apart
        (person(1, "F", manual=3), person(2, "M", manual=1), 8),  # 6 - 2 * 2
        (person(1, "F", "1980-01-01", "msk", 0), person(2, "M", "2000-01-01", "spb", 3), -16),
        (person(1, "F", manual=1.5), person(2, "M", manual=1), 11),
    ],
)
def test_pair_score_is_the_seeds_formula(a, b, score):
    assert pair_score(a, b) == score


# ------------------------------------------------------------------ small cases by hand


def test_two_people_meet_once():
    plan = plan_of([person(1, "F"), person(2, "M")])
    assert rounds_of(plan) == [([(1, 2)], [])]
    assert plan.unseated == ()
    assert plan.stats["dates"] == 1 and plan.stats["score"] == 12 and plan.stats["seated"] == 2


def test_three_people_bipartite_the_second_man_waits_one_round():
    # man 2 scores 12 with her, man 3 (3 years older, other city) scores 4 - 3 + 0 + 6 = 7
    people = [person(1, "F"), person(2, "M"), person(3, "M", "1992-06-15", "spb")]
    plan = plan_of(people)
    assert rounds_of(plan) == [([(1, 2)], [3]), ([(1, 3)], [2])]
    assert plan.stats["score"] == 19
    assert plan.stats["dates_per_person"] == {"min": 1, "mean": pytest.approx(4 / 3, abs=1e-3), "max": 2}
    assert plan.stats["sit_outs"] == 2


def test_three_people_open_meet_round_robin():
    people = [person(1, "F"), person(2, "M"), person(3, "M", "1992-06-15")]  # 1-2: 12, 1-3 and 2-3: 9
    plan = plan_of(people, mode="open")
    assert rounds_of(plan)[0] == ([(1, 2)], [3])
    assert {pair for pairs, _ in rounds_of(plan) for pair in pairs} == {(1, 2), (1, 3), (2, 3)}
    assert sorted(out for _, idle in rounds_of(plan) for out in idle) == [1, 2, 3]  # everyone waits once


def _crowd(women, men):
    people = [person(i, "F", f"19{90 + i % 8}-0{1 + i % 9}-10", ("msk", "spb")[i % 2], i % 3) for i in range(women)]
    people += [
        person(100 + i, "M", f"19{90 + i % 7}-0{1 + i % 8}-20", ("msk", "spb")[i % 2], i % 4) for i in range(men)
    ]
    return people


def test_ten_and_ten_everyone_meets_everyone():
    plan = plan_of(_crowd(10, 10), group_size=20, max_rounds=10)
    assert len(plan.groups) == 1 and len(plan.groups[0].rounds) == 10
    assert plan.stats["dates"] == 100 and plan.stats["sit_outs"] == 0
    assert set(dates_of(plan).values()) == {10}


def test_ten_and_ten_with_five_rounds():
    plan = plan_of(_crowd(10, 10), group_size=20, max_rounds=5)
    assert plan.stats["dates"] == 50 and set(dates_of(plan).values()) == {5}


def test_seven_and_thirteen_the_men_take_turns():
    plan = plan_of(_crowd(7, 13), group_size=20, max_rounds=10)
    counts = dates_of(plan)
    women = sorted(counts[i] for i in range(7))
    men = sorted(counts[100 + i] for i in range(13))
    assert women == [10] * 7  # a date every round, ten different men
    assert men == [5] * 8 + [6] * 5  # 70 dates shared as evenly as possible
    assert all(len(r.sitting_out) == 6 for r in plan.groups[0].rounds)
    assert plan.unseated == ()


def test_groups_are_balanced_and_within_size():
    plan = plan_of(_crowd(45, 55), group_size=20)
    assert len(plan.groups) == 5
    for g in plan.groups:
        women = sum(m < 100 for m in g.members)
        assert (women, len(g.members) - women) == (9, 11)


def test_groups_keep_cities_and_ages_together():
    msk = [person(i, "FM"[i % 2], f"1999-0{1 + i % 5}-01", "msk") for i in range(10)]
    spb = [person(10 + i, "FM"[i % 2], f"1979-0{1 + i % 5}-01", "spb") for i in range(10)]
    plan = plan_of(msk + spb, group_size=10)
    assert sorted(tuple(g.members) for g in plan.groups) == [tuple(range(10)), tuple(range(10, 20))]


def test_all_one_gender_in_bipartite_mode_nobody_is_seated():
    plan = plan_of([person(i, "M") for i in range(1, 5)])
    assert plan.groups == ()
    assert [(u.id, u.reason) for u in plan.unseated] == [(i, "no compatible partner") for i in range(1, 5)]
    assert plan.stats["seated"] == 0 and plan.stats["dates"] == 0


def test_all_one_gender_in_open_mode_they_meet_each_other():
    plan = plan_of([person(i, "M") for i in range(1, 5)], mode="open")
    assert plan.unseated == () and plan.stats["dates"] == 6  # a full round robin of four


def test_a_blocked_pair_that_is_the_only_option_never_meets():
    plan = plan_of([person(1, "F"), person(2, "M")], blocked=[(2, 1)])
    assert plan.groups == ()
    assert [(u.id, u.reason) for u in plan.unseated] == [(1, ALL_BLOCKED), (2, ALL_BLOCKED)]


def test_a_blocked_pair_leaves_the_others_free():
    plan = plan_of([person(1, "F"), person(2, "M"), person(3, "M", city="spb")], blocked=[(1, 2)])
    assert rounds_of(plan) == [([(1, 3)], [])]
    assert [(u.id, u.reason) for u in plan.unseated] == [(2, ALL_BLOCKED)]


def test_met_before_is_a_last_resort():
    # man 2 is her best match (12) but they met before; man 3 scores 10
    people = [person(1, "F"), person(2, "M"), person(3, "M", city="spb")]
    one_round = plan_of(people, met_before=[(1, 2)], max_rounds=1)
    assert rounds_of(one_round) == [([(1, 3)], [])]  # man 2 gets no date, so he is not a member
    assert [(u.id, u.reason) for u in one_round.unseated] == [(2, "no free partner within group_size and max_rounds")]
    two_rounds = plan_of(people, met_before=[(1, 2)], max_rounds=2)
    assert rounds_of(two_rounds) == [([(1, 3)], [2]), ([(1, 2)], [3])]  # nobody else is free in round 1
    assert two_rounds.stats["met_before_dates"] == 1


def test_met_before_pair_meets_when_nothing_else_is_possible():
    plan = plan_of([person(1, "F"), person(2, "M")], met_before=[(1, 2)])
    assert rounds_of(plan) == [([(1, 2)], [])]


def test_open_mode_respects_seeking_both_ways():
    people = [
        person(1, "M", seeking={"M"}),
        person(2, "M", seeking={"M"}),
        person(3, "M", seeking={"F"}),
        person(4, "F", seeking={"M"}),
        person(5, "F", seeking={"F"}),  # nobody seeks her back
    ]
    plan = plan_of(people, mode="open")
    pairs = {pair for g in plan.groups for r in g.rounds for pair in r.pairs}
    assert pairs == {(1, 2), (3, 4)}
    assert [(u.id, u.reason) for u in plan.unseated] == [(5, "no compatible partner")]


def test_bipartite_mode_honours_seeking_too():
    plan = plan_of([person(1, "F", seeking={"F"}), person(2, "M"), person(3, "F")])
    assert rounds_of(plan) == [([(2, 3)], [])]
    assert [u.id for u in plan.unseated] == [1]


def test_the_same_request_gives_the_same_plan():
    request = PlanRequest(participants=tuple(_crowd(9, 14)), group_size=8, max_rounds=4, seed=3)
    assert plan_event(request) == plan_event(request)


def test_plan_json_has_the_protocol_shape():
    plan = plan_of([person(1, "F"), person(2, "M"), person(5, "M", seeking={"M"})])
    data = plan.to_json()
    assert data["groups"] == [
        {"group": 0, "members": [1, 2], "rounds": [{"round": 0, "pairs": [[1, 2]], "sitting_out": []}]}
    ]
    assert data["unseated"] == [{"id": 5, "reason": "no compatible partner"}]
    assert {"participants": 3, "seated": 2, "dates": 1, "score": 12}.items() <= data["stats"].items()


# ------------------------------------------------------------------ input


def test_protocol_example_input_is_accepted():
    data = {
        "participants": [
            {"id": 1, "gender": "F", "birthday": "1996-04-01", "city": "msk", "manual_score": 2, "rating": 0.0,
             "seeking": ["M"]},
            {"id": 7, "gender": "M", "birthday": "1994-04-01", "city": "msk"},
            {"id": 9, "gender": "M", "birthday": "1995-04-01", "city": "spb"},
        ],
        "blocked": [[1, 7]], "met_before": [[1, 9]],
        "group_size": 20, "max_rounds": 10, "mode": "bipartite", "seed": 0,
    }  # fmt: skip
    request = PlanRequest.from_json(data)
    assert request.participants[0] == person(1, "F", "1996-04-01", "msk", 2, {"M"})
    assert request.blocked == ((1, 7),) and request.met_before == ((1, 9),)
    plan = plan_event(request)
    assert [list(r.pairs) for r in plan.groups[0].rounds] == [[(1, 9)]]


def _valid():
    return {
        "participants": [
            {"id": 1, "gender": "F", "birthday": "1996-04-01", "city": "msk"},
            {"id": 2, "gender": "M", "birthday": "1995-04-01", "city": "msk"},
        ]
    }


def _with(**changes):
    data = _valid()
    data.update(changes)
    return data


def _person_with(**changes):
    data = _valid()
    data["participants"][0].update(changes)
    return data


BAD_INPUT = [
    ([1, 2], "expected a JSON object"),
    ({}, "participants: expected a list"),
    (_with(participants=[]), "the list is empty"),
    (_with(participants=[*_valid()["participants"], _valid()["participants"][0]]), "participant 1: duplicate id"),
    (_person_with(gender="X"), "unknown gender 'X'"),
    (_person_with(gender=None), "unknown gender None"),
    (_person_with(birthday="2023-02-30"), "birthday 2023-02-30 is not a real date"),
    (_person_with(birthday="30.01.1990"), "birthday must be a date as YYYY-MM-DD"),
    (_person_with(id="1"), "id must be an integer"),
    (_person_with(id=True), "id must be an integer"),
    (_person_with(manual_score="high"), "manual_score must be a finite number"),
    (_person_with(seeking=["X"]), "seeking names unknown gender 'X'"),
    (_person_with(city=5), "city must be a string"),
    (["not", "an", "object"], "expected a JSON object"),
    (_with(group_size=0), "group_size: must be at least 2"),
    (_with(group_size=-3), "group_size: must be at least 2"),
    (_with(group_size=2.5), "group_size: expected an integer"),
    (_with(max_rounds=0), "max_rounds: must be positive"),
    (_with(max_rounds=-1), "max_rounds: must be positive"),
    (_with(mode="poly"), "mode: expected one of bipartite, open"),
    (_with(blocked=[[1, 99]]), "blocked: pair [1, 99] names unknown participant 99"),
    (_with(met_before=[[42, 2]]), "met_before: pair [42, 2] names unknown participant 42"),
    (_with(blocked=[[1, 1]]), "names the same participant twice"),
    (_with(blocked=[[1, 2, 3]]), "blocked: expected pairs of two integer ids"),
    (_with(met_before="1,2"), "met_before: expected a list"),
    (_with(seed="x"), "seed: expected an integer"),
    (_person_with(id=2**70), "id out of range"),
    (_person_with(manual_score=1e300), "manual_score must be between"),
]


@pytest.mark.parametrize(("data", "message"), BAD_INPUT)
def test_bad_input_is_a_planning_error(data, message):
    with pytest.raises(PlanningError) as caught:
        PlanRequest.from_json(data)
    assert message in caught.value.message
    assert isinstance(caught.value, DomainError) and caught.value.code == ErrorCode.BAD_REQUEST
    assert "\n" not in caught.value.message


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (PlanRequest(participants=()), "the list is empty"),
        (PlanRequest(participants=(person(1, "F"), person(1, "M"))), "duplicate id"),
        (PlanRequest(participants=(person(1, "W"), person(2, "M"))), "unknown gender 'W'"),
        (PlanRequest(participants=(person(1, "F"), person(2, "M")), group_size=0), "group_size"),
        (PlanRequest(participants=(person(1, "F"), person(2, "M")), max_rounds=0), "max_rounds"),
        (PlanRequest(participants=(person(1, "F"), person(2, "M")), blocked=[(1, 3)]), "unknown participant 3"),
        (PlanRequest(participants=(person(1, "F"), person(2, "M")), met_before=[(4, 2)]), "unknown participant 4"),
        (PlanRequest(participants=(person(1, "F"), person(2, "M")), mode="any"), "mode"),
    ],
)
def test_callers_get_a_domain_error_for_bad_requests(request_, message):
    with pytest.raises(PlanningError, match=message):
        plan_event(request_)
