"""Property-based tests of the planner over random populations (hypothesis; a few seconds in all)."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datemaker.domain.planning import Participant, PlanRequest, plan_event
from tests.unit.test_planning_invariants import NO_ROOM, check_plan

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CITIES = ("msk", "spb", "kzn")
SEEKING = (None, None, None, frozenset({"M"}), frozenset({"F"}), frozenset({"M", "F"}), frozenset())


def make_people(rnd: random.Random, n: int, women: float, seeking: bool, genders=("F", "M")) -> tuple:
    """A random population; cheap to build, so that hypothesis spends its time on plans, not on drawing."""
    ids = rnd.sample(range(1, 10_000), n)
    return tuple(
        Participant(
            id=pid,
            gender=("F" if rnd.random() < women else "M") if len(genders) == 2 else genders[0],
            birthday=date(1975, 1, 1) + timedelta(days=rnd.randrange(30 * 365)),
            city=rnd.choice(CITIES),
            manual_score=rnd.choice((0, 1, 2, 3, 1.5)),
            seeking=rnd.choice(SEEKING) if seeking else None,
        )
        for pid in ids
    )


def make_pairs(rnd: random.Random, people: tuple, count: int) -> tuple:
    if len(people) < 2:
        return ()
    return tuple(tuple(p.id for p in rnd.sample(people, 2)) for _ in range(count))


@st.composite
def requests(draw, mode=None, blocked=True, seeking=True, genders=("F", "M")):
    rnd = random.Random(draw(st.integers(0, 2**32)))
    people = make_people(rnd, draw(st.integers(1, 30)), draw(st.sampled_from((0.5, 0.3, 0.45, 0.0))), seeking, genders)
    return PlanRequest(
        participants=people,
        blocked=make_pairs(rnd, people, draw(st.integers(0, 8))) if blocked else (),
        met_before=make_pairs(rnd, people, draw(st.integers(0, 15))),
        group_size=draw(st.integers(2, 12)),
        max_rounds=draw(st.integers(1, 8)),
        mode=mode or draw(st.sampled_from(("bipartite", "open"))),
        seed=draw(st.integers(0, 3)),
    )


@FAST
@given(requests())
def test_every_plan_keeps_the_rules(request):
    check_plan(request, plan_event(request))


@FAST
@given(requests(blocked=False))
def test_without_blocks_the_rotation_is_fair(request):
    check_plan(request, plan_event(request), fair=True)


@FAST
@given(requests(mode="bipartite", blocked=False))
def test_bipartite_seats_everyone_when_there_is_room(request):
    plan = plan_event(request)
    check_plan(request, plan, fair=True)
    ok = [p for p in request.participants if p.seeking is None or ({"M", "F"} - {p.gender}) & p.seeking]
    women = sum(p.gender == "F" for p in ok)
    men = len(ok) - women
    small, large = min(women, men), max(women, men)
    groups = max(1, math.ceil((small + large) / request.group_size))
    if small // groups >= 1 and (small // groups) * request.max_rounds >= math.ceil(large / groups):
        assert not [u for u in plan.unseated if u.reason == NO_ROOM], plan.unseated


@FAST
@given(requests(mode="open", blocked=False, seeking=False))
def test_open_mode_seats_everyone_when_groups_can_hold_pairs(request):
    plan = plan_event(request)
    check_plan(request, plan, fair=True)
    n = len(request.participants)
    groups = max(1, math.ceil(n / request.group_size))
    if n // groups >= 2 and request.max_rounds >= 2:  # an odd group needs two rounds to seat everyone
        assert not plan.unseated


@settings(max_examples=50, deadline=None)
@given(requests(), st.randoms(use_true_random=False))
def test_same_input_and_seed_give_the_same_plan(request, rnd):
    first = plan_event(request).to_json()
    assert plan_event(request).to_json() == first
    shuffled = list(request.participants)
    rnd.shuffle(shuffled)
    again = PlanRequest(
        participants=tuple(shuffled),
        blocked=request.blocked,
        met_before=request.met_before,
        group_size=request.group_size,
        max_rounds=request.max_rounds,
        mode=request.mode,
        seed=request.seed,
    )
    assert plan_event(again).to_json() == first, "the order of the input does not matter"
