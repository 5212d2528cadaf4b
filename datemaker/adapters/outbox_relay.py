"""Publishes the outbox: messages the event runners wrote to the database, to the bot's queue.

A batch of unsent rows is claimed (``FOR UPDATE SKIP LOCKED``, so several instances share the work),
published concurrently with publisher confirms, highest priority first, and marked sent in the same
transaction. A crash before the mark means the batch is published again with the same message ids,
which receivers drop: at least once on the wire, once for the user.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import asyncpg

from datemaker.service.ports import Publisher

logger = logging.getLogger(__name__)


class OutboxRelay:
    """Runs until stopped; :meth:`wake` makes it look at the outbox at once."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: Publisher,
        routing_key: str,
        *,
        batch: int = 1000,
        concurrency: int = 1000,
        idle_poll: float = 1.0,
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._routing_key = routing_key
        self._batch = batch
        self._concurrency = concurrency
        self._idle_poll = idle_poll
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
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
            self._wakeup.clear()
            try:
                async with asyncio.timeout(delay):
                    await self._wakeup.wait()
            except TimeoutError:
                pass

    async def publish_batch(self) -> tuple[int, int]:
        """Publish one batch of unsent messages; (published, failed)."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT id, message_id, type, headers, body FROM outbox WHERE sent_at IS NULL
                   ORDER BY priority, id LIMIT $1 FOR UPDATE SKIP LOCKED""",
                self._batch,
            )
            if not rows:
                return 0, 0
            limit = asyncio.Semaphore(self._concurrency)

            async def publish(row: asyncpg.Record) -> int | None:
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

            results = await asyncio.gather(*(publish(row) for row in rows))
            sent = [r for r in results if r is not None]
            await conn.execute("UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", sent)
        self.published += len(sent)
        return len(sent), len(rows) - len(sent)
