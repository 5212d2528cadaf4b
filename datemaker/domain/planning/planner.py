"""The planner: confirmed participants in, groups and per-round pairs out. Pure: no I/O, no clock."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from datemaker.domain.planning.grouping import form_groups, improve_groups, pools, seatable
from datemaker.domain.planning.model import Group, Plan, PlanningError, PlanRequest, Round, Unseated
from datemaker.domain.planning.scheduling import Pairs, schedule_group
from datemaker.domain.planning.scoring import Population

logger = logging.getLogger(__name__)

NO_PARTNER = "no compatible partner"
ALL_BLOCKED = "no compatible partner: every compatible partner is blocked"
NO_ROOM = "no free partner within group_size and max_rounds"

_PASSES = 3
_IMPROVE_UP_TO = 4000
_WINDOW = 400  # people per window of the swap search (its cost grows with the square of this)


class _Context:
    """The request as population indices."""

    def __init__(self, request: PlanRequest) -> None:
        self.request = request
        self.participants = tuple(sorted(request.participants, key=lambda p: p.id))
        self.pop = Population.of(self.participants, request.on)
        self.index = {p.id: i for i, p in enumerate(self.participants)}
        self.blocked = self._pairs(request.blocked)
        self.met_before = self._pairs(request.met_before)
        self.tiebreak = np.random.default_rng(request.seed).permutation(len(self.participants))
        self.blocked_with = _links(self.blocked)
        self.met_before_with = _links(self.met_before)

    def _pairs(self, pairs: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
        out = set()
        for a, b in pairs:
            i, j = self.index[a], self.index[b]
            out.add((min(i, j), max(i, j)))
        return out

    def partners(self, i: int, among: np.ndarray) -> np.ndarray:
        """Those of ``among`` whom ``i`` may date (compatible and not blocked)."""
        ok = self.pop.compatible_matrix(np.array([i]), among, self.request.mode)[0]
        blocked = self.blocked_with.get(i)
        if blocked:
            ok &= ~np.isin(among, list(blocked))
        return among[ok]

    def schedule(self, members: np.ndarray) -> list[Pairs]:
        r = self.request
        return schedule_group(self.pop, members, r.mode, r.max_rounds, self.blocked_with, self.met_before_with)


def plan_event(request: PlanRequest) -> Plan:
    """Plan groups and rounds for a request; raise ``PlanningError`` if the request is not valid."""
    request.validate()
    ctx = _Context(request)
    pop = ctx.pop
    has_partner, has_unblocked = seatable(pop, request.mode, ctx.blocked)
    unseated: dict[int, str] = {}
    for i in np.flatnonzero(~has_unblocked):
        unseated[int(i)] = ALL_BLOCKED if has_partner[i] else NO_PARTNER
    people = np.flatnonzero(has_unblocked)
    groups: list[np.ndarray] = []
    kind = np.zeros(len(pop), dtype=np.int64)
    for number, pool in enumerate(pools(pop, people, request.mode)):
        for side, members in enumerate(pool):
            kind[members] = 2 * number + side
        groups.extend(g for g in form_groups(pop, pool, request.group_size, ctx.tiebreak) if len(g))
    groups = _improve(ctx, groups, kind)
    groups = _give_everyone_a_partner(ctx, groups)
    return _finish(ctx, groups, unseated)


def plan_groups(request: PlanRequest, groups: Sequence[Sequence[int]]) -> Plan:
    """Schedule rounds for groups chosen by the caller (lists of participant ids), skipping the grouping step.

    Every participant must be in at most one group and no group may exceed ``group_size``; participants
    in no group are listed as unseated. Useful for comparing groupings and for organizers' manual groups.
    """
    request.validate()
    ctx = _Context(request)
    seen: set[int] = set()
    chosen = []
    for g in groups:
        if len(g) > request.group_size:
            raise PlanningError(f"groups: a group has {len(g)} people, more than group_size {request.group_size}")
        for pid in g:
            if pid not in ctx.index:
                raise PlanningError(f"groups: unknown participant {pid}")
            if pid in seen:
                raise PlanningError(f"groups: participant {pid} is in two groups")
            seen.add(pid)
        chosen.append(np.array(sorted(ctx.index[pid] for pid in g), dtype=np.int64))
    has_partner, has_unblocked = seatable(ctx.pop, request.mode, ctx.blocked)
    unseated = {}
    for i in range(len(ctx.participants)):
        if not has_unblocked[i]:
            unseated[i] = ALL_BLOCKED if has_partner[i] else NO_PARTNER
        elif ctx.participants[i].id not in seen:
            unseated[i] = NO_ROOM
    return _finish(ctx, [g[~np.isin(g, list(unseated))] for g in chosen], unseated, repair=False)


def _improve(ctx: _Context, groups: list[np.ndarray], kind: np.ndarray) -> list[np.ndarray]:
    """Swap search over windows of neighbouring groups (bisection keeps similar groups next to each other);
    windows overlap by half, so people can travel further than one window. Skipped above ``_IMPROVE_UP_TO``
    people, where it would cost more time than the 2 s budget for 10,000 people leaves (bisection alone
    already makes groups of near neighbours at that size)."""
    if sum(len(g) for g in groups) > _IMPROVE_UP_TO:
        return groups
    groups = list(groups)
    per_window = max(2, _WINDOW // ctx.request.group_size)
    step = max(1, per_window // 2)
    starts = range(0, max(1, len(groups) - per_window + step), step) if len(groups) > per_window else [0]
    passes = _PASSES if len(groups) > per_window else 2 * _PASSES
    for start in starts:
        chosen = groups[start : start + per_window]
        if len(chosen) < 2:
            continue
        people = np.sort(np.concatenate(chosen))
        value = ctx.pop.score_matrix(people, people) * _may_date(ctx, people)
        groups[start : start + per_window] = improve_groups(ctx.pop, chosen, value, people, kind[people], passes)
    return groups


def _links(pairs: set[tuple[int, int]]) -> dict[int, set[int]]:
    """Pairs as a map from each person to the people they are paired with."""
    out: dict[int, set[int]] = {}
    for a, b in pairs:
        out.setdefault(a, set()).add(b)
        out.setdefault(b, set()).add(a)
    return out


def _may_date(ctx: _Context, rows: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
    """Boolean matrix over ``rows`` x ``cols`` (default: ``rows``): compatible and not blocked."""
    cols = rows if cols is None else cols
    ok = ctx.pop.compatible_matrix(rows, cols, ctx.request.mode)
    if ctx.blocked_with:
        where = {int(p): k for k, p in enumerate(cols)}
        for i, p in enumerate(rows.tolist()):
            for q in ctx.blocked_with.get(p, ()):
                j = where.get(q)
                if j is not None:
                    ok[i, j] = False
    return ok


def _lonely(ctx: _Context, group: np.ndarray) -> np.ndarray:
    """Members of ``group`` with nobody in it they may date."""
    return group[~_may_date(ctx, group).any(axis=1)]


_SWAP_TARGETS = 4  # full groups tried for a swap, per lonely person


def _give_everyone_a_partner(ctx: _Context, groups: list[np.ndarray]) -> list[np.ndarray]:
    """Move or swap people who have nobody to date in their group into a group where they have someone.

    A move needs a group with room; a swap trades places with someone of the same gender who in turn
    has a partner in the lonely person's group.
    """
    size = ctx.request.group_size
    groups = [g.copy() for g in groups]
    lonely = sorted(int(i) for g in groups for i in _lonely(ctx, g))
    if not lonely:
        return groups
    group_of = np.full(len(ctx.pop), -1, dtype=np.int64)
    for k, g in enumerate(groups):
        group_of[g] = k
    everyone = np.flatnonzero(group_of >= 0)
    hopeless: set[tuple[int, bool]] = set()  # (home group, gender) from which no swap works, until it changes
    for i in lonely:
        home = int(group_of[i])
        if len(ctx.partners(i, groups[home])):
            continue  # an earlier move brought someone
        partners = ctx.partners(i, everyone)
        targets = sorted(set(group_of[partners].tolist()) - {home}, key=lambda k: (len(groups[k]), k))
        rest_home = groups[home][groups[home] != i]
        male = bool(ctx.pop.male[i])
        roomy = [k for k in targets if len(groups[k]) < size]
        if roomy:
            k = roomy[0]
            groups[home], groups[k] = rest_home, np.sort(np.append(groups[k], i))
            group_of[i] = k
            hopeless.discard((home, male))
            continue
        if (home, male) in hopeless:
            continue
        for k in targets[:_SWAP_TARGETS]:
            cands = groups[k][ctx.pop.male[groups[k]] == male]
            if not len(cands):
                continue
            ok = _may_date(ctx, cands, rest_home).any(axis=1) if len(rest_home) else np.zeros(len(cands), bool)
            mine = partners[group_of[partners] == k]
            ok &= (len(mine) > 1) | (cands != mine[0])
            if ok.any():
                j = int(cands[np.argmax(ok)])
                groups[home] = np.sort(np.append(rest_home, j))
                groups[k] = np.sort(np.append(groups[k][groups[k] != j], i))
                group_of[i], group_of[j] = k, home
                hopeless.discard((k, male))
                break
        else:
            hopeless.add((home, male))
    return [g for g in groups if len(g)]


def _dated(rounds: list[Pairs]) -> set[int]:
    return {int(i) for pairs in rounds for i in pairs.ravel()}


def _finish(ctx: _Context, groups: list[np.ndarray], unseated: dict[int, str], repair: bool = True) -> Plan:
    schedules = [ctx.schedule(g) for g in groups]
    if repair:
        _seat_the_dateless(ctx, groups, schedules)
    pop = ctx.pop
    ids = pop.ids
    out_groups: list[Group] = []
    dates_of = np.zeros(len(ids), dtype=np.int64)
    busy = np.zeros(len(ids), dtype=bool)
    all_pairs = []
    for g, rounds in zip(groups, schedules, strict=True):
        dated = _dated(rounds)
        for i in g:
            if int(i) not in dated:
                unseated[int(i)] = NO_ROOM
        members = np.array(sorted(i for i in g.tolist() if i in dated), dtype=np.int64)
        if not len(members):
            continue
        member_ids = ids[members]
        out_rounds = []
        for r, pairs in enumerate(rounds):
            all_pairs.append(pairs)
            pair_ids = np.sort(ids[pairs], axis=1)
            pair_ids = pair_ids[np.lexsort((pair_ids[:, 1], pair_ids[:, 0]))]
            busy[pairs.ravel()] = True
            idle = member_ids[~busy[members]]
            busy[pairs.ravel()] = False
            out_rounds.append(
                Round(
                    round=r,
                    pairs=tuple((a, b) for a, b in pair_ids.tolist()),
                    sitting_out=tuple(sorted(idle.tolist())),
                )
            )
        out_groups.append(
            Group(group=len(out_groups), members=tuple(sorted(member_ids.tolist())), rounds=tuple(out_rounds))
        )
    pairs = np.concatenate(all_pairs) if all_pairs else np.empty((0, 2), dtype=np.int64)
    np.add.at(dates_of, pairs.ravel(), 1)
    total_score = float(pop.pair_scores(pairs[:, 0], pairs[:, 1]).sum()) if len(pairs) else 0.0
    low, high = np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])
    met_before_dates = (
        sum((int(a), int(b)) in ctx.met_before for a, b in zip(low, high, strict=True)) if ctx.met_before else 0
    )
    out_unseated = tuple(sorted((Unseated(int(ids[i]), reason) for i, reason in unseated.items()), key=lambda u: u.id))
    counts = dates_of[dates_of > 0]
    dates = len(pairs)
    stats: dict[str, Any] = {
        "participants": len(ctx.participants),
        "seated": len(counts),
        "unseated": len(out_unseated),
        "groups": len(out_groups),
        "rounds": max((len(g.rounds) for g in out_groups), default=0),
        "dates": dates,
        "score": _number(total_score),
        "mean_score": _number(total_score / dates) if dates else 0,
        "dates_per_person": {
            "min": int(counts.min()) if len(counts) else 0,
            "mean": round(float(counts.mean()), 3) if len(counts) else 0,
            "max": int(counts.max()) if len(counts) else 0,
        },
        "sit_outs": sum(len(r.sitting_out) for g in out_groups for r in g.rounds),
        "met_before_dates": int(met_before_dates),
    }
    return Plan(groups=tuple(out_groups), unseated=out_unseated, stats=stats)


def _seat_the_dateless(ctx: _Context, groups: list[np.ndarray], schedules: list[list[Pairs]]) -> None:
    """Someone seatable but without a date (their group ran out of partners) joins a group with room where
    they get one, if that group's schedule then seats everyone it seated before."""
    size = ctx.request.group_size
    if all(len(g) >= size for g in groups):
        return
    group_of = np.full(len(ctx.pop), -1, dtype=np.int64)
    for k, g in enumerate(groups):
        group_of[g] = k
    everyone = np.flatnonzero(group_of >= 0)
    for home in range(len(groups)):
        dated = _dated(schedules[home])
        for i in [int(i) for i in groups[home] if int(i) not in dated]:
            partners = ctx.partners(i, everyone)
            targets = set(group_of[partners].tolist()) - {home}
            for k in sorted(targets, key=lambda k: (len(groups[k]), k)):
                if len(groups[k]) >= size:
                    continue
                trial = np.sort(np.append(groups[k], i))
                rounds = ctx.schedule(trial)
                after = _dated(rounds)
                if i in after and _dated(schedules[k]) <= after:
                    groups[k], schedules[k] = trial, rounds
                    groups[home] = groups[home][groups[home] != i]
                    group_of[i] = k
                    break


def _number(x: float) -> float | int:
    r = round(x, 6)
    return int(r) if r == int(r) else r
