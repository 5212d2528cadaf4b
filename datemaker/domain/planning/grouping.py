"""Who is seated at all, and who shares a group.

Groups are cut by recursive bisection: a set of people that must form ``G`` groups is split in two
(``G // 2`` groups and the rest) along whichever of birthday, manual score or city leaves the two halves
most alike inside, measured with the score's own weights (a year of age = 1, a manual-score point = 2,
another city = 2). Each side (gender in bipartite mode) is split at its own quota, so every group gets
an even share of each side and the imbalance of the whole population is spread evenly over the groups.
Up to a few thousand people, a swap search then trades people of the same side between neighbouring
groups while that raises the total score of the pairs inside groups.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from datemaker.domain.planning.scoring import Population

_SPREAD = 2.0 / math.sqrt(math.pi)  # E|X - Y| = 1.128 sigma for two independent normal draws
_DAYS_PER_YEAR = 365.2425


def seatable(pop: Population, mode: str, blocked: set[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """For each person: has a compatible partner at all (ignoring blocks), and has an unblocked one."""
    if pop.age is not None:  # age ranges make compatibility personal: count partners one by one
        everyone = np.arange(len(pop))
        ok = pop.compatible_matrix(everyone, everyone, mode)
        partners = ok.any(axis=1)
        for a, b in blocked:
            ok[a, b] = ok[b, a] = False
        return partners, ok.any(axis=1)
    gb = pop.gender_bit
    klass = (pop.male.astype(np.int64) * 4 + pop.seek_bits).astype(np.int64)
    counts = np.bincount(klass, minlength=8)
    kinds = np.arange(8)
    k_male, k_seek = kinds >= 4, kinds % 4
    k_gb = np.where(k_male, 2, 1)
    ok = ((k_seek[:, None] & k_gb[None, :]) != 0) & ((k_seek[None, :] & k_gb[:, None]) != 0)
    if mode == "bipartite":
        ok &= k_male[:, None] != k_male[None, :]
    partners = (ok * counts[None, :]).sum(axis=1)[klass] - ok[klass, klass]  # minus oneself
    unblocked = partners.copy()
    for a, b in blocked:
        if (pop.seek_bits[a] & gb[b]) and (pop.seek_bits[b] & gb[a]) and (mode == "open" or pop.male[a] != pop.male[b]):
            unblocked[a] -= 1
            unblocked[b] -= 1
    return partners > 0, unblocked > 0


def pools(pop: Population, people: np.ndarray, mode: str) -> list[list[np.ndarray]]:
    """Sets of people grouped separately, each as its sides (women, men) or one side.

    Bipartite: one pool, women and men. Open: people who seek the other gender (straight or bisexual) form
    an M/F pool; men who seek only men and women who seek only women form their own pools. A same-gender
    pool of one borrows a bisexual person of that gender, so that nobody is left alone in a pool.
    """
    male = pop.male[people]
    if mode == "bipartite":
        return [[people[~male], people[male]]]
    bits = pop.seek_bits[people]
    own = np.where(male, 2, 1)
    other = 3 - own
    seeks_own, seeks_other = (bits & own) != 0, (bits & other) != 0
    mixed = seeks_other.copy()
    result: list[list[np.ndarray]] = []
    for is_male in (False, True):
        same_only = people[seeks_own & ~seeks_other & (male == is_male)]
        if len(same_only) == 1:
            bi = np.flatnonzero(seeks_own & seeks_other & (male == is_male) & mixed)
            if len(bi):
                # the bisexual person closest in age keeps them company
                nearest = bi[np.argmin(np.abs(pop.ordinal[people[bi]] - pop.ordinal[same_only[0]]))]
                mixed[nearest] = False
                same_only = np.concatenate([same_only, people[[nearest]]])
        if len(same_only):
            result.append([same_only])
    mixed_people = people[mixed]
    result.insert(0, [mixed_people[~pop.male[mixed_people]], mixed_people[pop.male[mixed_people]]])
    return [pool for pool in result if sum(len(side) for side in pool)]


def quotas(sizes: Sequence[int], group_size: int) -> list[np.ndarray]:
    """How many of each side every group gets: even shares, no group above ``group_size``."""
    total = sum(sizes)
    count = max(1, math.ceil(total / group_size))
    result = []
    for s, n in enumerate(sizes):
        q = np.full(count, n // count, dtype=np.int64)
        extra = n % count
        if extra:
            if s % 2 == 0:
                q[:extra] += 1
            else:
                q[count - extra :] += 1
        result.append(q)
    return result


def form_groups(
    pop: Population, sides: Sequence[np.ndarray], group_size: int, tiebreak: np.ndarray
) -> list[np.ndarray]:
    """Cut a pool (its sides as arrays of population indices) into groups of similar people."""
    sides = [np.asarray(s, dtype=np.int64) for s in sides]
    shares = quotas([len(s) for s in sides], group_size)
    count = len(shares[0])
    out: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * count
    age = pop.ordinal / _DAYS_PER_YEAR
    stack = [(0, count, sides)]
    while stack:
        lo, hi, members = stack.pop()
        if hi - lo == 1:
            out[lo] = np.sort(np.concatenate(members))
            continue
        mid = (lo + hi) // 2
        need = [int(q[lo:mid].sum()) for q in shares]
        everyone = np.concatenate(members)
        city_counts = np.bincount(pop.city[everyone], minlength=int(pop.city.max()) + 1)
        city_rank = np.empty_like(city_counts)
        city_rank[np.argsort(-city_counts, kind="stable")] = np.arange(len(city_counts))
        best: tuple[float, list[np.ndarray], list[np.ndarray]] | None = None
        for key in ("age", "manual", "city"):
            left, right = [], []
            for side, k in zip(members, need, strict=True):
                order = _order(pop, side, key, city_rank, tiebreak)
                left.append(side[order[:k]])
                right.append(side[order[k:]])
            cost = _cost(pop, age, np.concatenate(left)) + _cost(pop, age, np.concatenate(right))
            if best is None or cost < best[0] - 1e-9:
                best = (cost, left, right)
        assert best is not None
        stack.append((mid, hi, best[2]))
        stack.append((lo, mid, best[1]))
    return out


def _order(pop: Population, side: np.ndarray, key: str, city_rank: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    ordinal, manual, city, tb = pop.ordinal[side], pop.manual[side], city_rank[pop.city[side]], tiebreak[side]
    if key == "age":
        return np.lexsort((tb, manual, city, ordinal))
    if key == "manual":
        return np.lexsort((tb, city, ordinal, manual))
    return np.lexsort((tb, manual, ordinal, city))


def _cost(pop: Population, age: np.ndarray, people: np.ndarray) -> float:
    """How unlike each other a set of people is, times its size (lower is better)."""
    n = len(people)
    if n < 2:
        return 0.0
    shares = np.bincount(pop.city[people]) / n
    city = 2.0 * (1.0 - float(np.dot(shares, shares)))
    return n * (_SPREAD * _std(age[people]) + 2.0 * _SPREAD * _std(pop.manual[people]) + city)


def _std(x: np.ndarray) -> float:
    x = x - x[0]
    mean = float(x.sum()) / len(x)
    return math.sqrt(max(float(np.dot(x, x)) / len(x) - mean * mean, 0.0))


def improve_groups(
    pop: Population,
    groups: list[np.ndarray],
    value: np.ndarray,
    people: np.ndarray,
    kind: np.ndarray,
    max_passes: int = 8,
) -> list[np.ndarray]:
    """Swap people of the same kind between groups while that raises the total value of within-group pairs.

    ``people`` are population indices (sorted), ``value`` their pair values (square, symmetric, zero where
    they may not date) and ``kind`` a label per person (gender and pool): only people of the same kind swap,
    so group sizes and the balance between sides stay as they are.
    """
    group_of = np.empty(len(people), dtype=np.int64)
    for g, members in enumerate(groups):
        group_of[np.searchsorted(people, members)] = g
    # with_group[g, p]: value of person p with everyone in group g
    with_group = np.stack([value[group_of == g].sum(axis=0) for g in range(len(groups))])
    same_kind = {int(k): np.flatnonzero(kind == k) for k in np.unique(kind)}
    for _ in range(max_passes):
        swapped = False
        for a in range(len(people)):
            g = group_of[a]
            candidates = same_kind[int(kind[a])]
            h = group_of[candidates]
            gain = with_group[g, candidates] - with_group[h, candidates] + with_group[h, a] - with_group[g, a]
            gain -= 2.0 * value[a, candidates]
            gain[h == g] = 0.0
            best = int(np.argmax(gain))
            if gain[best] <= 1e-9:
                continue
            b = int(candidates[best])
            hb = int(h[best])
            delta = value[b] - value[a]
            with_group[g] += delta
            with_group[hb] -= delta
            group_of[a], group_of[b] = hb, g
            swapped = True
        if not swapped:
            break
    return [np.sort(people[group_of == g]) for g in range(len(groups))]
