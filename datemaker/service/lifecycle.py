"""The event runner: carries out each due step of an event's timeline.

Each step runs in one transaction that holds the event's row lock, decides with the pure timeline and
notices, and records its progress together with the messages it sends (an outbox), so a step is done
once, entirely or not at all, whichever process runs it and whenever it is interrupted. Work with the
Meet API happens outside those transactions: spaces come from the pool (``space_pool``), and calls are
ended after the round's end is recorded (calls left open are ended by a later step). Under the ``reuse``
and ``auto`` policies a round's date may take over its table's space of the round before: its link goes
out once that call is ended; a date whose link is not out when its round begins is told so at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from contracts.errors import ErrorCode
from datemaker.domain import notices
from datemaker.domain.errors import DomainError
from datemaker.domain.events import Event, EventState
from datemaker.domain.planning import Participant, PlanRequest, pair_score, plan_event
from datemaker.domain.profiles import UserProfile
from datemaker.domain.spaces import SpacePolicy
from datemaker.domain.timeline import (
    Pacing,
    Progress,
    Step,
    StepKind,
    check_transition,
    next_step,
    round_ends_at,
    rounds_ended_by_cancelling,
)
from datemaker.service.ports import CallToEnd, Clock, LifecycleDatabase, LifecycleStore, Meet, MeetError

logger = logging.getLogger(__name__)

RESULTS_GIVE_UP = timedelta(days=1)
"""Conference records are kept 30 days; after a day of failures the results are given up."""
RETRY_MEET = timedelta(seconds=15)
DEFAULT_PACING = Pacing()
_MEET_STEPS = frozenset({StepKind.END_CALLS, StepKind.COLLECT_RESULTS})


class LifecycleMetrics(Protocol):
    def step_done(self, kind: str, lateness: float) -> None: ...

    def messages_queued(self, count: int) -> None: ...

    def funnel(self, outcome: str, stages: Mapping[str, int]) -> None:
        """An event is over: how many of its people reached each stage."""
        ...

    def dates_reusing(self, count: int) -> None:
        """Dates took over their table's space."""
        ...

    def links_delayed(self, count: int) -> None:
        """Dates had no link when their round began."""
        ...


class NoLifecycleMetrics:
    def step_done(self, kind: str, lateness: float) -> None:
        pass

    def messages_queued(self, count: int) -> None:
        pass

    def funnel(self, outcome: str, stages: Mapping[str, int]) -> None:
        pass

    def dates_reusing(self, count: int) -> None:
        pass

    def links_delayed(self, count: int) -> None:
        pass


@dataclass(frozen=True)
class StepReport:
    """What happened in one call of :meth:`EventRunner.run_due`."""

    steps: list[Step]
    next: Step | None
    """The next step and when it is due (None when the event is over)."""


def participant(profile: UserProfile) -> Participant:
    return Participant(
        id=profile.user_id,
        gender=profile.gender,
        birthday=profile.birthday,
        city=profile.city,
        manual_score=profile.manual_score,
        rating=profile.rating,
        seeking=frozenset(profile.seeking) if profile.seeking else None,
        age_range=profile.partner_ages,
    )


