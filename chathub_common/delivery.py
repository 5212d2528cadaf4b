"""The transport's ports, free of any broker library: what a consumer decides about a delivery (the
adapter carries it out), and what a publisher promises."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol


class Disposition(Enum):
    ACK = "ack"
    RETRY = "retry"
    """Put it back in the queue; after ``contracts.topology.DELIVERY_LIMIT`` deliveries it is dead-lettered."""
    DEAD_LETTER = "dead_letter"
    DEFER = "defer"
    """A message held for a dependency that is still down (Telegram, PostgreSQL, Meet): a fresh copy goes to the
    back of its queue, then this delivery is acknowledged. Waiting is not failing: unlike ``RETRY`` it does not
    count against the delivery limit, so an outage of any length dead-letters nothing."""


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


@dataclass(frozen=True)
class DeadLetter:
    """What an operator needs to know about a message in a dead-letter queue, from its properties and the
    ``x-death`` headers the broker added when it dead-lettered it."""

    message_id: str | None
    type: str | None
    user_id: Any
    queue: str | None
    """The queue it was dead-lettered from (where a replay puts it back)."""
    reason: str | None
    """``rejected`` (refused by its consumer, or past the delivery limit), ``expired``, ``maxlen``..."""
    count: int
    """How many times it was dead-lettered from that queue for that reason."""
    first_at: datetime | None
    body: bytes


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return None if value is None else str(value)


def dead_letter_of(
    body: bytes, message_id: str | None, type: str | None, headers: Mapping[str, Any] | None
) -> DeadLetter:
    """Read a dead-lettered message: the first ``x-death`` entry is the latest dead-lettering."""
    headers = headers or {}
    deaths = headers.get("x-death")
    death: Mapping[str, Any] = (
        deaths[0] if isinstance(deaths, list) and deaths and isinstance(deaths[0], Mapping) else {}
    )
    moment = death.get("time")
    if isinstance(moment, datetime) and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    count = death.get("count", 0)
    return DeadLetter(
        message_id=message_id,
        type=type,
        user_id=_text(headers.get("user_id")),
        queue=_text(death.get("queue") or headers.get("x-first-death-queue")),
        reason=_text(death.get("reason") or headers.get("x-first-death-reason")),
        count=count if isinstance(count, int) else 0,
        first_at=moment if isinstance(moment, datetime) else None,
        body=body,
    )
