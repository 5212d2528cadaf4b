"""Rescue when a partner never joins (pure): who is stranded, whom they may meet for the rest of the round, and
the no-show rule.

A stranded person is in their date's call while their partner is not, a quarter of the round in (or when they
say so with ``partner_absent``), or later in the round's rescue window (until three quarters in) when neither of the
two was there at the first check. Two stranded people are re-paired when they are compatible (as the planner
decides: gender, ``seeking``, age ranges), have not met before (tonight or at an earlier event) and neither has
reported the other; nobody gets a second rescue date in a round.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from datemaker.domain.events import Event
from datemaker.domain.planning import Participant, compatible
from datemaker.domain.planning.model import sorted_pair
from datemaker.domain.timeline import round_ends_at, round_starts_at

RECONFIRM_AFTER = 2
"""No-shows in a row after which a person is asked to confirm again for their next events."""


def rescue_window(event: Event, round_no: int) -> tuple[datetime, datetime]:
    """When datemaker looks for people alone in their call: from a quarter of the round in (the first check) until
    three quarters in (later passes; after that too little of the round is left for a rescue date)."""
    starts = round_starts_at(event, round_no)
    return (
        starts + timedelta(seconds=event.round_seconds / 4),
        starts + timedelta(seconds=event.round_seconds * 3 / 4),
    )


def rescue_due_at(event: Event, round_no: int) -> datetime:
    """When datemaker first looks for people alone in their call: a quarter of the round in."""
    return rescue_window(event, round_no)[0]


@dataclass(frozen=True)
class RescuePass:
    """A look at a running round's calls: ``number`` counts the watch's periods since the window opened (each
    number is made once, by whichever instance claims it); the ``first`` one counts the round's no-shows."""

    number: int
    first: bool


def rescue_pass(
    event: Event, round_no: int, rounds_checked: int, last_pass: int, now: datetime, every: float
) -> RescuePass | None:
    """The pass over round ``round_no`` due ``now``, None when none is: ``rounds_checked`` rounds have had their first
    check, the last checked round's latest pass was number ``last_pass``, and the watch comes every ``every`` seconds.

    The first check is made once the window opens, at any time while the round runs (its no-shows are counted
    whenever it comes); later passes, one per period, until the window closes.
    """
    opens, closes = rescue_window(event, round_no)
    if not round_running(event, round_no, now) or now < opens:
        return None
    number = int((now - opens).total_seconds() // every) if every > 0 else 0
    if round_no >= rounds_checked:
        return RescuePass(number, first=True)
    if round_no != rounds_checked - 1 or now >= closes or number <= last_pass:
        return None
    return RescuePass(number, first=False)


def round_running(event: Event, round_no: int, now: datetime) -> bool:
    return round_starts_at(event, round_no) <= now < round_ends_at(event, round_no)


def absent_from(people: tuple[int, int], in_call: set[int]) -> int | None:
    """The one of a date's two people missing from its call while the other is there; None otherwise (both
    there, or neither: nobody is stranded)."""
    present = [u for u in people if u in in_call]
    if len(present) != 1:
        return None
    return people[1] if present[0] == people[0] else people[0]


def looked_again(first: bool, empty_at_check: bool) -> bool:
    """Whether a pass looks at a date still standing: the first check looks at every one; a later pass only at a
    date neither of whose people was in the call at the first check (one who came and later left is not absent,
    and each date's no-shows were counted by the first check)."""
    return first or empty_at_check


def no_shows(people: tuple[int, int], in_call: set[int]) -> list[int]:
    """A date's people missing from its call: each one's no-show counts, whether the other came or not."""
    return [u for u in people if u not in in_call]


def rescue_pairs(
    stranded: Sequence[Participant],
    met: Iterable[tuple[int, int]],
    blocked: Iterable[tuple[int, int]],
    mode: str,
    on: date | None = None,
) -> tuple[list[tuple[int, int]], list[int]]:
    """New pairs among the stranded (smaller id first) and who is left without one.

    Greedy on the most constrained: the person with the fewest possible partners picks first, and takes the
    possible partner who has the fewest options themself; ties go to the smaller id, so the answer is the same
    for the same input.
    """
    excluded = {sorted_pair(a, b) for a, b in met} | {sorted_pair(a, b) for a, b in blocked}
    people = {p.id: p for p in stranded}
    options = {
        p.id: {
            q.id
            for q in stranded
            if q.id != p.id and sorted_pair(p.id, q.id) not in excluded and compatible(p, q, mode, on)
        }
        for p in stranded
    }
    pairs: list[tuple[int, int]] = []
    free = set(people)
    while True:
        choosers = sorted((len(options[u] & free), u) for u in free if options[u] & free)
        if not choosers:
            break
        _, chooser = choosers[0]
        partner = min(options[chooser] & free, key=lambda u: (len(options[u] & free), u))
        pairs.append(sorted_pair(chooser, partner))
        free -= {chooser, partner}
    return sorted(pairs), sorted(free)


def no_show_streak(streak: int, came: bool) -> int:
    """Dates missed in a row after one more date: reset by coming, one more by not."""
    return 0 if came else streak + 1


def streaks_after(streaks: Mapping[int, int], came: Iterable[int], missed: Iterable[int]) -> dict[int, int]:
    """The no-show streaks (user → dates missed in a row) of the people of ``streaks`` after one more date each:
    those who ``came`` and those who ``missed`` it (anyone else is left out)."""
    after = {u: no_show_streak(streaks[u], True) for u in came if u in streaks}
    after.update({u: no_show_streak(streaks[u], False) for u in missed if u in streaks})
    return after


def must_reconfirm(streak: int) -> bool:
    """After ``RECONFIRM_AFTER`` no-shows in a row, the person confirms again for their next events."""
    return streak >= RECONFIRM_AFTER
