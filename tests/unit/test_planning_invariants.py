"""What every plan must satisfy, checked from the outside (brute force, no planner internals).

``check_plan`` is used by the table tests and the property tests; the tests in this module show that
it catches broken plans.
"""

from __future__ import annotations

from datetime import date
from itertools import combinations

import pytest

from datemaker.domain.planning import Participant, Plan, PlanRequest, compatible, pair_score, plan_event

NO_PARTNER_REASONS = {"no compatible partner", "no compatible partner: every compatible partner is blocked"}
NO_ROOM = "no free partner within group_size and max_rounds"


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def check_plan(request: PlanRequest, plan: Plan, *, fair: bool = True) -> None:
    """Assert the plan's hard rules.

    ``fair`` also asserts the sit-out rules in every group where everybody may date everybody on the other
    side (everybody else, in open mode): blocked or incompatible pairs inside a group can make them impossible.
    """
    people = {p.id: p for p in request.participants}
    blocked = {_pair(*p) for p in request.blocked}
    met_before = {_pair(*p) for p in request.met_before}

    def may_date(a: int, b: int) -> bool:
        return compatible(people[a], people[b], request.mode) and _pair(a, b) not in blocked

    # everyone is in exactly one group or unseated
    placed = [m for g in plan.groups for m in g.members]
    unseated = {u.id: u.reason for u in plan.unseated}
    assert len(placed) == len(set(placed)), "someone is in two groups"
    assert not set(placed) & set(unseated), "someone is both seated and unseated"
    assert set(placed) | set(unseated) == set(people), "someone is missing from the plan"
    assert [g.group for g in plan.groups] == list(range(len(plan.groups)))

    dates = {pid: 0 for pid in people}
    total = 0.0
    for g in plan.groups:
        members = set(g.members)
        assert list(g.members) == sorted(g.members)
        assert 2 <= len(members) <= request.group_size
        assert len(g.rounds) <= request.max_rounds
        assert [r.round for r in g.rounds] == list(range(len(g.rounds)))
        met: set[tuple[int, int]] = set()
        sat_out = {m: 0 for m in members}
        for r in g.rounds:
            busy: list[int] = []
            assert list(r.pairs) == sorted(r.pairs)
            for a, b in r.pairs:
                assert a < b, "pairs are written smaller id first"
                assert a in members and b in members, "a date outside the group"
                assert (a, b) not in met, f"{a} and {b} meet twice in group {g.group}"
                assert (a, b) not in blocked, f"blocked pair {a}, {b} meets"
                assert may_date(a, b), f"{a} and {b} may not date ({request.mode})"
                if request.mode == "bipartite":
                    assert people[a].gender != people[b].gender
                met.add((a, b))
                busy += [a, b]
                dates[a] += 1
                dates[b] += 1
                total += pair_score(people[a], people[b])
            assert len(busy) == len(set(busy)), f"someone has two dates in round {r.round}"
            assert list(r.sitting_out) == sorted(members - set(busy))
            for m in r.sitting_out:
                sat_out[m] += 1
        assert r.pairs, "a group's last round has no date"
        for m in members:
            assert dates[m] >= 1, f"{m} is a member without a date"
        complete = _complete(request, g, people, may_date)
        if fair and complete:
            _check_fairness(request, g, people)
        try:
            _check_met_before(g, met_before, may_date)
        except AssertionError:
            # Fairness outranks met_before: in a small group where everybody may meet everybody, a fair
            # schedule can need a met_before pair early (the planner then falls back to a round robin).
            if not complete:
                raise
            _check_fairness(request, g, people)

    # unseated people have no date, and the reason is true
    for pid, reason in unseated.items():
        assert dates[pid] == 0
        anyone = any(may_date(pid, q) for q in people if q != pid)
        if reason in NO_PARTNER_REASONS:
            assert not anyone, f"{pid} is said to have no partner but has one"
        else:
            assert reason == NO_ROOM and anyone, f"{pid}: unexpected reason {reason!r}"

    stats = plan.stats
    seated = [d for d in dates.values() if d]
    assert stats["participants"] == len(people)
    assert stats["seated"] == len(placed) == len(seated)
    assert stats["dates"] == sum(dates.values()) // 2
    assert stats["score"] == pytest.approx(total, abs=1e-6)
    if seated:
        assert stats["dates_per_person"]["min"] == min(seated)
        assert stats["dates_per_person"]["max"] == max(seated)
    assert stats["sit_outs"] == sum(len(r.sitting_out) for g in plan.groups for r in g.rounds)
    assert plan.to_json()["stats"] == dict(stats)


