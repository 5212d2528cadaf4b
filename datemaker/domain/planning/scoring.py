"""Who may meet whom, and how well they match.

Age difference is clock-free: the whole years completed from the earlier birthday to the later one
(1990-05-01 and 1991-04-30 are 0 years apart, 1990-05-01 and 1991-05-01 are 1). It never needs "today",
so a plan does not change with the day it is made, and it differs by at most one from the seed's
difference of ages on any day. Cities are compared case-insensitively, ignoring surrounding spaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from contracts.profile import age_on
from datemaker.domain.planning.model import Participant

# bit masks of genders in ``seeking``
_GENDER_BIT = {"F": 1, "M": 2}
_ANYONE = 3


def age_difference(a: Participant, b: Participant) -> int:
    """Whole years from the earlier birthday to the later one."""
    early, late = sorted((a.birthday, b.birthday))
    return age_on(early, late)


def same_city(a: Participant, b: Participant) -> bool:
    """The two live in the same city (case-insensitive)."""
    return normalize_city(a.city) == normalize_city(b.city)


def normalize_city(city: str) -> str:
    return city.strip().casefold()


def pair_score(a: Participant, b: Participant) -> float:
    """The seed's compatibility score of a pair: higher is better, 12 at most."""
    return (
        (4 - age_difference(a, b))
        + (2 if same_city(a, b) else 0)
        + (6 - 2 * abs(float(a.manual_score) - float(b.manual_score)))
    )


def seeks(a: Participant, b: Participant) -> bool:
    """``a`` is open to meeting someone of ``b``'s gender."""
    return a.seeking is None or b.gender in a.seeking


def admits_age(a: Participant, b: Participant, on: date | None) -> bool:
    """``b``'s age on the day ``on`` is within ``a``'s ``age_range`` (always, when ``a`` has none)."""
    if a.age_range is None or on is None:
        return True
    low, high = a.age_range
    return low <= age_on(b.birthday, on) <= high


def compatible(a: Participant, b: Participant, mode: str, on: date | None = None) -> bool:
    """The pair may date (ignoring blocks): mutual ``seeking``, M–F in bipartite mode, and each one's age
    within the other's ``age_range`` on the day ``on``."""
    if a.id == b.id:
        return False
    if mode == "bipartite" and a.gender == b.gender:
        return False
    return seeks(a, b) and seeks(b, a) and admits_age(a, b, on) and admits_age(b, a, on)


@dataclass(frozen=True)
class Population:
    """Participants as arrays (index ``i`` is ``participants[i]``) for vectorised scoring."""

    participants: tuple[Participant, ...]
    ids: np.ndarray  # int64
    male: np.ndarray  # bool
    seek_bits: np.ndarray  # int8: 1 = seeks F, 2 = seeks M
    ordinal: np.ndarray  # birthday as a day number
    year: np.ndarray
    month_day: np.ndarray  # month * 100 + day
    city: np.ndarray  # city code
    manual: np.ndarray  # float
    gender_bit: np.ndarray  # int8: 1 = F, 2 = M
    age: np.ndarray | None = None  # int64: age on the request's day (None: nobody has an age range)
    age_low: np.ndarray | None = None  # int64: the youngest age each one meets
    age_high: np.ndarray | None = None  # int64: the oldest

    @classmethod
    def of(cls, participants: Sequence[Participant], on: date | None = None) -> Population:
        ranged = on is not None and any(p.age_range is not None for p in participants)
        ages: dict[str, np.ndarray | None] = {"age": None, "age_low": None, "age_high": None}
        if ranged:
            assert on is not None
            ages = {
                "age": np.array([age_on(p.birthday, on) for p in participants], dtype=np.int64),
                "age_low": np.array([p.age_range[0] if p.age_range else 0 for p in participants], dtype=np.int64),
                "age_high": np.array([p.age_range[1] if p.age_range else 10_000 for p in participants], dtype=np.int64),
            }
        cities: dict[str, int] = {}
        codes = [cities.setdefault(normalize_city(p.city), len(cities)) for p in participants]
        return cls(
            participants=tuple(participants),
            ids=np.array([p.id for p in participants], dtype=np.int64),
            male=np.array([p.gender == "M" for p in participants], dtype=bool),
            seek_bits=np.array(
                [_ANYONE if p.seeking is None else sum(_GENDER_BIT[g] for g in p.seeking) for p in participants],
                dtype=np.int8,
            ),
            ordinal=np.array([p.birthday.toordinal() for p in participants], dtype=np.int64),
            year=np.array([p.birthday.year for p in participants], dtype=np.int64),
            month_day=np.array([p.birthday.month * 100 + p.birthday.day for p in participants], dtype=np.int64),
            city=np.array(codes, dtype=np.int64),
            manual=np.array([float(p.manual_score) for p in participants], dtype=np.float64),
            gender_bit=np.array([_GENDER_BIT[p.gender] for p in participants], dtype=np.int8),
            **ages,
        )

    def __len__(self) -> int:
        return len(self.participants)

    def score_matrix(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Default scores of every (row, col) pair of population indices."""
        o_r, o_c = self.ordinal[rows][:, None], self.ordinal[cols][None, :]
        y_r, y_c = self.year[rows][:, None], self.year[cols][None, :]
        md_r, md_c = self.month_day[rows][:, None], self.month_day[cols][None, :]
        row_first = o_r <= o_c
        years = np.where(row_first, (y_c - y_r) - (md_c < md_r), (y_r - y_c) - (md_r < md_c))
        city = self.city[rows][:, None] == self.city[cols][None, :]
        manual = np.abs(self.manual[rows][:, None] - self.manual[cols][None, :])
        return (4.0 - years) + 2.0 * city + (6.0 - 2.0 * manual)

    def pair_scores(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Default scores of the pairs ``(a[k], b[k])``."""
        a_first = self.ordinal[a] <= self.ordinal[b]
        early, late = np.where(a_first, a, b), np.where(a_first, b, a)
        years = (self.year[late] - self.year[early]) - (self.month_day[late] < self.month_day[early])
        city = self.city[a] == self.city[b]
        manual = np.abs(self.manual[a] - self.manual[b])
        return (4.0 - years) + 2.0 * city + (6.0 - 2.0 * manual)

    def compatible_matrix(self, rows: np.ndarray, cols: np.ndarray, mode: str) -> np.ndarray:
        """Which (row, col) pairs may date, ignoring blocks (a person is never compatible with themself)."""
        gb = self.gender_bit
        ok = ((self.seek_bits[rows][:, None] & gb[cols][None, :]) != 0) & (
            (self.seek_bits[cols][None, :] & gb[rows][:, None]) != 0
        )
        if mode == "bipartite":
            ok &= self.male[rows][:, None] != self.male[cols][None, :]
        ok &= rows[:, None] != cols[None, :]
        if self.age is not None and self.age_low is not None and self.age_high is not None:
            age_r, age_c = self.age[rows][:, None], self.age[cols][None, :]
            ok &= (self.age_low[rows][:, None] <= age_c) & (age_c <= self.age_high[rows][:, None])
            ok &= (self.age_low[cols][None, :] <= age_r) & (age_r <= self.age_high[cols][None, :])
        return ok
