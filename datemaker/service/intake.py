"""The command consumer: each delivery is processed, answered, then acknowledged.

Acknowledgement comes after the database commit and after the reply is confirmed by the broker, so
a crash at any point means a redelivery, which the idempotency record turns into the same reply.

Waiting is not failing: while the database is unreachable a command is held and tried again with backoff, for
up to ``hold_seconds`` (well within the broker's 30-minute acknowledgement timeout); then it is deferred, a
fresh copy at the back of the queue (``Disposition.DEFER``), which does not count against the delivery limit.
However long the outage, every command gets its one reply once the database is back. Only a command that fails
for its own sake uses up its deliveries and is dead-lettered, answered first with ``internal_error``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from typing import Protocol

from chathub_common.delivery import Disposition
from contracts import topology
from contracts.envelope import Incoming, Reply, reply_type
from contracts.errors import ErrorCode
from datemaker.service.dispatch import CommandProcessor, Outcome, Unprocessable, echo_headers
from datemaker.service.ports import Publisher
from datemaker.service.precedence import TimelineFirst

logger = logging.getLogger(__name__)


class IntakeMetrics(Protocol):
    def command_processed(self, command: str, result: str, seconds: float) -> None: ...

    def dead_lettered(self, reason: str) -> None: ...

    def deferred(self) -> None: ...


class NoMetrics:
    def command_processed(self, command: str, result: str, seconds: float) -> None:
        pass

    def dead_lettered(self, reason: str) -> None:
        pass

    def deferred(self) -> None:
        pass


class CommandIntake:
    """Consumer of datemaker's queue; returns what to do with each delivery (see ``Disposition``)."""

    def __init__(
        self,
        processor: CommandProcessor,
        publisher: Publisher,
        reply_routing_key: str,
        *,
        transient_errors: tuple[type[BaseException], ...],
        metrics: IntakeMetrics | None = None,
        hold_seconds: float = 600.0,
        precedence: TimelineFirst | None = None,
    ) -> None:
        self._processor = processor
        self._publisher = publisher
        self._reply_key = reply_routing_key
        self._transient = transient_errors
        self._metrics = metrics or NoMetrics()
        self._hold_seconds = hold_seconds
        self._precedence = precedence or TimelineFirst()

    async def __call__(self, incoming: Incoming) -> Disposition:
        """Process one delivery and say what to do with it."""
        await self._precedence.wait()  # an event's step first: its links are due, a command can wait a moment
        started = time.perf_counter()
        try:
            outcome = await self._process_patiently(incoming)
        except Unprocessable as exc:
            logger.warning("dead-lettering a message that cannot be answered: %s", exc)
            self._metrics.dead_lettered("unidentifiable")
            return Disposition.DEAD_LETTER
        except self._transient as exc:
            logger.warning("message %s held %.0fs (%r); deferred", incoming.message_id, self._hold_seconds, exc)
            self._metrics.deferred()
            return Disposition.DEFER
        except Exception:
            logger.exception("command %s (%s) failed", incoming.message_id, incoming.type)
            if incoming.delivery_count + 1 < topology.DELIVERY_LIMIT:
                return Disposition.RETRY
            # Its last delivery: answer so the user is not left waiting, and keep it for an operator.
            outcome = Outcome(
                "invalid",
                str(ErrorCode.INTERNAL_ERROR),
                Reply.failure(ErrorCode.INTERNAL_ERROR, "the service could not process this command"),
                echo_headers(incoming.headers),
            )
            if await self._send_reply(incoming, outcome):
                self._metrics.dead_lettered("failed")
                return Disposition.DEAD_LETTER
            return Disposition.RETRY
        if not await self._send_reply(incoming, outcome):
            return Disposition.RETRY
        self._metrics.command_processed(outcome.command, outcome.result, time.perf_counter() - started)
        return Disposition.ACK

    async def _process_patiently(self, incoming: Incoming) -> Outcome:
        """Retry through database outages (with backoff), for up to ``hold_seconds``."""
        deadline = time.monotonic() + self._hold_seconds
        delay = 0.2
        while True:
            try:
                return await self._processor.process(incoming)
            except self._transient as exc:
                if time.monotonic() + delay > deadline:
                    raise
                logger.warning("database unavailable (%r); retrying %s in %.1fs", exc, incoming.message_id, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _send_reply(self, incoming: Incoming, outcome: Outcome) -> bool:
        # A deterministic id lets the receiver drop the copy a redelivery may produce.
        try:
            await self._publisher.publish(
                self._reply_key,
                outcome.reply.to_body(),
                type=reply_type(outcome.command if outcome.command != "invalid" else _printable(incoming.type)),
                message_id=_reply_id(incoming.message_id or ""),
                correlation_id=incoming.message_id,
                headers=outcome.headers,
            )
        except Exception as exc:
            logger.warning("reply to %s not published (%r); the command will be redelivered", incoming.message_id, exc)
            return False
        return True


_IDENTIFIER = re.compile(r"[a-z][a-z0-9_.]{0,63}")


def _printable(command_type: str | None) -> str | None:
    """A received type safe to echo in the reply's type (hostile input can be long or odd)."""
    return command_type if command_type and _IDENTIFIER.fullmatch(command_type) else None


def _reply_id(message_id: str) -> str:
    """The reply's own message id, derived from the command's (AMQP short strings hold 255 bytes)."""
    if len(message_id.encode()) <= 200:
        return f"{message_id}.result"
    return hashlib.sha256(message_id.encode()).hexdigest() + ".result"
