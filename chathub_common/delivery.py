"""The transport's ports, free of any broker library: what a consumer decides about a delivery (the
adapter carries it out), and what a publisher promises."""

from collections.abc import Mapping
from enum import Enum
from typing import Any, Protocol


class Disposition(Enum):
    ACK = "ack"
    RETRY = "retry"
    """Put it back in the queue; after ``contracts.topology.DELIVERY_LIMIT`` deliveries it is dead-lettered."""
    DEAD_LETTER = "dead_letter"


class Publisher(Protocol):
    """Sends a message to the broker and waits until the broker has taken it (or raises)."""

    async def publish(
        self,
        routing_key: str,
        body: bytes,
        *,
        type: str,
        message_id: str | None = None,
        correlation_id: str | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str: ...
