"""From a received message to exactly one reply: validation, idempotency, the handler's transaction.

A repeated ``message_id`` gets the first reply again and repeats no effect: the reply is stored in
the same transaction as the command's effect, and looked up before any work is done. The record is the
user's and the command's: the same id from anyone else, or for another command, is refused and learns
nothing. Read-only commands keep no record: asked again, they answer afresh.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts import commands as c
from contracts.commands import COMMANDS, Command
from contracts.envelope import INT64_MAX, Incoming, Received, Reply, parse
from contracts.errors import ContractError, ErrorCode
from datemaker.domain.errors import ConcurrentUpdate, DomainError
from datemaker.service import organizer  # its import registers the organizer_* handlers
from datemaker.service.commands import HANDLERS, LIVE, Handler
from datemaker.service.fast_register import RegisterAtOnce
from datemaker.service.ports import Clock, Database, Meet, Session, StoredReply

logger = logging.getLogger(__name__)

_ECHOED_HEADERS = ("user_id", "chat_id", "message_id", "event_id")
MAX_ATTEMPTS = 20
"""Runs of one command while concurrent commands keep changing what it read."""


class Unprocessable(Exception):
    """The message cannot be identified (no ``message_id``): it is dead-lettered, not answered."""


@dataclass(frozen=True)
class Outcome:
    """What became of one message: the reply to send and labels for metrics."""

    command: str
    """The command's name when it is one datemaker knows, else ``invalid``."""
    result: str
    """``ok``, ``duplicate``, or the error code."""
    reply: Reply
    headers: dict[str, Any]


def echo_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope headers of a command, copied onto its reply (bounded, even from hostile input)."""
    echoed = {}
    for key in _ECHOED_HEADERS:
        value = headers.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and -INT64_MAX <= value <= INT64_MAX:
            echoed[key] = value
        elif isinstance(value, (str, bytes)) and len(value) <= 32:
            echoed[key] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return echoed


class CommandProcessor:
    """Turns each received message into its reply, applying the command's effect at most once."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        handlers: Mapping[type[Command[Any]], Handler] = HANDLERS,
        meet: Meet | None = None,
    ) -> None:
        self._database = database
        self._clock = clock
        live = organizer.live_calls(meet) if meet is not None else None
        self._handlers = {
            command: functools.partial(handler, live=live) if command in LIVE else handler
            for command, handler in handlers.items()
        }
        self._register_at_once = RegisterAtOnce(database)

    async def process(self, incoming: Incoming) -> Outcome:
        """Validate and execute one command. Infrastructure errors propagate (the message is retried)."""
        if not incoming.message_id:
            raise Unprocessable("the message has no message_id property")
        name = incoming.type if incoming.type in COMMANDS else "invalid"
        try:
            command = parse(incoming, COMMANDS)
        except ContractError as exc:
            return Outcome(name, str(exc.code), Reply.failure(exc.code, exc.message), echo_headers(incoming.headers))
        headers = command.headers.to_amqp()
        if isinstance(command.args, c.RegisterEvent):  # the hot command: one statement in the common case
            reply = await self._register_at_once(command, self._clock())
            if reply is not None:
                return Outcome(command.name, "ok", reply, headers)
        async with self._database.session() as session:
            if type(command.args).read_only:  # nothing to do at most once: no record, the answer is fresh
                try:
                    return Outcome(command.name, "ok", await self._execute(session, command, remember=False), headers)
                except DomainError as exc:
                    return Outcome(command.name, str(exc.code), Reply.failure(exc.code, exc.message), headers)
            stored = await session.stored_reply(command.message_id)
            if stored is not None:
                return _repeated(command, stored, headers)
            try:
                reply = await self._execute(session, command)
                return Outcome(command.name, "ok", reply, headers)
            except DomainError as exc:
                reply = Reply.failure(exc.code, exc.message)
                if await session.remember_reply(
                    command.message_id, command.user_id, command.name, reply.model_dump(mode="json")
                ):
                    return Outcome(command.name, str(exc.code), reply, headers)
            except _AlreadyProcessed:
                pass
            # A concurrent delivery of the same message id committed first: answer as it did.
            stored = await session.stored_reply(command.message_id)
        assert stored is not None
        return _repeated(command, stored, headers)

    async def _execute(self, session: Session, command: Received[Any], *, remember: bool = True) -> Reply:
        """Run the handler and record its reply in one transaction, again while a race spoils it."""
        handler = self._handlers[type(command.args)]
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with session.transaction() as store:
                    reply = Reply.success(await handler(store, command, self._clock()))
                    if remember and not await session.remember_reply(
                        command.message_id, command.user_id, command.name, reply.model_dump(mode="json")
                    ):
                        raise _AlreadyProcessed
                return reply
            except ConcurrentUpdate:
                if attempt == MAX_ATTEMPTS:
                    raise
                logger.debug("command %s raced another; attempt %d", command.message_id, attempt + 1)
        raise AssertionError("unreachable")


def _repeated(command: Received[Any], stored: StoredReply, headers: dict[str, Any]) -> Outcome:
    """The answer to a message id seen before: the first reply again, as it was first sent (the database keeps
    JSON keys in an order of its own); refused, revealing nothing, when the id was another user's or
    another command's."""
    if (stored.user_id, stored.command) != (command.user_id, command.name):
        code = ErrorCode.BAD_REQUEST
        refusal = Reply.failure(code, "this message id was used before for another command: send a new one")
        return Outcome(command.name, str(code), refusal, headers)
    reply = Reply.model_validate(stored.reply)
    if reply.ok and reply.data is not None:
        reply = Reply.success(type(command.args).reply.model_validate(reply.data))
    return Outcome(command.name, "duplicate", reply, headers)


class _AlreadyProcessed(Exception):
    """Rolls back a transaction whose message id another delivery recorded first."""
