"""An event's timeline as a pure state machine: which transitions exist, when rounds run, and which
step is due next. Time is always an argument."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from contracts.errors import ErrorCode
from datemaker.domain.errors import DomainError
from datemaker.domain.event_settings import EventSettings
from datemaker.domain.events import Event, EventState

S = EventState
TRANSITIONS: dict[EventState, frozenset[EventState]] = {
    S.NOT_STARTED: frozenset({S.REG_CONFIRM, S.CANCELLED}),
    S.REG_CONFIRM: frozenset({S.READY, S.SKIPPED, S.CANCELLED}),
    S.READY: frozenset({S.RUNNING, S.CANCELLED}),
    S.RUNNING: frozenset({S.FINISHED, S.CANCELLED}),
    S.FINISHED: frozenset(),
    S.SKIPPED: frozenset(),
    S.CANCELLED: frozenset(),
}
"""Every allowed state change; anything else is a bug or a stale decision."""

TERMINAL = frozenset(state for state, targets in TRANSITIONS.items() if not targets)


class InvalidTransition(DomainError):
    def __init__(self, event_id: int, current: EventState, target: EventState) -> None:
        super().__init__(ErrorCode.BAD_REQUEST, f"event {event_id} cannot go from {current.name} to {target.name}")


def check_transition(event_id: int, current: EventState, target: EventState) -> None:
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(event_id, current, target)


class StepKind(StrEnum):
    OPEN_CONFIRMATION = "open_confirmation"
    """NOT_STARTED → REG_CONFIRM: ask every seated registrant to confirm."""
    ASK_LATE_REGISTRANTS = "ask_late_registrants"
    """Ask registrants who got a seat after confirmations opened (late, or promoted from the waitlist)."""
    PLAN = "plan"
    """REG_CONFIRM → READY (or SKIPPED): groups and rounds from the confirmed; tell everyone."""
    SEND_RULES = "send_rules"
    START_ROUND = "start_round"
    """Meeting links to each pair of the round, ahead of its start so they arrive in time (READY →
    RUNNING for the first); sit-outs told; a table may take over its space of the round before."""
    SEND_LATE_INVITES = "send_late_invites"
    """Links of a started round whose Meet space was ready only after the round's links went out."""
    TELL_DELAYED = "tell_delayed"
    """The round has begun and some dates still have no link: both people are told it is on its way."""
    TIME_LEFT = "time_left"
    """A warning to each person in a date, ``time_left_warning_seconds`` before the round ends."""
    END_ROUND = "end_round"
    """Calls ended; breaks and rating requests."""
    END_CALLS = "end_calls"
    """Calls of ended rounds still open (the Meet API failed, or the process stopped, at END_ROUND), and the
    calls of an event cancelled while they were on (its started rounds end with the cancellation)."""
    FINISH = "finish"
    """RUNNING → FINISHED: the final message and mutual matches."""
    COLLECT_RESULTS = "collect_results"
    """Who joined which call, from the Meet API's conference records."""


@dataclass(frozen=True)
class Progress:
    """Where an event is on its timeline, as recorded in the database."""

    state: EventState
    unasked: int = 0
    """Seated registrants not yet asked to confirm."""
    unanswered: int = 0
    """Seated registrants asked and not yet answered."""
    rules_sent: bool = False
    rounds_planned: int = 0
    rounds_started: int = 0
    rounds_ended: int = 0
    uninvited: int = 0
    """Dates of started rounds whose space is ready but whose people were not invited yet."""
    late_links: int = 0
    """Dates of the round in progress with no link sent yet, whose people were not told it is late."""
    rounds_warned: int = 0
    """Rounds whose time-left warning went out (or was skipped)."""
    open_calls: int = 0
    """Dates of ended rounds whose call was not ended yet (of a cancelled event: every started round's)."""
    finished_at: datetime | None = None
    results_collected: bool = False


@dataclass(frozen=True)
class Step:
    kind: StepKind
    due_at: datetime
    round: int | None = None
    """0-based round number, for round steps."""


RESULTS_DELAY = timedelta(seconds=60)
"""How long after the end to read conference records (the Meet API fills them in shortly after)."""
LINK_LEAD = timedelta(seconds=30)
"""How long before its round a link goes out: delivering 1,000 links at Telegram's ~30 messages per
second takes about half a minute."""


@dataclass(frozen=True)
class Pacing:
    """Timing choices of the service (not of the event)."""

    link_lead: timedelta = LINK_LEAD
    results_delay: timedelta = RESULTS_DELAY


