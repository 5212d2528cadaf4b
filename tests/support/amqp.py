"""The bot's side of the broker, for tests and benchmarks: publish commands, collect replies."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aio_pika

from contracts import topology


class BotSide:
    """Publishes commands to datemaker's queue and gathers every message on the bot's queue."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.replies: dict[str, list[aio_pika.abc.AbstractIncomingMessage]] = {}
        self.notifications: list[aio_pika.abc.AbstractIncomingMessage] = []
        self._waiters: dict[str, asyncio.Future] = {}
        self._arrived = asyncio.Condition()

    async def start(self) -> None:
        from chathub_common.rabbit import Broker

        self.broker = Broker(
            self.settings.rabbitmq_url(),
            exchange=self.settings.rabbitmq_exchange,
            env=self.settings.chathub_env,
            connection_name="tests-bot-side",
            prefetch=500,
        )
        await self.broker.connect()
        self.connection = await aio_pika.connect_robust(self.settings.rabbitmq_url())
        self.channel = await self.connection.channel()
        await self.channel.set_qos(prefetch_count=500)
        name = topology.bot_queue(self.settings.chathub_env)
        [spec] = [
            s for s in topology.queues(self.settings.chathub_env, self.settings.rabbitmq_exchange) if s.name == name
        ]
        # declared, so that the robust connection restores the consumer after the broker restarts
        self.queue = await self.channel.declare_queue(name, durable=True, arguments=spec.arguments)
        await self.queue.purge()
        self._tag = await self.queue.consume(self._on_message)

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await message.ack()
        if message.correlation_id:
            self.replies.setdefault(message.correlation_id, []).append(message)
            waiter = self._waiters.pop(message.correlation_id, None)
            if waiter and not waiter.done():
                waiter.set_result(message)
        else:
            self.notifications.append(message)
        async with self._arrived:
            self._arrived.notify_all()

    async def send(
        self,
        command: str | None,
        body: Any = None,
        *,
        user_id: int | str | None = None,
        headers: dict[str, Any] | None = None,
        message_id: str | None = None,
        raw: bytes | None = None,
    ) -> str:
        """Publish a command (JSON ``body``, or ``raw`` bytes); its message id."""
        all_headers = dict(headers or {})
        if user_id is not None:
            all_headers.setdefault("user_id", user_id)
            all_headers.setdefault("chat_id", user_id)
        payload = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
        message_id = message_id or uuid.uuid4().hex
        return await self.broker.publish(
            topology.datemaker_queue(self.settings.chathub_env),
            payload,
            type=command,
            message_id=message_id,
            headers=all_headers,
        )

    async def reply_to(self, message_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The decoded body of the first reply to ``message_id``."""
        if message_id not in self.replies:
            future = self._waiters.setdefault(message_id, asyncio.get_running_loop().create_future())
            await asyncio.wait_for(asyncio.shield(future), timeout)
        return json.loads(self.replies[message_id][0].body)

    async def call(self, command: str | None, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Send a command and wait for its reply body."""
        timeout = kwargs.pop("timeout", 10.0)
        return await self.reply_to(await self.send(command, body, **kwargs), timeout)

    async def stop(self) -> None:
        await self.queue.cancel(self._tag)
        await self.connection.close()
        await self.broker.close()


async def drop_topology(settings: Any) -> None:
    """Delete the run's queues and exchange."""
    connection = await aio_pika.connect(settings.rabbitmq_url())
    try:
        channel = await connection.channel()
        for spec in topology.queues(settings.chathub_env, settings.rabbitmq_exchange):
            await channel.queue_delete(spec.name)
        await channel.exchange_delete(settings.rabbitmq_exchange)
    finally:
        await connection.close()
