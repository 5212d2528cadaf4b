"""The planner's input and output: participants, the request, the plan, and their JSON forms (docs/protocol.md §7)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from contracts.errors import ErrorCode
from datemaker.domain.errors import DomainError

GENDERS: frozenset[str] = frozenset({"M", "F"})
MODES: tuple[str, ...] = ("bipartite", "open")
Mode = Literal["bipartite", "open"]

MAX_AGE_IN_RANGE = 200
MAX_SCORE = 1e6  # manual scores and ratings beyond this are surely a mistake (and would swamp the score)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class PlanningError(DomainError):
    """The planning request is not valid; ``message`` says what is wrong, in one line."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.BAD_REQUEST, message)


@dataclass(frozen=True)
class Participant:
    """A confirmed participant as the planner sees them.

    ``seeking`` is the set of genders the participant wants to meet; ``None`` means anyone.
    ``rating`` is carried for callers and future scoring; the default score does not use it.
    ``age_range`` is ``(min, max)``, inclusive: the ages this participant meets (``None``: any age). Two people
    meet only if each one's age, on the request's ``on`` day, is within the other's range.
    """

    id: int
    gender: str
    birthday: date
    city: str
    manual_score: float = 0
    rating: float = 0
    seeking: frozenset[str] | None = None
    age_range: tuple[int, int] | None = None


@dataclass(frozen=True)
class PlanRequest:
    """Who takes part and how the event is shaped.

    ``blocked`` pairs never meet; ``met_before`` pairs meet only when nothing else is possible.
    ``group_size`` bounds the people of one group, ``max_rounds`` the rounds of the event.
    ``mode`` is ``"bipartite"`` (every date is M–F) or ``"open"`` (``seeking`` decides, both ways).
    ``seed`` breaks ties: the same request and seed always give the same plan.
    ``on`` is the day ages are counted on (the event's day); it is needed when anyone has an ``age_range``.
    """

    participants: tuple[Participant, ...]
    blocked: tuple[tuple[int, int], ...] = ()
    met_before: tuple[tuple[int, int], ...] = ()
    group_size: int = 20
    max_rounds: int = 10
    mode: Mode = "bipartite"
    seed: int = 0
    on: date | None = None

    def __post_init__(self) -> None:
        # accept any iterables from callers, store tuples (the request is hashable and immutable)
        object.__setattr__(self, "participants", tuple(self.participants))
        object.__setattr__(self, "blocked", tuple(tuple(pair) for pair in self.blocked))
        object.__setattr__(self, "met_before", tuple(tuple(pair) for pair in self.met_before))

    @classmethod
    def from_json(cls, data: Any, today: date | None = None) -> PlanRequest:
        """Build a request from docs/protocol.md §7 input (already parsed JSON); raise ``PlanningError`` if malformed.

        Ages are counted on the input's ``"on"`` day (YYYY-MM-DD) if it names one, else on ``today``."""
        return _request_from_json(data, today)

    def validate(self) -> None:
        """Raise ``PlanningError`` unless the request can be planned."""
        _validate(self)


@dataclass(frozen=True)
class Round:
    """One time slot of one group: disjoint pairs (smaller id first) and the members without a date."""

    round: int
    pairs: tuple[tuple[int, int], ...]
    sitting_out: tuple[int, ...]


@dataclass(frozen=True)
class Group:
    """People who meet each other; ``rounds[i].round == i`` and all groups share the same time slots."""

    group: int
    members: tuple[int, ...]
    rounds: tuple[Round, ...]


@dataclass(frozen=True)
class Unseated:
    """A participant who gets no date, and why."""

    id: int
    reason: str