def round_starts_at(event: EventSettings, round_no: int) -> datetime:
    return event.start + timedelta(seconds=round_no * (event.round_seconds + event.break_seconds))


def round_ends_at(event: EventSettings, round_no: int) -> datetime:
    return round_starts_at(event, round_no) + timedelta(seconds=event.round_seconds)


def links_at(event: EventSettings, round_no: int, lead: timedelta = LINK_LEAD) -> datetime:
    """When a round's links go out: ``lead`` before it starts, but not before the previous round has
    ended (the break) nor, for the first round, before the rules (the rules' lead)."""
    room = event.break_seconds if round_no > 0 else event.rules_lead_seconds
    return round_starts_at(event, round_no) - min(lead, timedelta(seconds=room))


def ratings_close_at(event: EventSettings, rounds: int) -> datetime:
    """The last round's break is the time to rate the last partner; then the event finishes."""
    return round_ends_at(event, rounds - 1) + timedelta(seconds=event.break_seconds)


def time_left_at(event: EventSettings, round_no: int) -> datetime | None:
    """When a round's time-left warning goes out; None when the event sends none (or the round is shorter)."""
    warning = event.time_left_warning_seconds
    if warning <= 0 or warning >= event.round_seconds:
        return None
    return round_ends_at(event, round_no) - timedelta(seconds=warning)


def _next_on_the_timeline(event: Event, progress: Progress, pacing: Pacing) -> Step:
    """READY or RUNNING: the next rules, round start, warning, round end or finish, whatever the time."""
    if progress.rounds_ended < progress.rounds_started:
        round_no = progress.rounds_ended
        warn_at = time_left_at(event, round_no)
        if warn_at is not None and progress.rounds_warned <= round_no:
            return Step(StepKind.TIME_LEFT, warn_at, round_no)
        return Step(StepKind.END_ROUND, round_ends_at(event, round_no), round_no)
    if progress.rounds_started < progress.rounds_planned:
        round_no = progress.rounds_started
        start = Step(StepKind.START_ROUND, links_at(event, round_no, pacing.link_lead), round_no)
        if not progress.rules_sent and round_no == 0:
            rules = Step(StepKind.SEND_RULES, event.start - timedelta(seconds=event.rules_lead_seconds))
            return rules if rules.due_at <= start.due_at else start
        return start
    return Step(StepKind.FINISH, ratings_close_at(event, max(progress.rounds_planned, 1)))


def rounds_ended_by_cancelling(progress: Progress) -> int:
    """How many rounds have ended once the event is cancelled: every round started, the one in progress (or
    whose links are out) cut short, so that its calls are ended and its spaces freed like any ended round's."""
    return progress.rounds_started


def next_step(event: Event, progress: Progress, now: datetime, pacing: Pacing | None = None) -> Step | None:
    """The next thing to do for ``event`` and when; None when nothing is left to do.

    A step whose time has come is due at or before ``now``; a step that repairs something left
    unfinished (late invitations, open calls, unasked registrants) is due at once.
    """
    pacing = pacing or Pacing()
    state = progress.state
    if state == S.NOT_STARTED:
        return Step(StepKind.OPEN_CONFIRMATION, event.confirm_opens_at)
    if state == S.REG_CONFIRM:
        if progress.unasked:
            return Step(StepKind.ASK_LATE_REGISTRANTS, now)
        plan_at = event.confirm_deadline
        if progress.unanswered == 0 and event.spots_left == 0 and event.registered_count > 0 and not event.held_seats:
            plan_at = min(plan_at, now)  # everyone answered and nobody else can register (no offer pending)
        return Step(StepKind.PLAN, plan_at)
    if state in (S.READY, S.RUNNING):
        if progress.uninvited:  # people are waiting for their link
            return Step(StepKind.SEND_LATE_INVITES, now)
        main = _next_on_the_timeline(event, progress, pacing)
        if progress.late_links and progress.rounds_ended < progress.rounds_started:
            round_no = progress.rounds_started - 1
            started = round_starts_at(event, round_no)
            if started <= main.due_at:  # nobody waits for a link without being told
                main = Step(StepKind.TELL_DELAYED, started, round_no)
        if progress.open_calls and main.due_at > now:  # tidying up never delays the timeline
            return Step(StepKind.END_CALLS, now)
        return main
    if state in (S.FINISHED, S.CANCELLED) and progress.open_calls:  # its spaces go back to the pool
        return Step(StepKind.END_CALLS, now)
    if state == S.FINISHED and not progress.results_collected:
        finished = progress.finished_at or now
        return Step(StepKind.COLLECT_RESULTS, finished + pacing.results_delay)
    return None
