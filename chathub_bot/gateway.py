"""The bot's side of the datemaker protocol (docs/protocol.md sections 3 and 4): commands out, replies in.

Pending requests: every command sent is remembered, with the chat and message it concerns, under its
``message_id``; the reply (``correlation_id`` = that id) completes it. A reply that does not come within
``timeout`` seconds ends the request with :class:`DatemakerUnavailable` (the handler tells the user the
service is busy). Replies carry deterministic ids (``<command id>.result``) and may be delivered twice; each
is handled once.

Each pending request is also kept in the bot's state (:mod:`chathub_bot.state`, Redis) until its reply comes.
A reply that finds no handler waiting, because it came after the timeout or after a restart of the bot, is
handed with that record to ``on_late``, which shows the outcome in the right message
(:mod:`chathub_bot.late`).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiogram.utils.i18n import get_i18n
from pydantic import ValidationError

from chathub_bot import metrics
from chathub_bot.state import MemoryPending, PendingRecord, PendingRequests
from chathub_common.delivery import Disposition, Publisher
from contracts import commands as c
from contracts.envelope import Incoming, Reply
from contracts.errors import ErrorCode

logger = logging.getLogger(__name__)

ReplyT = TypeVar("ReplyT", bound=c.Data)


class DatemakerError(Exception):
    """datemaker answered with an error; ``code`` is one of :class:`contracts.errors.ErrorCode`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class DatemakerUnavailable(Exception):
    """No reply in time (or the command could not be published): the service is busy."""


@dataclass(frozen=True)
class Actor:
    """Who a command is for and where its answer is shown: the update's ``from_user`` and chat."""

    user_id: int
    chat_id: int
    message_id: int | None = None
    """The bot message the answer will be edited into, if any."""

    def __str__(self) -> str:
        return f"user {self.user_id}, chat {self.chat_id}, message {self.message_id}"


@dataclass
class PendingRequest:
    """A command waiting for its reply: what it was, and for whom and where its answer goes."""

    command: str
    actor: Actor
    future: asyncio.Future[Reply]


