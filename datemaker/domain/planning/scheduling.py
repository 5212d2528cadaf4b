"""Rounds of one group: who meets whom in each time slot.

Each round is an optimal assignment on its own (``scipy.optimize.linear_sum_assignment`` for M/F
groups, ``rustworkx.max_weight_matching`` for open groups) whose weights rank, in strict order:

1. the number of dates in the round (nobody sits out who could have a date);
2. fairness: people who sat out more rounds so far, then those who sat out the last round, go first;
   so the larger side takes turns sitting out and dates per person differ by at most one;
3. fewer ``met_before`` pairs (they meet only when no other partner is free);
4. the total score of the round's dates.

Pairs already met in the group and blocked or incompatible pairs are never offered.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from datemaker.domain.planning.scoring import Population

Pairs = np.ndarray
"""One round: an array of shape (k, 2) of population indices, one row per date."""

_OPEN_SCALE = 100  # open-mode weights are integers: scores are kept to 1/100
_RETRIES = 12


def _mask(members: np.ndarray, partners: Mapping[int, Collection[int]]) -> np.ndarray:
    """Square boolean matrix over ``members``: True where ``partners`` links the two."""
    n = len(members)
    out = np.zeros((n, n), dtype=bool)
    if not partners:
        return out
    where = {int(p): k for k, p in enumerate(members)}
    for i, p in enumerate(members.tolist()):
        for q in partners.get(p, ()):
            j = where.get(q)
            if j is not None:
                out[i, j] = out[j, i] = True
    return out


def schedule_group(
    pop: Population,
    members: np.ndarray,
    mode: str,
    max_rounds: int,
    blocked: Mapping[int, Collection[int]],
    met_before: Mapping[int, Collection[int]],
) -> list[Pairs]:
    """Plan up to ``max_rounds`` rounds for ``members`` (population indices); stop when no pair is left.

    ``blocked`` and ``met_before`` map a population index to the indices it is linked with (both ways).
    """
    members = np.sort(np.asarray(members, dtype=np.int64))
    n = len(members)
    if n < 2:
        return []
    allowed = pop.compatible_matrix(members, members, mode) & ~_mask(members, blocked)
    if not allowed.any():
        return []
    score = pop.score_matrix(members, members)
    before = _mask(members, met_before)
    male = pop.male[members]
    sides = [~male, male] if mode == "bipartite" else [np.ones(n, dtype=bool)]
    if mode == "bipartite":
        complete = bool(allowed[np.ix_(~male, male)].all())
    else:
        complete = bool((allowed | np.eye(n, dtype=bool)).all())

    def attempt(noisy: np.ndarray) -> list[Pairs]:
        if mode == "bipartite":
            return _bipartite_rounds(members, male, allowed, noisy, before, max_rounds)
        return _open_rounds(members, allowed, noisy, before, max_rounds)

    rounds = attempt(score)
    if not complete or fair(rounds, members, sides):
        return rounds
    # Optimal rounds one at a time can paint themselves into a corner late in a small group (the pairs left
    # admit no fair round). Try again with scores nudged at random (seeded: plans stay deterministic), and
    # for open groups fall back to the round-robin circle, which is always fair.
    rng = np.random.default_rng([len(members), *members[:4].tolist()])
    for _ in range(_RETRIES):
        noise = rng.uniform(0.0, 1.0, size=score.shape)
        again = attempt(score + (noise + noise.T))
        if fair(again, members, sides):
            return again
    if mode == "open":
        return _circle(members, max_rounds, score, before)
    return rounds


def fair(rounds: list[Pairs], members: np.ndarray, sides: list[np.ndarray]) -> bool:
    """Per side (a mask over the sorted ``members``): dates differ by at most one, and nobody sits out two
    rounds running while a side-mate has not sat out yet (counting the current round)."""
    if not rounds:
        return True
    busy = np.zeros((len(rounds), len(members)), dtype=bool)
    for t, pairs in enumerate(rounds):
        busy[t, np.searchsorted(members, pairs.ravel())] = True
    for side in sides:
        if not side.any():
            continue
        dates = busy[:, side].sum(axis=0)
        if dates.max() - dates.min() > 1:
            return False
        idle = ~busy[:, side]
        everyone_sat = np.logical_or.accumulate(idle, axis=0).all(axis=1)
        if ((idle[1:] & idle[:-1]).any(axis=1) & ~everyone_sat[1:]).any():
            return False
    return True


def _circle(members: np.ndarray, max_rounds: int, score: np.ndarray, before: np.ndarray) -> list[Pairs]:
    """Round robin by the circle method: everyone meets everyone once; with an odd count one person sits
    out each round, in turn (so nobody twice). Rounds with fewer ``met_before`` pairs, then more score, go
    first, and those beyond ``max_rounds`` are dropped."""
    seats = list(range(len(members))) + ([-1] if len(members) % 2 else [])
    n = len(seats)
    rounds = []
    for k in range(n - 1):
        pairs = [(seats[n - 1], seats[k])]
        pairs += [(seats[(k + i) % (n - 1)], seats[(k - i) % (n - 1)]) for i in range(1, n // 2)]
        real = np.array([(a, b) for a, b in pairs if a >= 0 and b >= 0], dtype=np.int64).reshape(-1, 2)
        rank = (int(before[real[:, 0], real[:, 1]].sum()), -float(score[real[:, 0], real[:, 1]].sum()), k)
        rounds.append((rank, real))
    rounds.sort(key=lambda item: item[0])
    return [members[real] for _, real in rounds[:max_rounds]]


def _bipartite_rounds(
    members: np.ndarray,
    male: np.ndarray,
    allowed: np.ndarray,
    score: np.ndarray,
    before: np.ndarray,
    max_rounds: int,
) -> list[Pairs]:
    from scipy.optimize import linear_sum_assignment  # here: a rejected request never pays for importing it

    rows, cols = np.flatnonzero(~male), np.flatnonzero(male)
    allowed = allowed[np.ix_(rows, cols)]
    score = score[np.ix_(rows, cols)]
    fresh = ~before[np.ix_(rows, cols)]
    if not allowed.any():
        return []
    low = float(score[allowed].min())
    spread = max(float(score[allowed].max()) - low, 1.0)
    gain = score - low  # in [0, spread] where allowed
    p = min(len(rows), len(cols))
    unit_fresh = p * spread + 1.0
    unit_fair = p * (unit_fresh + spread) + 1.0
    base = fresh * unit_fresh + gain
    met = np.zeros_like(allowed)
    sat_r, sat_c = np.zeros(len(rows), np.int64), np.zeros(len(cols), np.int64)
    last_r, last_c = np.zeros(len(rows), np.int64), np.zeros(len(cols), np.int64)
    rounds: list[Pairs] = []
    for r in range(max_rounds):
        free = allowed & ~met
        if not free.any():
            break
        unit_date = (2 * p * (2 * r + 1) + 1) * unit_fair
        priority = (2 * sat_r + last_r)[:, None] + (2 * sat_c + last_c)[None, :]
        value = np.where(free, unit_date + unit_fair * priority + base, 0.0)
        ri, ci = linear_sum_assignment(value, maximize=True)
        keep = free[ri, ci]
        ri, ci = ri[keep], ci[keep]
        if not len(ri):
            break
        met[ri, ci] = True
        dated_r = np.zeros(len(rows), bool)
        dated_r[ri] = True
        dated_c = np.zeros(len(cols), bool)
        dated_c[ci] = True
        sat_r += ~dated_r
        sat_c += ~dated_c
        last_r, last_c = (~dated_r).astype(np.int64), (~dated_c).astype(np.int64)
        rounds.append(np.stack([members[rows[ri]], members[cols[ci]]], axis=1))
    return rounds


def _open_rounds(
    members: np.ndarray,
    allowed: np.ndarray,
    score: np.ndarray,
    before: np.ndarray,
    max_rounds: int,
) -> list[Pairs]:
    import rustworkx as rx  # here: a rejected request never pays for importing it

    n = len(members)
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    allowed = allowed & upper
    low = float(score[allowed].min())
    gain = np.rint((score - low) * _OPEN_SCALE).astype(np.int64)
    spread = max(int(gain[allowed].max()), 1)
    p = n // 2
    unit_fresh = p * spread + 1
    unit_fair = p * (unit_fresh + spread) + 1
    base = (~before) * unit_fresh + gain
    met = np.zeros_like(allowed)
    sat = np.zeros(n, np.int64)
    last = np.zeros(n, np.int64)
    rounds: list[Pairs] = []
    for r in range(max_rounds):
        free = allowed & ~met
        ii, jj = np.nonzero(free)
        if not len(ii):
            break
        unit_date = (2 * p * (2 * r + 1) + 1) * unit_fair
        priority = 2 * sat + last
        weights = unit_date + unit_fair * (priority[ii] + priority[jj]) + base[ii, jj]
        graph = rx.PyGraph()
        graph.add_nodes_from(range(n))
        graph.add_edges_from(list(zip(ii.tolist(), jj.tolist(), weights.tolist(), strict=True)))
        matching = rx.max_weight_matching(graph, max_cardinality=False, weight_fn=int)
        if not matching:
            break
        chosen = np.sort(np.array(sorted(matching), dtype=np.int64), axis=1)
        met[chosen[:, 0], chosen[:, 1]] = True
        dated = np.zeros(n, bool)
        dated[chosen.ravel()] = True
        sat += ~dated
        last = (~dated).astype(np.int64)
        rounds.append(members[chosen])
    return rounds
