"""RabbitMQ transport (aio-pika) shared by datemaker and the bot.

- a robust connection that reconnects by itself; strong references to its channels, exchange and queues
  (the robust connection keeps them only weakly);
- the topology of PROTOCOL.md section 2 declared at connect, identically by both services;
- publishing with publisher confirms, ``mandatory`` and persistent delivery, bounded by a timeout;
  a message the broker returns, rejects or does not confirm in time raises :class:`PublishError`;
- consuming with manual acknowledgement: the consumer function decides ack, retry or dead-letter,
  with at most ``prefetch`` messages in flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustExchange,
)

from chathub_common.delivery import Disposition
from contracts import topology
from contracts.envelope import CONTENT_TYPE, Incoming

logger = logging.getLogger(__name__)


def amqp_url(host: str, port: int, virtual_host: str, username: str, password: str, *, tls: bool = False) -> str:
    """The broker's URL; ``tls`` selects ``amqps://`` (Amazon MQ, for one, accepts nothing else)."""
    credentials = f"{quote(username, safe='')}:{quote(password, safe='')}"
    return f"{'amqps' if tls else 'amqp'}://{credentials}@{host}:{port}/{quote(virtual_host, safe='')}"


class PublishError(Exception):
    """The broker did not take responsibility for a message (returned, rejected or timed out)."""


Consumer = Callable[[Incoming], Awaitable[Disposition]]


def to_incoming(message: AbstractIncomingMessage) -> Incoming:
    headers = dict(message.headers or {})
    count = headers.get("x-delivery-count", 0)
    return Incoming(
        body=message.body,
        message_id=message.message_id,
        type=message.type,
        correlation_id=message.correlation_id,
        headers=headers,
        redelivered=bool(message.redelivered),
        delivery_count=count if isinstance(count, int) else 0,
    )


