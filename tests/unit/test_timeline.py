"""The event timeline as a table: transitions, round times, and the due step at chosen moments."""

from datetime import UTC, datetime, timedelta

import pytest

from datemaker.domain.errors import DomainError
from datemaker.domain.events import Event, EventState
from datemaker.domain.timeline import (
    TERMINAL,
    TRANSITIONS,
    Progress,
    Step,
    StepKind,
    check_transition,
    links_at,
    next_step,
    ratings_close_at,
    round_ends_at,
    round_starts_at,
    rounds_ended_by_cancelling,
)

S = EventState
K = StepKind
START = datetime(2026, 12, 31, 19, 0, tzinfo=UTC)
EVENT = Event(
    id=1,
    start=START,
    timezone="Europe/Moscow",
    users_limit=20,
    state=S.NOT_STARTED,
    round_seconds=300,
    break_seconds=60,
    rules_lead_seconds=300,
    confirm_open_seconds=86400,
    confirm_deadline_seconds=3600,
    registered_count=12,
)
sec = timedelta(seconds=1)


def test_the_transition_table():
    assert TRANSITIONS[S.NOT_STARTED] == {S.REG_CONFIRM, S.CANCELLED}
    assert TRANSITIONS[S.REG_CONFIRM] == {S.READY, S.SKIPPED, S.CANCELLED}
    assert TRANSITIONS[S.READY] == {S.RUNNING, S.CANCELLED}
    assert TRANSITIONS[S.RUNNING] == {S.FINISHED, S.CANCELLED}
    assert set(TERMINAL) == {S.FINISHED, S.SKIPPED, S.CANCELLED}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_check_transition_follows_the_table(current, target):
    if target in TRANSITIONS[current]:
        check_transition(1, current, target)
    else:
        with pytest.raises(DomainError, match=f"from {current.name} to {target.name}"):
            check_transition(1, current, target)


def test_round_times():
    assert round_starts_at(EVENT, 0) == START
    assert round_ends_at(EVENT, 0) == START + 300 * sec
    assert round_starts_at(EVENT, 2) == START + 720 * sec
    assert ratings_close_at(EVENT, 3) == START + (720 + 300 + 60) * sec


P = Progress


@pytest.mark.parametrize(
    ("progress", "now", "kind", "due", "round_"),
    [
        # before and during confirmations
        (P(S.NOT_STARTED), START - 48 * 3600 * sec, K.OPEN_CONFIRMATION, START - 86400 * sec, None),
        (P(S.REG_CONFIRM, unasked=2), START - 5 * 3600 * sec, K.ASK_LATE_REGISTRANTS, START - 5 * 3600 * sec, None),
        (P(S.REG_CONFIRM, unanswered=3), START - 5 * 3600 * sec, K.PLAN, START - 3600 * sec, None),
        # everyone answered but seats are left: registration stays open until the deadline
        (P(S.REG_CONFIRM), START - 5 * 3600 * sec, K.PLAN, START - 3600 * sec, None),
        # rules, then rounds
        (P(S.READY, rounds_planned=3), START - 3000 * sec, K.SEND_RULES, START - 300 * sec, None),
        # links go out ahead of their round: 30 s, or less when the break (or rules lead) is shorter
        (P(S.READY, rounds_planned=3, rules_sent=True), START - 100 * sec, K.START_ROUND, START - 30 * sec, 0),
        # a minute before the round ends, a warning; then the end
        (P(S.RUNNING, rounds_planned=3, rules_sent=True, rounds_started=1), START, K.TIME_LEFT, START + 240 * sec, 0),
        (
            P(S.RUNNING, rounds_planned=3, rules_sent=True, rounds_started=1, rounds_warned=1),
            START,
            K.END_ROUND,
            START + 300 * sec,
            0,
        ),
        # dates of a round that began without a link: told at the round's start
        (
            P(S.RUNNING, rounds_planned=3, rules_sent=True, rounds_started=1, late_links=2),
            START - 10 * sec,
            K.TELL_DELAYED,
            START,
            0,
        ),
        (
            P(S.RUNNING, rounds_planned=3, rules_sent=True, rounds_started=1, rounds_ended=1),
            START + 301 * sec,
            K.START_ROUND,
            START + 330 * sec,
            1,
        ),
        # the last round over: the final message once its ratings window closes
        (
            P(S.RUNNING, rounds_planned=3, rules_sent=True, rounds_started=3, rounds_ended=3),
            START + 1021 * sec,
            K.FINISH,
            START + 1080 * sec,
            None,
        ),
        # late links come first and are due at once
        (
            P(S.RUNNING, rounds_planned=3, rounds_started=1, uninvited=2),
            START + 5 * sec,
            K.SEND_LATE_INVITES,
            None,
            None,
        ),
        (
            P(S.RUNNING, rounds_planned=3, rounds_started=2, rounds_ended=1, open_calls=1),
            START + 400 * sec,
            K.END_CALLS,
            None,
            None,
        ),
        (P(S.FINISHED, open_calls=2, finished_at=START), START + 1100 * sec, K.END_CALLS, None, None),
        # results a while after the end; nothing left for terminal states
        (
            P(S.FINISHED, finished_at=START + 1080 * sec),
            START + 1100 * sec,
            K.COLLECT_RESULTS,
            START + 1140 * sec,
            None,
        ),
    ],
)
def test_next_step(progress, now, kind, due, round_):
    step = next_step(EVENT, progress, now)
    assert step is not None
    assert (step.kind, step.due_at, step.round) == (kind, due or now, round_)


