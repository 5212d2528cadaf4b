"""Publishes the outbox: messages the event runners wrote to the database, to the bot's queue.

A batch of unsent rows is claimed (``FOR UPDATE SKIP LOCKED``, so several instances share the work),
published concurrently with publisher confirms (a person's results in order), highest priority first, and
marked sent in the same transaction. A crash before the mark means the batch is published again with the
same message ids, which receivers drop: at least once on the wire, once for the user.

A match's contacts are read when the message is published, not when it was decided: a username changed
since is the new one, and someone who erased their data or was banned since is no longer anybody's contact, nor
is anybody's contact told to someone banned since (a message left with no contact at all is not sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import asyncpg

from contracts.notifications import Priority, SendMatchMessage
from datemaker.adapters.postgres import rules
from datemaker.service.ports import Publisher

logger = logging.getLogger(__name__)


_CLAIM = f"""
    SELECT o.id, o.message_id, o.user_id, o.priority, o.type, o.headers,
           CASE WHEN o.type = '{SendMatchMessage.type}' THEN jsonb_set(o.body, '{{matches}}', (
               SELECT coalesce(jsonb_agg(
                          jsonb_build_object('user_id', u.user_id, 'name', u.name, 'username', u.username)
                          ORDER BY m.n), '[]'::jsonb)
               FROM jsonb_array_elements(o.body -> 'matches') WITH ORDINALITY AS m(contact, n)
               JOIN users u ON u.user_id = (m.contact ->> 'user_id')::bigint AND u.erased_at IS NULL
                               AND {rules.may_match("u.user_id")} AND {rules.may_match("o.user_id")}))
           ELSE o.body END AS body,
           CASE WHEN o.type = '{SendMatchMessage.type}' THEN jsonb_array_length(o.body -> 'matches') ELSE 0 END
               AS contacts_listed
    FROM outbox o WHERE o.sent_at IS NULL
    ORDER BY o.priority, o.id LIMIT $1 FOR UPDATE OF o SKIP LOCKED"""
"""A batch of unsent messages, most urgent first, with matches' contacts as they are now."""


class OutboxRelay:
    """Runs until stopped; :meth:`wake` makes its workers look at the outbox at once."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: Publisher,
        routing_key: str,
        *,
        batch: int = 250,
        concurrency: int = 250,
        idle_poll: float = 1.0,
        workers: int = 3,
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._routing_key = routing_key
        self._batch = batch
        self._concurrency = concurrency
        self._idle_poll = idle_poll
        self._workers = workers
        self._wakeups = [asyncio.Event() for _ in range(workers)]
        self._tasks: list[asyncio.Task[None]] = []
        self.published = 0

    def wake(self) -> None:
        for wakeup in self._wakeups:
            wakeup.set()

    def start(self) -> None:
        """Start the workers: each claims its own batches, so one waits for confirms while another sends."""
        self._tasks = [
            asyncio.create_task(self._run(wakeup), name=f"outbox-relay-{i}") for i, wakeup in enumerate(self._wakeups)
        ]

    async def stop(self, drain_seconds: float = 5.0) -> None:
        """Stop the workers, then publish what is left for up to ``drain_seconds``: a step taken just before a
        stop reaches its people now, not when the next instance starts. Whatever is still unsent then stays in
        the outbox for the next one."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        with contextlib.suppress(TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            async with asyncio.timeout(drain_seconds):
                while True:
                    sent, failed = await self.publish_batch()
                    if failed or sent < self._batch:
                        break

    async def _run(self, wakeup: asyncio.Event) -> None:
        failures = 0
        while True:
            try:
                sent, failed = await self.publish_batch()
                failures = failures + 1 if failed and not sent else 0
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                logger.warning("outbox relay: %r", exc)
                sent, failures = 0, failures + 1
            if sent == self._batch:
                continue  # more is probably waiting
            delay = min(self._idle_poll * (2**failures), 10.0) if failures else self._idle_poll
            wakeup.clear()
            try:
                async with asyncio.timeout(delay):
                    await wakeup.wait()
            except TimeoutError:
                pass

    async def publish_batch(self) -> tuple[int, int]:
        """Publish one batch of unsent messages; (published, failed)."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM, self._batch)
            if not rows:
                return 0, 0
            limit = asyncio.Semaphore(self._concurrency)

            async def publish(row: asyncpg.Record) -> int | None:
                if row["contacts_listed"] and not row["body"]["matches"]:
                    return row["id"]  # every contact erased their data: nothing left to tell
                async with limit:
                    try:
                        await self._publisher.publish(
                            self._routing_key,
                            json.dumps(row["body"], ensure_ascii=False).encode(),
                            type=row["type"],
                            message_id=row["message_id"],
                            headers=row["headers"],
                        )
                    except Exception as exc:
                        logger.warning("outbox message %s not published: %r", row["message_id"], exc)
                        return None
                    return row["id"]

            async def publish_in_turn(rows: list[asyncpg.Record]) -> list[int | None]:
                return [await publish(row) for row in rows]

            # A person's results (NORMAL: their final message, then their matches) go out one after another, in the
            # outbox's order; everything else at once: links and a round's messages cannot wait for a confirm.
            results_of: dict[int, list[asyncpg.Record]] = {}
            at_once: list[list[asyncpg.Record]] = []
            for row in rows:
                if row["priority"] == Priority.NORMAL:
                    results_of.setdefault(row["user_id"], []).append(row)
                else:
                    at_once.append([row])
            results = await asyncio.gather(*(publish_in_turn(group) for group in [*at_once, *results_of.values()]))
            sent = [r for mine in results for r in mine if r is not None]
            await conn.execute("UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", sent)
        self.published += len(sent)
        return len(sent), len(rows) - len(sent)