class DatemakerGateway:
    """Sends commands to datemaker and matches the replies from the bot's queue to them."""

    def __init__(
        self,
        publisher: Publisher,
        routing_key: str,
        *,
        timeout: float = 5.0,
        memory: int = 10_000,
        store: PendingRequests | None = None,
        on_late: Callable[[PendingRecord, Reply], Awaitable[bool]] | None = None,
    ) -> None:
        self._publisher = publisher
        self.routing_key = routing_key
        self.timeout = timeout
        self.store: PendingRequests = store or MemoryPending()
        """Pending requests as they outlive this process."""
        self.on_late = on_late
        """Shows a late reply; whether it did. Raises when Telegram cannot be reached: the reply is tried again."""
        self.late_retry_seconds = 1.0
        """How long a late reply that could not be shown waits before going to the back of the queue."""
        """Shows a reply that no handler waits for any more; whether it showed something."""
        self._pending: dict[str, PendingRequest] = {}
        self._finished: collections.OrderedDict[str, str] = collections.OrderedDict()
        """Ids of requests already completed ("answered") or given up ("expired"), for the labels of late copies."""
        self._memory = memory

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def request(self, command: c.Command[ReplyT], actor: Actor) -> ReplyT:
        """Send ``command`` for ``actor`` and wait for its reply; the reply's data, typed by the command's class.

        Raises :class:`DatemakerError` for an error reply (or one that does not match the contract),
        :class:`DatemakerUnavailable` when no reply came in time.
        """
        name = command.type
        message_id = uuid.uuid4().hex
        headers: dict[str, int] = {"user_id": actor.user_id, "chat_id": actor.chat_id}
        if actor.message_id is not None:
            headers["message_id"] = actor.message_id
        event_id = getattr(command, "event_id", None)
        if event_id:
            headers["event_id"] = event_id
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        pending = PendingRequest(name, actor, future)
        self._pending[message_id] = pending
        record = PendingRecord(
            name,
            actor.user_id,
            actor.chat_id,
            actor.message_id,
            _current_locale(),
            command.model_dump(mode="json", exclude_none=True),
        )
        try:
            async with asyncio.timeout(self.timeout):
                await self._keep(message_id, record)
                await self._publisher.publish(
                    self.routing_key,
                    command.model_dump_json(exclude_none=True).encode(),
                    type=name,
                    message_id=message_id,
                    headers=headers,
                )
                reply = await future
        except TimeoutError:
            self._forget(message_id, "expired")
            metrics.DATEMAKER_CALLS.labels(name, "timeout").inc()
            logger.warning("no reply to %s %s within %.1fs (%s)", name, message_id, self.timeout, pending.actor)
            raise DatemakerUnavailable(f"no reply to {name} in {self.timeout}s") from None
        except DatemakerUnavailable:  # an unreadable reply
            raise
        except Exception as exc:
            self._forget(message_id, "expired")
            metrics.DATEMAKER_CALLS.labels(name, "unpublished").inc()
            logger.warning("command %s %s not sent (%s): %r", name, message_id, pending.actor, exc)
            raise DatemakerUnavailable(f"{name} could not be sent") from exc
        finally:
            self._pending.pop(message_id, None)
        await self._settled(message_id)
        if not reply.ok:
            error = reply.error
            code, text = (error.code, error.message) if error else (str(ErrorCode.INTERNAL_ERROR), "no error given")
            metrics.DATEMAKER_CALLS.labels(name, "error").inc()
            raise DatemakerError(code, text)
        try:
            data = type(command).reply.model_validate(reply.data or {})
        except ValidationError as exc:
            metrics.DATEMAKER_CALLS.labels(name, "invalid").inc()
            logger.error("reply to %s does not match the contract: %s", name, exc)
            raise DatemakerError(str(ErrorCode.INTERNAL_ERROR), "unexpected reply") from exc
        metrics.DATEMAKER_CALLS.labels(name, "ok").inc()
        return data  # type: ignore[return-value]  # the class's reply is its ReplyT

    async def _keep(self, message_id: str, record: PendingRecord) -> None:
        """Keep the request on record; without the store, a late reply is merely not shown."""
        try:
            await self.store.save(message_id, record)
        except Exception as exc:
            logger.warning("pending request %s not kept (a late reply will not be shown): %r", message_id, exc)

    async def _settled(self, message_id: str) -> None:
        """The reply reached its handler: its record is not needed any more."""
        try:
            await self.store.take(message_id)
        except Exception as exc:  # it expires by itself
            logger.info("pending request %s not removed from the store: %r", message_id, exc)

    def _forget(self, message_id: str, how: str) -> None:
        self._pending.pop(message_id, None)
        self._finished[message_id] = how
        while len(self._finished) > self._memory:
            self._finished.popitem(last=False)

    async def take_reply(self, incoming: Incoming) -> Disposition:
        """Complete the request a reply answers (a reply has a ``correlation_id``)."""
        correlation_id = incoming.correlation_id or ""
        pending = self._pending.get(correlation_id)
        if pending is None or pending.future.done():
            if self._finished.get(correlation_id) == "answered":
                metrics.DATEMAKER_REPLIES.labels("duplicate").inc()
                logger.info("ignoring a duplicate reply %s to %s", incoming.message_id, correlation_id)
                return Disposition.ACK
            return await self._late(incoming, correlation_id)
        try:
            reply = Reply.model_validate_json(incoming.body)
        except ValidationError as exc:
            metrics.DATEMAKER_REPLIES.labels("invalid").inc()
            metrics.BOT_DEAD_LETTERED.labels("invalid_reply").inc()
            logger.error("reply %s to %s is not a valid reply: %s", incoming.message_id, pending.command, exc)
            pending.future.set_exception(DatemakerUnavailable("datemaker sent an invalid reply"))
            self._forget(correlation_id, "answered")
            return Disposition.DEAD_LETTER
        pending.future.set_result(reply)
        self._forget(correlation_id, "answered")
        metrics.DATEMAKER_REPLIES.labels("ok").inc()
        return Disposition.ACK

    async def _late(self, incoming: Incoming, correlation_id: str) -> Disposition:
        """A reply no handler waits for: shown through ``on_late`` when its request is on record."""
        try:
            record = await self.store.take(correlation_id)
        except Exception as exc:  # the store is down: the reply waits at the back of the queue (not a failure)
            logger.warning("late reply %s waits for the state store: %r", incoming.message_id, exc)
            await asyncio.sleep(1.0)
            return Disposition.DEFER
        self._forget(correlation_id, "answered")
        if record is None or self.on_late is None:
            metrics.DATEMAKER_REPLIES.labels("late").inc()
            logger.info("ignoring a late reply %s to %s", incoming.message_id, correlation_id)
            return Disposition.ACK
        try:
            reply = Reply.model_validate_json(incoming.body)
        except ValidationError as exc:
            metrics.DATEMAKER_REPLIES.labels("invalid").inc()
            metrics.BOT_DEAD_LETTERED.labels("invalid_reply").inc()
            logger.error("late reply %s to %s is not a valid reply: %s", incoming.message_id, record.command, exc)
            return Disposition.DEAD_LETTER
        try:
            shown = await self.on_late(record, reply)
        except Exception as exc:  # Telegram unreachable: the record goes back and the reply waits its turn again
            logger.warning("late reply %s to %s waits for Telegram: %r", incoming.message_id, record.command, exc)
            try:
                await self.store.save(correlation_id, record)
            except Exception as lost:
                logger.warning("late reply %s not kept (the state store is down too): %r", incoming.message_id, lost)
                return Disposition.ACK
            self._finished.pop(correlation_id, None)  # its copy is not a duplicate
            await asyncio.sleep(self.late_retry_seconds)
            return Disposition.DEFER
        metrics.DATEMAKER_REPLIES.labels("late_shown" if shown else "late").inc()
        logger.info(
            "a late reply to %s %s for user %s (shown: %s)", record.command, correlation_id, record.user_id, shown
        )
        return Disposition.ACK


def _current_locale() -> str | None:
    """The language of the update being handled, if any."""
    try:
        return get_i18n().current_locale
    except LookupError:
        return None


async def profile_of(gateway: DatemakerGateway, actor: Actor) -> c.Profile | None:
    """The user's profile, or None when they have none yet."""
    try:
        return (await gateway.request(c.GetProfile(), actor)).profile
    except DatemakerError as exc:
        if exc.code == ErrorCode.PROFILE_REQUIRED:
            return None
        raise