class EventRunner:
    """Runs the due steps of events, one event at a time per call."""

    def __init__(
        self,
        database: LifecycleDatabase,
        meet: Meet,
        clock: Clock,
        *,
        on_messages: Callable[[], None] = lambda: None,
        on_ready: Callable[[int], None] = lambda event_id: None,
        metrics: LifecycleMetrics | None = None,
        group_size_cap: int | None = None,
        pacing: Pacing = DEFAULT_PACING,
        policy: SpacePolicy = SpacePolicy.AUTO,
    ) -> None:
        self._db = database
        self._meet = meet
        self._clock = clock
        self._on_messages = on_messages
        self._on_ready = on_ready
        """Called with an event id when some of its dates may have become ready for their link (calls ended)."""
        self.policy = policy
        self._metrics = metrics or NoLifecycleMetrics()
        self._group_size_cap = group_size_cap
        self._pacing = pacing
        self._ending: dict[int, set[int]] = {}
        """Event id → dates whose call this runner is ending right now."""
        self._closing: Counter[int] = Counter()
        """Event id → call-ending tasks of this runner in progress."""
        self._background: set[asyncio.Task[None]] = set()

    def next_step(self, event: Event, progress: Progress, now: datetime) -> Step | None:
        """The event's next step under this runner's settings."""
        return next_step(event, progress, now, self._pacing)

    async def run_due(self, event_id: int) -> StepReport:
        """Carry out every step of the event that is due now; report them and the next one.

        Calls of rounds that ended are closed once the due timeline steps are done (in the background),
        so that a round's end never delays the next round's links.
        """
        closing: list[int] = []
        try:
            return await self._run_due(event_id, closing)
        finally:
            for up_to_round in closing:
                self._close_calls_in_background(event_id, up_to_round)

    async def _run_due(self, event_id: int, closing: list[int]) -> StepReport:
        done: list[Step] = []
        tidied = False
        while True:
            now = self._clock()
            async with self._db.transaction() as store:
                snapshot = await store.lock_event(event_id)
                if snapshot is None:
                    return StepReport(done, None)
                event, progress = snapshot
                if progress.state == EventState.SKIPPED and done and done[-1].kind == StepKind.PLAN:
                    self._metrics.funnel("skipped", await self._db.funnel(event_id))
                if self._closing[event_id] or closing:  # calls about to be ended are not left open
                    progress = replace(progress, open_calls=0)
                step = self.next_step(event, progress, now)
                if step is None or step.due_at > now:
                    return StepReport(done, step)
                if step.kind in _MEET_STEPS:
                    if tidied:  # Meet work once per run: a failing Meet API must not hold the loop
                        return StepReport(done, self._after_meet_work(event, progress, now))
                else:
                    self._metrics.messages_queued(await self._perform(store, event, progress, step, now))
            if step.kind == StepKind.END_CALLS:
                tidied = True
                await self._end_calls(event_id, progress.rounds_ended)
            elif step.kind == StepKind.COLLECT_RESULTS:
                tidied = True
                await self._collect_results(event, progress, now)
            else:
                self._on_messages()
                if step.kind == StepKind.END_ROUND:
                    closing.append(progress.rounds_ended + 1)
            self._metrics.step_done(step.kind.value, (self._clock() - step.due_at).total_seconds())
            logger.info("event %d: %s%s", event_id, step.kind.value, "" if step.round is None else f" {step.round + 1}")
            done.append(step)

    def _after_meet_work(self, event: Event, progress: Progress, now: datetime) -> Step | None:
        """The next step once this run's Meet work is done: the timeline's, or the Meet work again later."""
        retry = Step(StepKind.END_CALLS, now + RETRY_MEET)
        if progress.state == EventState.FINISHED:
            return retry if progress.open_calls else Step(StepKind.COLLECT_RESULTS, now + RETRY_MEET)
        following = self.next_step(event, replace(progress, open_calls=0), now)
        return following if following is not None and following.due_at <= retry.due_at else retry

    async def _perform(self, store: LifecycleStore, event: Event, progress: Progress, step: Step, now: datetime) -> int:
        kind = step.kind
        if kind in (StepKind.OPEN_CONFIRMATION, StepKind.ASK_LATE_REGISTRANTS):
            if kind == StepKind.OPEN_CONFIRMATION:
                check_transition(event.id, progress.state, EventState.REG_CONFIRM)
                await store.set_state(event.id, EventState.REG_CONFIRM, now)
            people = await store.unasked_registrants(event.id)
            await store.mark_asked(event.id, [p.user_id for p, _ in people], now)
            return await store.enqueue(notices.confirmation_requests(event, people))
        if kind == StepKind.PLAN:
            return await self._plan(store, event, progress, now)
        if kind == StepKind.SEND_RULES:
            await store.mark_rules_sent(event.id, now)
            return await store.enqueue(
                notices.rules(event, progress.rounds_planned, await store.seated_profiles(event.id))
            )
        if kind == StepKind.START_ROUND:
            assert step.round is not None
            if progress.state == EventState.READY:
                check_transition(event.id, progress.state, EventState.RUNNING)
                await store.set_state(event.id, EventState.RUNNING, now)
            await store.mark_round_started(event.id, step.round + 1)
            await self._give_spaces(store, event, step.round)
            return await self._invite(store, event, step.round, now, with_sit_outs=True)
        if kind == StepKind.SEND_LATE_INVITES:
            return await self._invite(store, event, progress.rounds_started - 1, now, with_sit_outs=False)
        if kind == StepKind.TELL_DELAYED:
            assert step.round is not None
            plan = await store.round_plan(event.id, step.round)
            late = [d for d in plan.dates if not d.invited and not d.delayed]
            people = await store.profiles({u for d in late for u in d.people})
            await store.mark_delayed([d.date_id for d in late], now)
            self._metrics.links_delayed(len(late))
            return await store.enqueue(notices.link_delayed(event, step.round, late, people, now.date()))
        if kind == StepKind.TIME_LEFT:
            assert step.round is not None
            await store.mark_warned(event.id, step.round + 1)
            seconds_left = round((round_ends_at(event, step.round) - now).total_seconds())
            if seconds_left <= 0:  # too late to warn anyone
                return 0
            plan = await store.round_plan(event.id, step.round)
            invited = [d for d in plan.dates if d.invited]
            people = await store.profiles({u for d in invited for u in d.people})
            return await store.enqueue(notices.time_left(event, step.round, invited, people, seconds_left))
        if kind == StepKind.END_ROUND:
            assert step.round is not None
            await store.mark_round_ended(event.id, step.round + 1)
            await store.release_unused_spaces(event.id, before_round=step.round + 1)
            plan = await store.round_plan(event.id, step.round)
            people = await store.profiles({u for d in plan.dates for u in d.people})
            return await store.enqueue(
                notices.round_end(event, step.round, plan.dates, plan.rounds_of, people, now.date())
            )
        if kind == StepKind.FINISH:
            return await self._finish(store, event, progress, now)
        raise AssertionError(f"unexpected step {kind}")

    async def _plan(self, store: LifecycleStore, event: Event, progress: Progress, now: datetime) -> int:
        """Groups and rounds from the confirmed; READY, or SKIPPED when nobody can have a date."""
        data = await store.planning_input(event.id)
        people = {p.user_id: p for p in data.confirmed}
        people.update(await store.profiles(data.not_confirmed))
        plan = None
        if len(data.confirmed) >= 2:
            group_size = min(event.group_size, self._group_size_cap or event.group_size)
            request = PlanRequest(
                participants=[participant(p) for p in data.confirmed],
                blocked=data.blocked,
                met_before=data.met_before,
                group_size=group_size,
                max_rounds=event.max_rounds,
                mode=event.mode,
                seed=event.id,
                on=event.local(event.start).date(),
            )
            plan = plan_event(request)
        dates_of: dict[int, int] = {}
        if plan is not None:
            for group in plan.groups:
                for round_ in group.rounds:
                    for a, b in round_.pairs:
                        dates_of[a] = dates_of.get(a, 0) + 1
                        dates_of[b] = dates_of.get(b, 0) + 1
        left_out = dict(data.not_confirmed)
        if not dates_of:
            left_out.update({p.user_id: "not_enough_participants" for p in data.confirmed})
            check_transition(event.id, progress.state, EventState.SKIPPED)
            await store.set_state(event.id, EventState.SKIPPED, now, reason="not enough confirmed participants")
            return await store.enqueue(notices.plan_outcome(event, {}, left_out, people))
        assert plan is not None
        left_out.update({u.id: u.reason.replace(" ", "_") for u in plan.unseated})
        by_id = {p.user_id: participant(p) for p in data.confirmed}
        scores = {
            (a, b): pair_score(by_id[a], by_id[b])
            for group in plan.groups
            for round_ in group.rounds
            for a, b in round_.pairs
        }
        check_transition(event.id, progress.state, EventState.READY)
        await store.save_plan(event.id, plan, scores, now)
        return await store.enqueue(notices.plan_outcome(event, dates_of, left_out, people))

    async def _give_spaces(self, store: LifecycleStore, event: Event, round_no: int) -> None:
        """Round ``round_no`` begins: its dates without a space take one. Under ``reuse`` a table first keeps
        its space of the round before; then free spaces the pool has not handed out yet; under ``auto`` a date
        still without one keeps its table's (its link goes out once that call is ended)."""
        if round_no > 0 and self.policy is SpacePolicy.REUSE:
            self._metrics.dates_reusing(await store.take_over_table_spaces(event.id, round_no))
        await store.claim_free_spaces(event.id, round_no)
        if round_no > 0 and self.policy is SpacePolicy.AUTO:
            self._metrics.dates_reusing(await store.take_over_table_spaces(event.id, round_no))

    async def _invite(
        self, store: LifecycleStore, event: Event, round_no: int, now: datetime, with_sit_outs: bool
    ) -> int:
        plan = await store.round_plan(event.id, round_no)
        ready = [d for d in plan.dates if d.ready]
        sitting_out = plan.sitting_out if with_sit_outs else []
        people = await store.profiles({u for d in ready for u in d.people} | set(sitting_out))
        await store.mark_invited([d.date_id for d in ready], now)
        if not self.policy.recycles:  # fresh: a space serves one date, ever
            await store.retire_spaces([d.date_id for d in ready], now)
        return await store.enqueue(
            notices.round_start(event, round_no, ready, sitting_out, plan.rounds_of, people, now.date())
        )

    async def _finish(self, store: LifecycleStore, event: Event, progress: Progress, now: datetime) -> int:
        dates_of = await store.dates_per_person(event.id)
        matches = await store.mutual_matches(event.id)
        people = await store.profiles(set(dates_of) | {m for ms in matches.values() for m in ms})
        # Whoever erased their data meanwhile is told nothing and is nobody's contact.
        dates_of = {user: dates for user, dates in dates_of.items() if user in people}
        matches_of = {user: [people[m] for m in partners if m in people] for user, partners in matches.items()}
        check_transition(event.id, progress.state, EventState.FINISHED)
        await store.set_state(event.id, EventState.FINISHED, now)
        await store.release_unused_spaces(event.id)
        return await store.enqueue(notices.finale(event, dates_of, matches_of, people))

    # --- Meet work, outside transactions --------------------------------------------------------

    async def _end_calls(self, event_id: int, up_to_round: int) -> None:
        ending = self._ending.setdefault(event_id, set())
        calls = [c for c in await self._db.calls_to_end(event_id, up_to_round) if c.date_id not in ending]
        ending.update(c.date_id for c in calls)
        limit = asyncio.Semaphore(20)

        async def end(call: CallToEnd) -> int | None:
            async with limit:
                try:
                    await self._meet.end_active_conference(call.space_name, call.account)
                except MeetError as exc:
                    logger.warning("event %d: call in %s not ended yet: %s", event_id, call.space_name, exc)
                    return None
                return call.date_id

        try:
            ended = [d for d in await asyncio.gather(*(end(call) for call in calls)) if d is not None]
            await self._db.mark_calls_ended(ended, self._clock())
        finally:
            ending.difference_update(c.date_id for c in calls)
        if ended:
            self._on_ready(event_id)  # a date that took over one of these spaces may have its link now

    def _close_calls_in_background(self, event_id: int, up_to_round: int) -> None:
        self._closing[event_id] += 1  # before the task runs: the loop must not try the same calls meanwhile

        async def close() -> None:
            try:
                await self._end_calls(event_id, up_to_round)
            finally:
                self._closing[event_id] -= 1

        task = asyncio.create_task(close())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for background Meet work (ending calls) to finish."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _collect_results(self, event: Event, progress: Progress, now: datetime) -> None:
        spaces = await self._db.spaces_of(event.id)
        attendance = {}
        try:
            for call in spaces:  # a space that served several dates holds a conference for each
                attendance[call.date_id] = await self._meet.attendance(
                    call.space_name, call.account, call.since, call.until
                )
        except MeetError as exc:
            finished = progress.finished_at or now
            if now - finished < RESULTS_GIVE_UP:
                logger.warning("event %d: attendance not read yet: %s", event.id, exc)
                return
            logger.error("event %d: giving up on attendance after a day: %s", event.id, exc)
        await self._db.save_attendance(event.id, attendance, now)
        self._metrics.funnel("finished", await self._db.funnel(event.id))


