"""The bot's side of the datemaker protocol (PROTOCOL.md sections 3 and 4): commands out, replies in.

Pending requests: every command sent is remembered, with the chat and message it concerns, under its
``message_id``; the reply (``correlation_id`` = that id) completes it. A reply that does not come within
``timeout`` seconds ends the request with :class:`DatemakerUnavailable` (the handler tells the user the
service is busy) and the late reply, when it comes, is ignored. Replies carry deterministic ids
(``<command id>.result``) and may be delivered twice; each is handled once.

Pending requests live in memory: after a restart of the bot the replies to commands sent before it are
ignored (the user simply asks again).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from chathub_bot import metrics
from chathub_common.delivery import Disposition, Publisher
from contracts import commands as c
from contracts.envelope import Incoming, Reply
from contracts.errors import ErrorCode

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)


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

    def __init__(self, publisher: Publisher, routing_key: str, *, timeout: float = 5.0, memory: int = 10_000) -> None:
        self._publisher = publisher
        self._routing_key = routing_key
        self.timeout = timeout
        self._pending: dict[str, PendingRequest] = {}
        self._finished: collections.OrderedDict[str, str] = collections.OrderedDict()
        """Ids of requests already completed ("answered") or given up ("expired"), for the labels of late copies."""
        self._memory = memory

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def call(self, command: str, args: BaseModel, actor: Actor, *, event_id: int | None = None) -> dict[str, Any]:
        """Send ``command`` and wait for its reply; the reply's ``data``.

        Raises :class:`DatemakerError` for an error reply, :class:`DatemakerUnavailable` when no reply came in time.
        """
        message_id = uuid.uuid4().hex
        headers: dict[str, int] = {"user_id": actor.user_id, "chat_id": actor.chat_id}
        if actor.message_id is not None:
            headers["message_id"] = actor.message_id
        if event_id is not None:
            headers["event_id"] = event_id
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        pending = PendingRequest(command, actor, future)
        self._pending[message_id] = pending
        try:
            async with asyncio.timeout(self.timeout):
                await self._publisher.publish(
                    self._routing_key,
                    args.model_dump_json(exclude_none=True).encode(),
                    type=command,
                    message_id=message_id,
                    headers=headers,
                )
                reply = await future
        except TimeoutError:
            self._forget(message_id, "expired")
            metrics.DATEMAKER_CALLS.labels(command, "timeout").inc()
            logger.warning("no reply to %s %s within %.1fs (%s)", command, message_id, self.timeout, pending.actor)
            raise DatemakerUnavailable(f"no reply to {command} in {self.timeout}s") from None
        except DatemakerUnavailable:  # an unreadable reply
            raise
        except Exception as exc:
            self._forget(message_id, "expired")
            metrics.DATEMAKER_CALLS.labels(command, "unpublished").inc()
            logger.warning("command %s %s not sent (%s): %r", command, message_id, pending.actor, exc)
            raise DatemakerUnavailable(f"{command} could not be sent") from exc
        finally:
            self._pending.pop(message_id, None)
        if not reply.ok:
            error = reply.error
            code, text = (error.code, error.message) if error else (str(ErrorCode.INTERNAL_ERROR), "no error given")
            metrics.DATEMAKER_CALLS.labels(command, "error").inc()
            raise DatemakerError(code, text)
        metrics.DATEMAKER_CALLS.labels(command, "ok").inc()
        return reply.data or {}

    async def call_for(
        self, model: type[ModelT], command: str, args: BaseModel, actor: Actor, *, event_id: int | None = None
    ) -> ModelT:
        """:meth:`call`, with the reply's data validated as ``model``."""
        data = await self.call(command, args, actor, event_id=event_id)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            logger.error("reply to %s does not match the contract: %s", command, exc)
            raise DatemakerError(str(ErrorCode.INTERNAL_ERROR), "unexpected reply") from exc

    def _forget(self, message_id: str, how: str) -> None:
        self._pending.pop(message_id, None)
        self._finished[message_id] = how
        while len(self._finished) > self._memory:
            self._finished.popitem(last=False)

    def take_reply(self, incoming: Incoming) -> Disposition:
        """Complete the request a reply answers (a reply has a ``correlation_id``)."""
        correlation_id = incoming.correlation_id or ""
        pending = self._pending.get(correlation_id)
        if pending is None or pending.future.done():
            outcome = "duplicate" if self._finished.get(correlation_id) == "answered" else "late"
            metrics.DATEMAKER_REPLIES.labels(outcome).inc()
            logger.info("ignoring a %s reply %s to %s", outcome, incoming.message_id, correlation_id)
            return Disposition.ACK
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

    # --- typed commands (contracts.commands) -----------------------------------------------------

    async def get_profile(self, actor: Actor) -> c.Profile | None:
        """The user's profile, or None when they have none yet."""
        try:
            data = await self.call_for(c.ProfileData, "get_profile", c.GetProfile(), actor)
        except DatemakerError as exc:
            if exc.code == ErrorCode.PROFILE_REQUIRED:
                return None
            raise
        return data.profile

    async def upsert_profile(self, actor: Actor, profile: c.UpsertProfile) -> c.Profile:
        return (await self.call_for(c.ProfileData, "upsert_profile", profile, actor)).profile

    async def list_events(self, actor: Actor) -> list[c.EventSummary]:
        return (await self.call_for(c.EventList, "list_events", c.ListEvents(), actor)).events

    async def register_event(self, actor: Actor, event_id: int) -> c.RegisterResult:
        return await self.call_for(
            c.RegisterResult, "register_event", c.RegisterEvent(event_id=event_id), actor, event_id=event_id
        )

    async def cancel_registration(self, actor: Actor, event_id: int) -> c.CancelResult:
        args = c.CancelRegistration(event_id=event_id)
        return await self.call_for(c.CancelResult, "cancel_registration", args, actor, event_id=event_id or None)

    async def confirm_registration(self, actor: Actor, event_id: int, attending: bool) -> c.ConfirmResult:
        args = c.ConfirmRegistration(event_id=event_id, attending=attending)
        return await self.call_for(c.ConfirmResult, "confirm_registration", args, actor, event_id=event_id)

    async def rate_partner(self, actor: Actor, event_id: int, partner_id: int, verdict: str) -> c.RateResult:
        args = c.RatePartner(event_id=event_id, partner_id=partner_id, verdict=verdict)
        return await self.call_for(c.RateResult, "rate_partner", args, actor, event_id=event_id)

    async def set_ready(self, actor: Actor, event_id: int) -> c.ReadyResult:
        return await self.call_for(c.ReadyResult, "set_ready", c.SetReady(event_id=event_id), actor, event_id=event_id)
