"""From a received message to exactly one reply: validation, idempotency, the handler's transaction.

A repeated ``message_id`` gets the first reply again and repeats no effect: the reply is stored in
the same transaction as the command's effect, and looked up before any work is done.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from contracts.commands import DATEMAKER_COMMANDS
from contracts.envelope import Command, Incoming, Reply, parse_command
from contracts.errors import ContractError
from datemaker.domain.errors import ConcurrentUpdate, DomainError
from datemaker.service.commands import FAST_PATHS, HANDLERS, FastPath, Handler
from datemaker.service.events import EventCache
from datemaker.service.ports import Clock, Database, Session

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
        if isinstance(value, int) and not isinstance(value, bool):
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
        handlers: Mapping[str, Handler] = HANDLERS,
        registry: Mapping[str, type[BaseModel]] = DATEMAKER_COMMANDS,
        fast_paths: Mapping[str, FastPath] = FAST_PATHS,
    ) -> None:
        self._database = database
        self._clock = clock
        self._handlers = handlers
        self._registry = registry
        self._fast_paths = fast_paths
        self._events = EventCache()

    async def process(self, incoming: Incoming) -> Outcome:
        """Validate and execute one command. Infrastructure errors propagate (the message is retried)."""
        if not incoming.message_id:
            raise Unprocessable("the message has no message_id property")
        name = incoming.type if incoming.type in self._registry else "invalid"
        try:
            command = parse_command(incoming, self._registry)
        except ContractError as exc:
            return Outcome(name, str(exc.code), Reply.failure(exc.code, exc.message), echo_headers(incoming.headers))
        headers = command.headers.to_amqp()
        async with self._database.session() as session:
            fast_path = self._fast_paths.get(command.name)
            if fast_path is not None:
                data = await fast_path(session, command, self._clock(), self._events)
                if data is not None:
                    return Outcome(command.name, "ok", Reply.success(data), headers)
            stored = await session.stored_reply(command.message_id)
            if stored is not None:
                return Outcome(command.name, "duplicate", Reply.model_validate(stored), headers)
            try:
                reply = await self._execute(session, command)
                return Outcome(command.name, "ok", reply, headers)
            except DomainError as exc:
                reply = Reply.failure(exc.code, exc.message)
                if await session.remember_reply(command.message_id, command.name, reply.model_dump(mode="json")):
                    return Outcome(command.name, str(exc.code), reply, headers)
            except _AlreadyProcessed:
                pass
            # A concurrent delivery of the same message id committed first: answer as it did.
            stored = await session.stored_reply(command.message_id)
        assert stored is not None
        return Outcome(command.name, "duplicate", Reply.model_validate(stored), headers)

    async def _execute(self, session: Session, command: Command[Any]) -> Reply:
        """Run the handler and record its reply in one transaction, again while a race spoils it."""
        handler = self._handlers[command.name]
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with session.transaction() as store:
                    reply = Reply.success(await handler(store, command, self._clock()))
                    if not await session.remember_reply(
                        command.message_id, command.name, reply.model_dump(mode="json")
                    ):
                        raise _AlreadyProcessed
                return reply
            except ConcurrentUpdate:
                if attempt == MAX_ATTEMPTS:
                    raise
                logger.debug("command %s raced another; attempt %d", command.message_id, attempt + 1)
        raise AssertionError("unreachable")


class _AlreadyProcessed(Exception):
    """Rolls back a transaction whose message id another delivery recorded first."""