async def cancel_event(database: LifecycleDatabase, event_id: int, now: datetime, reason: str | None = None) -> int:
    """An organizer cancels an event: CANCELLED, and every active registrant is told (via the outbox).

    Nothing more is sent for it, nor what was queued for it and not sent yet. Spaces its dates hold without having
    been invited go back to the pool at once; a READY or RUNNING event's started rounds end here, so the runner's
    END_CALLS step ends the calls still on (retrying those the Meet API fails to end) and their spaces go back to
    the pool too.

    Returns how many people were told; raises ``InvalidTransition`` for an event that is over, and
    ``DomainError(event_not_found)`` for an unknown one.
    """
    async with database.transaction() as store:
        return await cancel_in(store, event_id, now, reason)


async def cancel_in(store: LifecycleStore, event_id: int, now: datetime, reason: str | None = None) -> int:
    """:func:`cancel_event` inside the caller's transaction."""
    snapshot = await store.lock_event(event_id)
    if snapshot is None:
        raise DomainError(ErrorCode.EVENT_NOT_FOUND, f"there is no event {event_id}")
    event, progress = snapshot
    check_transition(event.id, progress.state, EventState.CANCELLED)
    await store.set_state(event.id, EventState.CANCELLED, now, reason=reason or "cancelled by the organizer")
    ended = rounds_ended_by_cancelling(progress)
    if ended > progress.rounds_ended:
        await store.mark_round_ended(event.id, ended)
    await store.release_unused_spaces(event.id)
    withdrawn = await store.withdraw_unsent(event.id)
    if withdrawn:
        logger.info("event %d: cancelled; %d messages not sent yet are withdrawn", event.id, withdrawn)
    return await store.enqueue(notices.cancellation(event, await store.active_registrant_profiles(event.id)))
