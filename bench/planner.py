"""Benchmark of the pairing planner: speed, scheduling quality, grouping quality and coverage.

Run: ``.venv/bin/python bench/planner.py`` (add ``--quick`` to skip the 10,000-person quality check).
It prints figures; it is not a test. Populations are synthetic: 45% women, five cities of unequal size,
ages 18–45, manual scores 0–3, a few blocked and met-before pairs.

Scheduling quality compares each group's score with an upper bound on any schedule of that group: the
largest total score of distinct within-group pairs (not blocked, compatible) in which nobody has more than
``max_rounds`` dates. In bipartite mode that is a min-cost flow (networkx), and by König's theorem any such
pair set splits into ``max_rounds`` rounds, so the bound is what a perfect scheduler could reach (ignoring
the fairness rules, which only lower it). In open mode the bound is the linear-programming relaxation of
the same degree-constrained matching (scipy's HiGHS): still a valid upper bound, possibly a loose one.
That bound leaves out every pair with a negative score and lets dates pile up on a few people; the planner
may do neither (the smaller side has a date every round, the larger side's dates differ by at most one).
So a second bound keeps the plan's number of dates and each side's range of dates per person: the gap to
it is what a better scheduler could still win under the same rules.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import networkx as nx
import numpy as np
from scipy.optimize import linprog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from datemaker.domain.planning import Participant, Plan, PlanRequest, compatible, pair_score, plan_event, plan_groups

REFERENCE = date(2025, 6, 1)  # ages are drawn as of this day; the planner itself needs no date
CITIES = (("msk", 0.40), ("spb", 0.25), ("kzn", 0.15), ("nsk", 0.12), ("ekb", 0.08))


def population(n: int, seed: int = 1, women: float = 0.45) -> list[Participant]:
    rnd = random.Random(seed)
    names, weights = zip(*CITIES, strict=True)
    return [
        Participant(
            id=i + 1,
            gender="F" if rnd.random() < women else "M",
            birthday=REFERENCE - timedelta(days=int(rnd.uniform(18, 46) * 365.25)),
            city=rnd.choices(names, weights)[0],
            manual_score=rnd.choice((0, 1, 1, 2, 2, 3)),
        )
        for i in range(n)
    ]


def request_for(n: int, mode: str = "bipartite", seed: int = 1) -> PlanRequest:
    people = population(n, seed)
    rnd = random.Random(seed + 1)
    ids = [p.id for p in people]

    def some_pairs(k: int) -> list[tuple[int, int]]:
        return [tuple(rnd.sample(ids, 2)) for _ in range(k)]

    return PlanRequest(
        participants=people,
        blocked=some_pairs(n // 100),
        met_before=some_pairs(n // 20),
        group_size=20,
        max_rounds=10,
        mode=mode,
        seed=0,
    )


def timed(request: PlanRequest, repeat: int) -> tuple[float, Plan]:
    best, plan = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        plan = plan_event(request)
        best = min(best, time.perf_counter() - start)
    return best, plan


def group_bound(request: PlanRequest, members: list[int], people: dict[int, Participant]) -> float:
    """The best total score of a within-group pair set with at most ``max_rounds`` dates per person."""
    blocked = {tuple(sorted(p)) for p in request.blocked}
    edges = [
        (a, b, pair_score(people[a], people[b]))
        for i, a in enumerate(members)
        for b in members[i + 1 :]
        if compatible(people[a], people[b], request.mode) and (min(a, b), max(a, b)) not in blocked
    ]
    edges = [e for e in edges if e[2] > 0]  # a pair that scores nothing never raises the maximum
    if not edges:
        return 0.0
    cap = request.max_rounds
    if request.mode == "bipartite":
        graph = nx.DiGraph()
        supply = cap * len(members)
        graph.add_node("s", demand=-supply)
        graph.add_node("t", demand=supply)
        graph.add_edge("s", "t", capacity=supply, weight=0)  # unused capacity bypasses the pairs
        for m in members:
            if people[m].gender == "F":
                graph.add_edge("s", m, capacity=cap, weight=0)
            else:
                graph.add_edge(m, "t", capacity=cap, weight=0)
        for a, b, s in edges:
            f, m = (a, b) if people[a].gender == "F" else (b, a)
            graph.add_edge(f, m, capacity=1, weight=-round(s * 100))
        cost, _ = nx.network_simplex(graph)
        return -cost / 100
    index = {m: k for k, m in enumerate(members)}
    rows, cols, weights = [], [], []
    for e, (a, b, s) in enumerate(edges):
        rows += [index[a], index[b]]
        cols += [e, e]
        weights.append(s)
    incidence = np.zeros((len(members), len(edges)))
    incidence[rows, cols] = 1
    result = linprog(-np.array(weights), A_ub=incidence, b_ub=np.full(len(members), cap), bounds=(0, 1), method="highs")
    return -result.fun


def rules_bound(request: PlanRequest, group, people: dict[int, Participant]) -> float:
    """The best total score of a pair set with as many dates as the plan's group and, per side, dates per
    person in the same range as the plan's (the sit-out rules). Linear relaxation (HiGHS): exact for M/F
    groups (the constraint matrix is totally unimodular), an upper bound for open ones."""
    members = list(group.members)
    blocked = {tuple(sorted(p)) for p in request.blocked}
    edges = [
        (a, b, pair_score(people[a], people[b]))
        for i, a in enumerate(members)
        for b in members[i + 1 :]
        if compatible(people[a], people[b], request.mode) and (min(a, b), max(a, b)) not in blocked
    ]
    dates = {m: 0 for m in members}
    count = 0
    for r in group.rounds:
        for a, b in r.pairs:
            dates[a] += 1
            dates[b] += 1
            count += 1
    side = {m: people[m].gender if request.mode == "bipartite" else "*" for m in members}
    low = {s: min(d for m, d in dates.items() if side[m] == s) for s in set(side.values())}
    high = {s: max(d for m, d in dates.items() if side[m] == s) for s in set(side.values())}
    incidence = np.zeros((len(members), len(edges)))
    index = {m: k for k, m in enumerate(members)}
    for e, (a, b, _) in enumerate(edges):
        incidence[index[a], e] = incidence[index[b], e] = 1
    result = linprog(
        -np.array([w for _, _, w in edges]),
        A_ub=np.vstack([incidence, -incidence]),
        b_ub=np.array([high[side[m]] for m in members] + [-low[side[m]] for m in members]),
        A_eq=np.ones((1, len(edges))),
        b_eq=[count],
        bounds=(0, 1),
        method="highs",
    )
    return -result.fun


def scheduling_quality(request: PlanRequest, plan: Plan) -> tuple[float, float, float]:
    people = {p.id: p for p in request.participants}
    bound = sum(group_bound(request, list(g.members), people) for g in plan.groups)
    under_rules = sum(rules_bound(request, g, people) for g in plan.groups)
    return float(plan.stats["score"]), bound, under_rules


def random_grouping(request: PlanRequest, plan: Plan, seed: int = 7) -> list[list[int]]:
    """The plan's group sizes (per gender), filled with people drawn at random from the same population."""
    people = {p.id: p for p in request.participants}
    rnd = random.Random(seed)
    pools = {}
    for gender in ("F", "M"):
        ids = [m for g in plan.groups for m in g.members if people[m].gender == gender]
        rnd.shuffle(ids)
        pools[gender] = ids
    groups = []
    for g in plan.groups:
        group = []
        for gender in ("F", "M"):
            k = sum(people[m].gender == gender for m in g.members)
            group += pools[gender][:k]
            pools[gender] = pools[gender][k:]
        groups.append(group)
    return groups


