"""The pairing planner: confirmed participants in, groups and per-round pairs out (docs/protocol.md section 7).

Pure Python: no I/O and no clock. ``plan_event(PlanRequest(...))`` returns a ``Plan``; bad input raises
``PlanningError`` (a ``DomainError`` with code ``bad_request``). ``PlanRequest.from_json`` and
``Plan.to_json`` convert from and to the CLI's JSON. ``plan_groups`` schedules groups chosen by the caller.

What a plan promises:

- A pair may date when both ``seeking`` sets admit the other's gender (absent = anyone) and, in
  ``bipartite`` mode, they are M and F. ``blocked`` pairs never meet; nobody meets anyone twice.
- Groups hold at most ``group_size`` people; each side (gender) is shared evenly over the groups, and
  groups are cut so that their members are alike in birthday, city and manual score (see ``grouping``).
  In open mode, people who seek only their own gender get groups of their own.
- Rounds are numbered from 0, at most ``max_rounds``, the same time slots for every group. Each round is
  an optimal assignment ranking, in order: most dates; fairness (who sat out more, then who sat out last
  round, dates first); fewest ``met_before`` pairs; most score. So the smaller side has a date every
  round, the larger side takes turns sitting out, and where everybody in a group may meet everybody on
  the other side, dates per person on a side differ by at most one and nobody sits out twice running
  while a side-mate has not sat out yet. A ``met_before`` pair meets only when no fresh partner is free
  without breaking that rotation.
- Score of a pair: the seed's ``(4 - years apart) + (2 if same city) + (6 - 2 * |manual score difference|)``,
  where "years apart" is clock-free: whole years from the earlier birthday to the later one.
- ``members`` of a group are the people with at least one date there; everyone else is in ``unseated``
  with a reason: ``no compatible partner`` (nobody in the event may date them),
  ``no compatible partner: every compatible partner is blocked``, or
  ``no free partner within group_size and max_rounds`` (partners exist, but the other side is too small).
- The same request and ``seed`` give the same plan, whatever the order of the participants.
- ``stats``: participants, seated, unseated, groups, rounds, dates, score, mean_score,
  dates_per_person (min/mean/max over the seated), sit_outs (person-rounds sat out), met_before_dates.
"""

from datemaker.domain.planning.model import (
    GENDERS,
    MODES,
    Group,
    Participant,
    Plan,
    PlanningError,
    PlanRequest,
    Round,
    Unseated,
)
from datemaker.domain.planning.planner import plan_event, plan_groups
from datemaker.domain.planning.scoring import age_difference, compatible, pair_score

__all__ = [
    "GENDERS",
    "MODES",
    "Group",
    "Participant",
    "Plan",
    "PlanRequest",
    "PlanningError",
    "Round",
    "Unseated",
    "age_difference",
    "compatible",
    "pair_score",
    "plan_event",
    "plan_groups",
]
