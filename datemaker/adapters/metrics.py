"""Prometheus metrics of datemaker (names follow Prometheus conventions; no user ids in labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
MEET_FAILURES = Counter("chathub_meet_failures_total", "Meet API actions that failed after retries", ["action"])


class PrometheusLifecycleMetrics:
    """The event runner's metrics port on prometheus-client."""

    def step_done(self, kind: str, lateness: float) -> None:
        EVENT_STEPS.labels(kind).inc()
        STEP_LATENESS.labels(kind).observe(max(lateness, 0.0))
        if kind == "start_round":
            ROUND_START_LATENESS.observe(max(lateness, 0.0))

    def messages_queued(self, count: int) -> None:
        OUTBOX_QUEUED.inc(count)

    def meet_failed(self, action: str) -> None:
        MEET_FAILURES.labels(action).inc()


def events_by_state(counts: dict) -> None:
    """Set the events gauge from a reconcile's count (every state, so finished ones drop to zero)."""
    from datemaker.domain.events import EventState

    for state in EventState:
        EVENTS.labels(state.name).set(counts.get(state, 0))
