"""Broker topology of docs/protocol.md section 2: names and queue arguments, shared by both services.

Both services declare everything here at start with identical arguments, so a message waits in
its queue even while its consumer is down.
"""

from dataclasses import dataclass

DEFAULT_EXCHANGE = "chathub_direct_main"
DELIVERY_LIMIT = 5
"""Deliveries after which a message that keeps failing is dead-lettered."""


def datemaker_queue(env: str) -> str:
    """Queue (and routing key) of commands for datemaker."""
    return f"datemaker_{env}"


def bot_queue(env: str) -> str:
    """Queue (and routing key) of replies and commands for the bot."""
    return f"tg_bot_{env}"


def dead_letter_queue(queue: str) -> str:
    """Where ``queue`` dead-letters messages that cannot be processed."""
    return f"{queue}.dead"


@dataclass(frozen=True)
class QueueSpec:
    """A durable queue bound to the exchange with a routing key equal to its name."""

    name: str
    arguments: dict[str, object]


def work_queue_arguments(exchange: str, queue: str) -> dict[str, object]:
    """Arguments of a work queue: quorum type, at-least-once dead-lettering after repeated failures."""
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": exchange,
        "x-dead-letter-routing-key": dead_letter_queue(queue),
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def queues(env: str, exchange: str) -> list[QueueSpec]:
    """Every queue of the topology for one environment, work queues first."""
    specs: list[QueueSpec] = []
    work = [datemaker_queue(env), bot_queue(env)]
    for name in work:
        specs.append(QueueSpec(name, work_queue_arguments(exchange, name)))
    for name in work:
        specs.append(QueueSpec(dead_letter_queue(name), {"x-queue-type": "quorum"}))
    return specs
