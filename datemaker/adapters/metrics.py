"""Prometheus metrics of datemaker (names follow Prometheus conventions; no user ids in labels)."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge, Histogram

from contracts.commands import AcceptExtraSeat
from datemaker.domain.events import EventState
from datemaker.domain.spaces import Outlook
from datemaker.service.ports import Attendance, Meet, MeetError, MeetSpace

T = TypeVar("T")

COMMANDS_PROCESSED = Counter(
    "chathub_commands_processed_total", "Commands answered by datemaker, by command and outcome", ["command", "outcome"]
)
COMMAND_LATENCY = Histogram(
    "chathub_command_duration_seconds",
    "Time from receiving a command to its reply being confirmed by the broker",
    ["command"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DEAD_LETTERED = Counter(
    "chathub_messages_dead_lettered_total", "Messages datemaker sent to its dead-letter queue", ["reason"]
)
DEFERRED = Counter(
    "chathub_messages_deferred_total",
    "Commands held through a database outage for DATEMAKER_HOLD_SECONDS, then put at the back of the queue",
)
QUEUE_DEPTH = Gauge("chathub_queue_messages", "Messages ready in a queue (refreshed in the background)", ["queue"])


EVENTS_CREATED = Counter(
    "chathub_events_created_total",
    "Events datemaker made by itself, by why: a schedule's slot (schedule) or a full waitlist's extra night (demand)",
    ["by"],
)
WAITLIST_OFFERS = Counter(
    "chathub_waitlist_offers_total",
    "Seats of extra nights offered to people on a full event's waitlist (made), and taken by them (accepted)",
    ["stage"],
)
ORGANIZER_ALERTS = Counter(
    "chathub_organizer_alerts_total", "Messages telling an organizer that an event is far from full"
)
for _by in ("schedule", "demand"):  # the series exist (at 0) before anything happens
    EVENTS_CREATED.labels(_by)
for _stage in ("made", "accepted"):
    WAITLIST_OFFERS.labels(_stage)
_EFFECTS = {(AcceptExtraSeat.type, "ok"): WAITLIST_OFFERS.labels("accepted")}
"""Commands whose success is counted on its own, beyond the commands' counter."""


class PrometheusIntakeMetrics:
    """The intake's metrics port on prometheus-client (label children kept: this is on every command's path)."""

    def __init__(self) -> None:
        self._processed: dict[tuple[str, str], Any] = {}
        self._latency: dict[str, Any] = {}

    def command_processed(self, command: str, result: str, seconds: float) -> None:
        effect = _EFFECTS.get((command, result))
        if effect is not None:
            effect.inc()
        outcome = result if result in ("ok", "duplicate") else "error"
        processed = self._processed.get((command, outcome))
        if processed is None:
            processed = self._processed[command, outcome] = COMMANDS_PROCESSED.labels(command, outcome)
        latency = self._latency.get(command)
        if latency is None:
            latency = self._latency[command] = COMMAND_LATENCY.labels(command)
        processed.inc()
        latency.observe(seconds)

    def dead_lettered(self, reason: str) -> None:
        DEAD_LETTERED.labels(reason).inc()

    def deferred(self) -> None:
        DEFERRED.inc()