def spread(request: PlanRequest, plan: Plan) -> str:
    people = {p.id: p for p in request.participants}
    dates = {p.id: 0 for p in request.participants}
    for g in plan.groups:
        for r in g.rounds:
            for a, b in r.pairs:
                dates[a] += 1
                dates[b] += 1
    parts = []
    for gender in ("F", "M"):
        counts = [d for pid, d in dates.items() if people[pid].gender == gender]
        if counts:
            parts.append(f"{gender}: min {min(counts)} mean {sum(counts) / len(counts):.2f} max {max(counts)}")
    return "; ".join(parts)


def cli_seconds(request: PlanRequest) -> float:
    payload = {
        "participants": [
            {
                "id": p.id,
                "gender": p.gender,
                "birthday": p.birthday.isoformat(),
                "city": p.city,
                "manual_score": p.manual_score,
            }
            for p in request.participants
        ],
        "blocked": [list(p) for p in request.blocked],
        "met_before": [list(p) for p in request.met_before],
        "group_size": request.group_size,
        "max_rounds": request.max_rounds,
        "mode": request.mode,
        "seed": request.seed,
    }
    root = Path(__file__).resolve().parent.parent
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "datemaker", "plan", "--input", "-"],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=root,
        check=True,
    )
    elapsed = time.perf_counter() - start
    json.loads(done.stdout)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip quality figures for 10,000 people")
    args = parser.parse_args()
    sizes = (100, 1_000, 10_000)
    print("Pairing planner benchmark (group_size 20, max_rounds 10, 45% women, 5 cities, ages 18-45)")
    print(f"machine: {__import__('os').cpu_count()} cores; times are the best of several runs\n")
    for mode in ("bipartite", "open"):
        print(f"== mode {mode}")
        for n in sizes:
            request = request_for(n, mode)
            seconds, plan = timed(request, repeat=3 if n < 10_000 else 2)
            s = plan.stats
            print(
                f"{n:>6} people: plan {seconds:6.3f} s | groups {s['groups']}, rounds {s['rounds']}, "
                f"dates {s['dates']}, score {s['score']}, mean {s['mean_score']:.2f}/date"
            )
            print(
                f"        coverage: seated {s['seated']}/{s['participants']} = {s['seated'] / s['participants']:.3f}"
                f" (unseated {s['unseated']}); dates per person {spread(request, plan)}; sit-outs {s['sit_outs']};"
                f" met-before dates {s['met_before_dates']}"
            )
            if n == 10_000 and args.quick:
                continue
            score, bound, under_rules = scheduling_quality(request, plan)
            kind = "min-cost flow" if mode == "bipartite" else "LP relaxation"
            print(f"        scheduling: plan score {score:.0f} / bound {bound:.0f} ({kind}) = {score / bound:.4f}")
            print(
                f"        scheduling under the seating rules: plan score / bound with the same dates and"
                f" per-side date range {under_rules:.0f} = {score / under_rules:.4f}"
            )
            shuffled = plan_groups(request, random_grouping(request, plan))
            print(
                f"        grouping: mean score per date {s['mean_score']:.2f} (planner's groups) vs "
                f"{shuffled.stats['mean_score']:.2f} (random groups of the same sizes, same scheduler)"
            )
        print()
    request = request_for(10_000)
    print(f"CLI end to end (python -m datemaker plan, JSON in and out), 10,000 people: {cli_seconds(request):.2f} s")


if __name__ == "__main__":
    main()
