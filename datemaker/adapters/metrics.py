"""Prometheus metrics of datemaker (names follow Prometheus conventions; no user ids in labels)."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TypeVar

from prometheus_client import Counter, Gauge, Histogram

from datemaker.domain.events import EventState
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
QUEUE_DEPTH = Gauge("chathub_queue_messages", "Messages ready in a queue (refreshed in the background)", ["queue"])


class PrometheusIntakeMetrics:
    """The intake's metrics port on prometheus-client."""

    def command_processed(self, command: str, result: str, seconds: float) -> None:
        outcome = result if result in ("ok", "duplicate") else "error"
        COMMANDS_PROCESSED.labels(command, outcome).inc()
        COMMAND_LATENCY.labels(command).observe(seconds)

    def dead_lettered(self, reason: str) -> None:
        DEAD_LETTERED.labels(reason).inc()


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


def reconciled(events_by_state: Mapping[EventState, int], active_conferences: int) -> None:
    """Gauges from a reconcile of every active event (every state is set, so finished ones drop to zero)."""
    for state in EventState:
        EVENTS.labels(state.name).set(events_by_state.get(state, 0))
    ACTIVE_CONFERENCES.set(active_conferences)


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
        return await self._count("create_space", self._meet.create_space())

    async def end_active_conference(self, space_name: str) -> None:
        await self._count("end_active_conference", self._meet.end_active_conference(space_name))

    async def attendance(self, space_name: str) -> list[Attendance]:
        return await self._count("attendance", self._meet.attendance(space_name))