EVENTS = Gauge("chathub_events", "Events not over yet (and finished ones awaiting results), by state", ["state"])
EVENT_STEPS = Counter("chathub_event_steps_total", "Timeline steps carried out, by step", ["step"])
ROUND_START_LATENESS = Histogram(
    "chathub_round_start_lateness_seconds",
    "How late a round's links were queued after the round's scheduled start",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
STEP_LATENESS = Histogram(
    "chathub_event_step_lateness_seconds",
    "How late timeline steps ran after they were due",
    ["step"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120),
)
OUTBOX_QUEUED = Counter("chathub_outbox_messages_total", "Messages to the bot written to the outbox")
MEET_CALLS = Counter(
    "chathub_meet_calls_total",
    "Meet API actions (after the adapter's own retries), by method and outcome",
    ["method", "outcome"],
)
ACTIVE_CONFERENCES = Gauge("chathub_active_conferences", "Dates whose people were invited and whose call is not ended")
SPACES_CREATED = Counter(
    "chathub_meet_spaces_created_total", "Meet spaces made into the pool, by Google account", ["account"]
)
DATES_REUSING = Counter(
    "chathub_dates_reusing_space_total", "Dates that took over their table's space of the round before"
)
LINKS_DELAYED = Counter(
    "chathub_dates_link_delayed_total", "Dates whose link was not ready when their round began (both people told)"
)
EVENTS_AT_RISK = Gauge(
    "chathub_events_spaces_at_risk",
    "Events some of whose dates the Meet quota cannot give a space before their links go out, even reusing tables",
)
FUNNEL = Counter(
    "chathub_funnel_participants_total",
    "Participants of events that are over, by stage reached (registered, confirmed, seated, joined, matched) "
    "and the event's outcome",
    ["stage", "outcome"],
)


class PrometheusLifecycleMetrics:
    """The event runner's metrics port on prometheus-client."""

    def step_done(self, kind: str, lateness: float) -> None:
        EVENT_STEPS.labels(kind).inc()
        STEP_LATENESS.labels(kind).observe(max(lateness, 0.0))
        if kind == "start_round":
            ROUND_START_LATENESS.observe(max(lateness, 0.0))

    def messages_queued(self, count: int) -> None:
        OUTBOX_QUEUED.inc(count)

    def funnel(self, outcome: str, stages: Mapping[str, int]) -> None:
        for stage, count in stages.items():
            FUNNEL.labels(stage, outcome).inc(count)

    def dates_reusing(self, count: int) -> None:
        DATES_REUSING.inc(count)

    def links_delayed(self, count: int) -> None:
        LINKS_DELAYED.inc(count)


class PrometheusCalendarMetrics:
    """The schedule keeper's metrics port on prometheus-client."""

    def events_created(self, by: str, count: int) -> None:
        if count:
            EVENTS_CREATED.labels(by).inc(count)

    def offers_made(self, count: int) -> None:
        if count:
            WAITLIST_OFFERS.labels("made").inc(count)

    def alerts_sent(self, count: int) -> None:
        if count:
            ORGANIZER_ALERTS.inc(count)


def reconciled(events_by_state: Mapping[EventState, int], active_conferences: int) -> None:
    """Gauges from a reconcile of every active event (every state is set, so finished ones drop to zero)."""
    for state in EventState:
        EVENTS.labels(state.name).set(events_by_state.get(state, 0))
    ACTIVE_CONFERENCES.set(active_conferences)


def spaces_outlook(outlook: Mapping[int, Outlook]) -> None:
    """Gauges from the pool's outlook: how many events would have a date without its link in time."""
    EVENTS_AT_RISK.set(sum(1 for o in outlook.values() if o.at_risk))


class MeteredMeet:
    """The Meet port, counting each action and its outcome."""

    def __init__(self, meet: Meet) -> None:
        self._meet = meet

    async def _count(self, method: str, call: Awaitable[T]) -> T:
        try:
            result = await call
        except MeetError:
            MEET_CALLS.labels(method, "error").inc()
            raise
        MEET_CALLS.labels(method, "ok").inc()
        return result

    async def create_space(self) -> MeetSpace:
        space = await self._count("create_space", self._meet.create_space())
        SPACES_CREATED.labels(space.account or "default").inc()
        return space

    async def end_active_conference(self, space_name: str, account: str = "") -> None:
        await self._count("end_active_conference", self._meet.end_active_conference(space_name, account))

    async def attendance(
        self, space_name: str, account: str = "", since: datetime | None = None, until: datetime | None = None
    ) -> list[Attendance]:
        return await self._count("attendance", self._meet.attendance(space_name, account, since, until))