class Broker:
    """One service's connection to RabbitMQ."""

    def __init__(
        self,
        url: str,
        *,
        exchange: str,
        env: str,
        connection_name: str,
        prefetch: int = 64,
        publish_timeout: float = 10.0,
    ) -> None:
        self._url = url
        self.exchange_name = exchange
        self.env = env
        self._connection_name = connection_name
        self._prefetch = prefetch
        self._publish_timeout = publish_timeout
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractRobustChannel | None = None
        self._consume_channel: AbstractRobustChannel | None = None
        self._exchange: AbstractRobustExchange | None = None
        self._queues: dict[str, AbstractQueue] = {}
        self._consumer_tags: dict[str, str] = {}

    @property
    def connected(self) -> bool:
        return self._connection is not None and not self._connection.is_closed and self._connection.connected.is_set()

    async def connect(self, timeout: float = 30.0) -> None:
        """Connect (retrying until ``timeout``) and declare the whole topology."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._connection = await aio_pika.connect_robust(
                    self._url,
                    client_properties={"connection_name": self._connection_name},
                    timeout=min(10.0, timeout),
                )
                break
            except (OSError, aiormq.exceptions.AMQPConnectionError) as exc:
                if time.monotonic() > deadline:
                    raise ConnectionError(f"RabbitMQ is not reachable: {exc}") from exc
                logger.warning("RabbitMQ not reachable yet (%s); retrying", exc)
                await asyncio.sleep(1.0)
        self._publish_channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        self._consume_channel = await self._connection.channel()
        await self._consume_channel.set_qos(prefetch_count=self._prefetch)
        await self._declare(self._publish_channel)

    async def _declare(self, channel: AbstractRobustChannel) -> None:
        self._exchange = await channel.declare_exchange(self.exchange_name, aio_pika.ExchangeType.DIRECT, durable=True)
        for spec in topology.queues(self.env, self.exchange_name):
            queue = await channel.declare_queue(spec.name, durable=True, arguments=spec.arguments)
            await queue.bind(self._exchange, routing_key=spec.name)
            self._queues[spec.name] = queue

    async def publish(
        self,
        routing_key: str,
        body: bytes,
        *,
        type: str,
        message_id: str | None = None,
        correlation_id: str | None = None,
        headers: Mapping[str, Any] | None = None,
        priority: int | None = None,
    ) -> str:
        """Publish a persistent message and wait for the broker's confirm; returns its ``message_id``."""
        assert self._exchange is not None, "connect() first"
        message_id = message_id or uuid.uuid4().hex
        message = aio_pika.Message(
            body,
            content_type=CONTENT_TYPE,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            type=type,
            correlation_id=correlation_id,
            headers=dict(headers or {}),
            priority=priority,
            timestamp=time.time(),
        )
        try:
            async with asyncio.timeout(self._publish_timeout):
                await self._exchange.publish(message, routing_key, mandatory=True, timeout=self._publish_timeout)
        except aiormq.exceptions.PublishError as exc:
            raise PublishError(f"message {message_id} to {routing_key!r} was returned: no queue takes it") from exc
        except aiormq.exceptions.DeliveryError as exc:
            raise PublishError(f"message {message_id} to {routing_key!r} was rejected by the broker") from exc
        except TimeoutError as exc:
            raise PublishError(f"message {message_id} to {routing_key!r} was not confirmed in time") from exc
        except (aiormq.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
            raise PublishError(f"message {message_id} to {routing_key!r} could not be sent: {exc!r}") from exc
        return message_id

    async def consume(self, queue_name: str, consumer: Consumer) -> None:
        """Deliver messages of ``queue_name`` to ``consumer``, concurrently up to the prefetch count."""
        assert self._consume_channel is not None, "connect() first"
        # Declared (not merely looked up) on this channel: the robust channel restores, after a reconnection,
        # only the queues it declared, and with them their consumers.
        spec = next((s for s in topology.queues(self.env, self.exchange_name) if s.name == queue_name), None)
        arguments = spec.arguments if spec is not None else None
        queue = await self._consume_channel.declare_queue(queue_name, durable=True, arguments=arguments)
        self._queues[f"consume:{queue_name}"] = queue

        async def on_message(message: AbstractIncomingMessage) -> None:
            try:
                disposition = await consumer(to_incoming(message))
            except Exception:
                logger.exception("consumer failed on message %s; it will be retried", message.message_id)
                disposition = Disposition.RETRY
            await settle(message, disposition)

        self._consumer_tags[queue_name] = await queue.consume(on_message)

    async def stop_consuming(self) -> None:
        """Stop taking new deliveries (those in flight finish and are settled)."""
        for name, tag in list(self._consumer_tags.items()):
            queue = self._queues.get(f"consume:{name}")
            if queue is not None:
                try:
                    await queue.cancel(tag)
                except Exception as exc:  # the channel may already be gone
                    logger.debug("cancel of consumer %s failed: %r", tag, exc)
            del self._consumer_tags[name]

    async def queue_depth(self, queue_name: str) -> int:
        """Messages ready in ``queue_name`` (unacknowledged ones are not counted by the broker)."""
        assert self._publish_channel is not None, "connect() first"
        # A passive declare at the protocol level: the robust channel's declare_queue would answer from its
        # own records of the queue, not with a fresh count.
        channel = await self._publish_channel.get_underlay_channel()
        declared = await channel.queue_declare(queue_name, passive=True)
        return declared.message_count or 0

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        self._connection = None


async def settle(message: AbstractIncomingMessage, disposition: Disposition) -> None:
    """Acknowledge, requeue or dead-letter; a delivery from a channel lost since is redelivered anyway."""
    try:
        if disposition is Disposition.ACK:
            await message.ack()
        elif disposition is Disposition.RETRY:
            await message.nack(requeue=True)
        else:
            await message.reject(requeue=False)
    except Exception as exc:
        logger.warning(
            "could not %s message %s (%r); the broker will redeliver it", disposition.value, message.message_id, exc
        )