def _sides(request: PlanRequest, group, people) -> list[set[int]]:
    if request.mode == "bipartite":
        return [{m for m in group.members if people[m].gender == g} for g in ("F", "M")]
    return [set(group.members)]


def _complete(request: PlanRequest, group, people, may_date) -> bool:
    """Everyone in the group may date everyone on the other side (bipartite) or everyone else (open)."""
    sides = _sides(request, group, people)
    if len(sides) == 2:
        return all(may_date(a, b) for a in sides[0] for b in sides[1])
    return all(may_date(a, b) for a, b in combinations(group.members, 2))


def _check_fairness(request: PlanRequest, group, people) -> None:
    """Per side: dates differ by at most one; nobody sits out twice running while a side-mate has never sat out."""
    for side in _sides(request, group, people):
        if not side:
            continue
        counts = {m: sum(m in pair for r in group.rounds for pair in r.pairs) for m in side}
        assert max(counts.values()) - min(counts.values()) <= 1, f"unfair dates in group {group.group}: {counts}"
        sat_by: set[int] = set()
        previous: set[int] = set()
        for r in group.rounds:
            now = set(r.sitting_out) & side
            sat_by |= now
            for m in now & previous:
                assert sat_by >= side, f"{m} sits out twice running in round {r.round} while others never sat out"
            previous = now


def _check_met_before(group, met_before, may_date) -> None:
    """A met_before pair meets only if every fresh partner then free would have broken the sit-out rotation.

    The planner's order is: most dates, then fairness (more sit-outs so far, then sat out last round),
    then fewest met_before pairs. So if ``a`` meets ``b`` whom they met before while a fresh partner ``c``
    sits out, ``c`` must have had a lower priority than ``b``.
    """
    sat = {m: 0 for m in group.members}
    last = {m: 0 for m in group.members}
    met: set[tuple[int, int]] = set()
    for r in group.rounds:
        priority = {m: 2 * sat[m] + last[m] for m in group.members}
        idle = set(r.sitting_out)
        for a, b in r.pairs:
            if (a, b) not in met_before:
                continue
            for x, y in ((a, b), (b, a)):
                for c in idle:
                    fresh = _pair(x, c) not in met and _pair(x, c) not in met_before and may_date(x, c)
                    assert not (fresh and priority[c] >= priority[y]), (
                        f"round {r.round}: {x} meets {y} (met before) while fresh {c} sits out"
                    )
        met |= set(r.pairs)
        busy = {m for pair in r.pairs for m in pair}
        for m in group.members:
            sat[m] += m not in busy
            last[m] = int(m not in busy)


# ------------------------------------------------------------------ the checker catches broken plans


def _two() -> PlanRequest:
    return PlanRequest(
        participants=(
            Participant(1, "F", date(1995, 1, 1), "msk"),
            Participant(2, "M", date(1995, 1, 1), "msk"),
            Participant(3, "M", date(1995, 1, 1), "msk"),
        ),
    )


def test_checker_accepts_a_real_plan():
    request = _two()
    check_plan(request, plan_event(request))


def test_checker_catches_a_repeated_pair():
    from dataclasses import replace

    request = _two()
    plan = plan_event(request)
    group = plan.groups[0]
    broken = replace(plan, groups=(replace(group, rounds=(group.rounds[0], replace(group.rounds[0], round=1))),))
    with pytest.raises(AssertionError):
        check_plan(request, broken)


def test_checker_catches_a_missing_person():
    from dataclasses import replace

    request = _two()
    plan = plan_event(request)
    with pytest.raises(AssertionError):
        check_plan(request, replace(plan, unseated=()) if plan.unseated else replace(plan, groups=()))
