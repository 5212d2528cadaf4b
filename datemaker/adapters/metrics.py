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