def test_no_warning_when_the_event_asks_for_none_or_the_round_is_shorter():
    from dataclasses import replace

    running = P(S.RUNNING, rounds_planned=3, rules_sent=True, rounds_started=1)
    for event in (replace(EVENT, time_left_warning_seconds=0), replace(EVENT, time_left_warning_seconds=300)):
        step = next_step(event, running, START)
        assert step is not None and step.kind == K.END_ROUND


def test_rules_are_skipped_once_the_event_has_started():
    step = next_step(EVENT, P(S.RUNNING, rounds_planned=3, rounds_started=1, rounds_ended=1), START + 301 * sec)
    assert step.kind == K.START_ROUND


def test_rules_before_the_first_round_when_their_lead_is_zero():
    event = Event(**{**EVENT.__dict__, "rules_lead_seconds": 0})
    assert next_step(event, P(S.READY, rounds_planned=2), START).kind == K.SEND_RULES
    assert next_step(event, P(S.READY, rounds_planned=2, rules_sent=True), START).due_at == START


@pytest.mark.parametrize(("round_no", "break_seconds", "lead", "links"), [(0, 60, 30, -30), (1, 60, 30, 330),
                         (1, 10, 30, 300), (2, 0, 30, 600), (1, 60, 0, 360)])  # fmt: skip
def test_links_go_out_ahead_but_never_before_the_previous_round_ends(round_no, break_seconds, lead, links):
    event = Event(**{**EVENT.__dict__, "break_seconds": break_seconds})
    at = links_at(event, round_no, timedelta(seconds=lead))
    assert at == START + links * sec
    if round_no:
        assert at >= round_ends_at(event, round_no - 1)


def test_a_full_event_whose_people_all_answered_is_planned_at_once():
    full = Event(**{**EVENT.__dict__, "registered_count": 20})
    now = START - 5 * 3600 * sec
    assert next_step(full, P(S.REG_CONFIRM), now).due_at == now
    assert next_step(full, P(S.REG_CONFIRM, unanswered=1), now).due_at == START - 3600 * sec


@pytest.mark.parametrize("state", [S.SKIPPED, S.CANCELLED])
def test_nothing_after_a_terminal_state(state):
    assert next_step(EVENT, P(state), START) is None
    assert next_step(EVENT, P(S.FINISHED, results_collected=True), START) is None


@pytest.mark.parametrize(
    "progress",
    [
        P(S.RUNNING, rounds_planned=3, rules_sent=True, rounds_started=2, rounds_ended=1, rounds_warned=1),
        P(S.RUNNING, rounds_planned=3, rules_sent=True, rounds_started=2, rounds_ended=2),  # links of 2 out
        P(S.READY, rounds_planned=3, rules_sent=True),
    ],
)
def test_cancelling_a_planned_event_ends_its_started_rounds_and_then_only_their_calls_are_ended(progress):
    """Cancelled mid-round: the round in progress (or whose links are out) ends with it; its calls still on are
    ended at once, retried while some stay open, and nothing else ever comes (no links, warnings, ratings)."""
    ended = rounds_ended_by_cancelling(progress)
    assert ended == progress.rounds_started >= progress.rounds_ended
    cancelled = P(**{**progress.__dict__, "state": S.CANCELLED, "rounds_ended": ended})
    for now in (START - 60 * sec, START + 400 * sec, START + 3600 * sec):
        with_calls = P(**{**cancelled.__dict__, "open_calls": 2, "uninvited": 1, "late_links": 1})
        assert next_step(EVENT, with_calls, now) == Step(K.END_CALLS, now)
        assert next_step(EVENT, cancelled, now) is None, "once the calls are ended"


def test_a_late_process_catches_up_step_by_step():
    """Whatever the time, next_step names one step at a time, never skipping a round."""
    progress = P(S.RUNNING, rounds_planned=3, rules_sent=True, rounds_started=1)
    step = next_step(EVENT, progress, START + 3600 * sec)  # an hour late
    assert (step.kind, step.round) == (K.TIME_LEFT, 0) and step.due_at < START + 3600 * sec  # (sends nothing now)
    step = next_step(EVENT, P(**{**progress.__dict__, "rounds_warned": 1}), START + 3600 * sec)
    assert (step.kind, step.round) == (K.END_ROUND, 0) and step.due_at < START + 3600 * sec
