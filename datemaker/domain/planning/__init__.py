"""The pairing planner: confirmed participants in, groups and per-round pairs out (PROTOCOL.md section 7).

Pure Python: no I/O and no clock. ``plan_event(PlanRequest(...))`` returns a ``Plan``; bad input raises
``PlanningError`` (a ``DomainError`` with code ``bad_request``). ``PlanRequest.from_json`` and ``Plan.to_json``
convert from and to the CLI's JSON.
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