@dataclass(frozen=True)
class Plan:
    """The planner's answer: groups with their rounds, who is not seated, and figures about the plan."""

    groups: tuple[Group, ...]
    unseated: tuple[Unseated, ...]
    stats: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The docs/protocol.md §7 output as plain JSON-ready data."""
        return {
            "groups": [
                {
                    "group": g.group,
                    "members": list(g.members),
                    "rounds": [
                        {"round": r.round, "pairs": [list(p) for p in r.pairs], "sitting_out": list(r.sitting_out)}
                        for r in g.rounds
                    ],
                }
                for g in self.groups
            ],
            "unseated": [{"id": u.id, "reason": u.reason} for u in self.unseated],
            "stats": dict(self.stats),
        }


# ---------------------------------------------------------------- validation


def _validate(request: PlanRequest) -> None:
    if not request.participants:
        raise PlanningError("participants: the list is empty")
    for name in ("group_size", "max_rounds"):
        value = getattr(request, name)
        if not _is_int(value):
            raise PlanningError(f"{name}: expected an integer, got {value!r}")
    if request.group_size < 2:
        raise PlanningError(f"group_size: must be at least 2, got {request.group_size}")
    if request.max_rounds < 1:
        raise PlanningError(f"max_rounds: must be positive, got {request.max_rounds}")
    if request.mode not in MODES:
        raise PlanningError(f"mode: expected one of {', '.join(MODES)}, got {request.mode!r}")
    if not _is_int(request.seed):
        raise PlanningError(f"seed: expected an integer, got {request.seed!r}")
    ids: set[int] = set()
    for p in request.participants:
        if not isinstance(p, Participant):
            raise PlanningError(f"participants: expected Participant, got {type(p).__name__}")
        if not _is_int(p.id):
            raise PlanningError(f"participant id: expected an integer, got {p.id!r}")
        if not -(2**63) <= p.id < 2**63:
            raise PlanningError(f"participant {p.id}: id out of range (64-bit integers)")
        if p.id in ids:
            raise PlanningError(f"participant {p.id}: duplicate id")
        ids.add(p.id)
        if p.gender not in GENDERS:
            raise PlanningError(f"participant {p.id}: unknown gender {p.gender!r} (expected M or F)")
        if not isinstance(p.birthday, date):
            raise PlanningError(f"participant {p.id}: birthday must be a date")
        if not isinstance(p.city, str):
            raise PlanningError(f"participant {p.id}: city must be a string")
        for name in ("manual_score", "rating"):
            value = getattr(p, name)
            if not _is_number(value):
                raise PlanningError(f"participant {p.id}: {name} must be a finite number, got {value!r}")
            if abs(value) > MAX_SCORE:
                raise PlanningError(f"participant {p.id}: {name} must be between -{MAX_SCORE:g} and {MAX_SCORE:g}")
        if p.seeking is not None:
            unknown = sorted(set(p.seeking) - GENDERS, key=str)
            if unknown:
                raise PlanningError(f"participant {p.id}: seeking names unknown gender {unknown[0]!r}")
        if p.age_range is not None:
            _check_age_range(f"participant {p.id}", p.age_range)
            if request.on is None:
                raise PlanningError(f"participant {p.id}: an age_range needs the day ages are counted on ('on')")
    for name in ("blocked", "met_before"):
        for pair in getattr(request, name):
            if len(pair) != 2 or not all(_is_int(x) for x in pair):
                raise PlanningError(f"{name}: expected pairs of two ids, got {list(pair)!r}")
            a, b = pair
            for x in (a, b):
                if x not in ids:
                    raise PlanningError(f"{name}: pair [{a}, {b}] names unknown participant {x}")
            if a == b:
                raise PlanningError(f"{name}: pair [{a}, {b}] names the same participant twice")


def _check_age_range(where: str, value: Any) -> None:
    if (
        not isinstance(value, tuple | list)
        or len(value) != 2
        or not all(_is_int(x) for x in value)
        or not 0 <= value[0] <= value[1] <= MAX_AGE_IN_RANGE
    ):
        raise PlanningError(
            f"{where}: age_range must be [min, max], two whole numbers with 0 <= min <= max <= {MAX_AGE_IN_RANGE}, "
            f"got {value!r}"
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# ---------------------------------------------------------------- JSON input


def _request_from_json(data: Any, today: date | None) -> PlanRequest:
    if not isinstance(data, dict):
        raise PlanningError("input: expected a JSON object")
    raw_participants = data.get("participants")
    if not isinstance(raw_participants, list):
        raise PlanningError("participants: expected a list")
    participants = tuple(_participant_from_json(i, raw) for i, raw in enumerate(raw_participants))
    request = PlanRequest(
        participants=participants,
        blocked=_pairs_from_json(data, "blocked"),
        met_before=_pairs_from_json(data, "met_before"),
        group_size=_int_field(data, "group_size", 20),
        max_rounds=_int_field(data, "max_rounds", 10),
        mode=_mode_field(data),
        seed=_int_field(data, "seed", 0),
        on=_date_from_json("input", data["on"], "on") if data.get("on") is not None else today,
    )
    request.validate()
    return request


def _int_field(data: Mapping[str, Any], name: str, default: int) -> int:
    value = data.get(name, default)
    if not _is_int(value):
        raise PlanningError(f"{name}: expected an integer, got {value!r}")
    return value


def _mode_field(data: Mapping[str, Any]) -> Mode:
    value = data.get("mode", "bipartite")
    if value not in MODES:
        raise PlanningError(f"mode: expected one of {', '.join(MODES)}, got {value!r}")
    return value


def _pairs_from_json(data: Mapping[str, Any], name: str) -> tuple[tuple[int, int], ...]:
    value = data.get(name, [])
    if value is None:
        return ()
    if not isinstance(value, list):
        raise PlanningError(f"{name}: expected a list of [id, id] pairs")
    pairs = []
    for pair in value:
        if not isinstance(pair, list) or len(pair) != 2 or not all(_is_int(x) for x in pair):
            raise PlanningError(f"{name}: expected pairs of two integer ids, got {pair!r}")
        pairs.append((pair[0], pair[1]))
    return tuple(pairs)


def _participant_from_json(index: int, raw: Any) -> Participant:
    where = f"participants[{index}]"
    if not isinstance(raw, dict):
        raise PlanningError(f"{where}: expected an object")
    pid = raw.get("id")
    if not _is_int(pid):
        raise PlanningError(f"{where}: id must be an integer, got {pid!r}")
    where = f"participant {pid}"
    gender = raw.get("gender")
    if gender not in GENDERS:
        raise PlanningError(f"{where}: unknown gender {gender!r} (expected M or F)")
    birthday = _date_from_json(where, raw.get("birthday"))
    city = raw.get("city", "")
    if city is None:
        city = ""
    if not isinstance(city, str):
        raise PlanningError(f"{where}: city must be a string")
    numbers = {}
    for name in ("manual_score", "rating"):
        value = raw.get(name, 0)
        if value is None:
            value = 0
        if not _is_number(value):
            raise PlanningError(f"{where}: {name} must be a finite number, got {value!r}")
        numbers[name] = value
    return Participant(
        id=pid,
        gender=gender,
        birthday=birthday,
        city=city,
        manual_score=numbers["manual_score"],
        rating=numbers["rating"],
        seeking=_seeking_from_json(where, raw.get("seeking")),
        age_range=_age_range_from_json(where, raw.get("age_range")),
    )


def _age_range_from_json(where: str, value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    _check_age_range(where, value)
    return (value[0], value[1])


def _date_from_json(where: str, value: Any, name: str = "birthday") -> date:
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise PlanningError(f"{where}: {name} must be a date as YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PlanningError(f"{where}: {name} {value} is not a real date") from None


def _seeking_from_json(where: str, value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise PlanningError(f"{where}: seeking must be a list of genders")
    for g in value:
        if g not in GENDERS:
            raise PlanningError(f"{where}: seeking names unknown gender {g!r} (expected M or F)")
    return frozenset(value)


def sorted_pair(a: int, b: int) -> tuple[int, int]:
    """A pair of ids, smaller first."""
    return (a, b) if a < b else (b, a)


def pair_set(pairs: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    """Pairs as a set of sorted tuples."""
    return {sorted_pair(a, b) for a, b in pairs}
