"""RabbitMQ transport (aio-pika) shared by datemaker and the bot.

- a robust connection that reconnects by itself; strong references to its channels, exchange and queues
  (the robust connection keeps them only weakly);
- the topology of docs/protocol.md section 2 declared at connect, identically by both services;
- publishing with publisher confirms, ``mandatory`` and persistent delivery, bounded by a timeout;
  a message the broker returns, rejects or does not confirm in time raises :class:`PublishError`;
- consuming with manual acknowledgement: the consumer function decides ack, retry, defer or dead-letter,
  with at most ``prefetch`` messages in flight; stopping waits until the deliveries in flight are settled.
  A deferred delivery is published again, unchanged but for a ``x-chathub-deferrals`` header counting its
  deferrals, to the back of its queue, and then acknowledged (a quorum queue's delivery limit counts every
  return of a message, so a message waiting out an outage must not be returned).
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

from chathub_common.delivery import DeadLetter, Disposition, dead_letter_of
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

_BROKER_HEADERS = frozenset(
    {"x-delivery-count", "x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason"}
    | {"x-last-death-exchange", "x-last-death-queue", "x-last-death-reason"}
)


def without_broker_headers(headers: Mapping[str, Any] | None) -> dict[str, Any]:
    """A message's own headers, without those the broker added (delivery count, dead-lettering history): for a
    copy published again, which the broker must count afresh."""
    return {key: value for key, value in (headers or {}).items() if key not in _BROKER_HEADERS}


REPLAYS_HEADER = "x-chathub-replays"
"""How many times an operator replayed a message from a dead-letter queue."""
DEFERRALS_HEADER = "x-chathub-deferrals"
"""How many times a message was put back at the end of its queue to wait out an outage."""


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
        self._in_flight = 0
        self._settled = asyncio.Event()
        self._settled.set()

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
            async with asyncio.timeout(self._publish_timeout):  # also while a robust channel waits to reconnect
                await self._exchange.publish(message, routing_key, mandatory=True)
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
            self._in_flight += 1
            self._settled.clear()
            try:
                try:
                    disposition = await consumer(to_incoming(message))
                except Exception:
                    logger.exception("consumer failed on message %s; it will be retried", message.message_id)
                    disposition = Disposition.RETRY
                if disposition is Disposition.DEFER:
                    disposition = await self._defer(queue_name, message)
                await settle(message, disposition)
            finally:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._settled.set()

        self._consumer_tags[queue_name] = await queue.consume(on_message)

    async def _defer(self, queue_name: str, message: AbstractIncomingMessage) -> Disposition:
        """Publish a copy of ``message`` to the back of ``queue_name``; then the delivery may be acknowledged.
        If the copy cannot be published, the delivery is returned instead (and that counts as a delivery)."""
        headers = without_broker_headers(message.headers)
        deferrals = headers.get(DEFERRALS_HEADER, 0)
        headers[DEFERRALS_HEADER] = (deferrals if isinstance(deferrals, int) else 0) + 1
        try:
            await self.publish(
                queue_name,
                message.body,
                type=message.type or "",
                message_id=message.message_id,
                correlation_id=message.correlation_id,
                headers=headers,
                priority=message.priority,
            )
        except PublishError as exc:
            logger.warning("message %s could not be deferred (%s); returning it", message.message_id, exc)
            return Disposition.RETRY
        return Disposition.ACK

    @property
    def in_flight(self) -> int:
        """Deliveries being consumed and not settled yet."""
        return self._in_flight

    async def stop_consuming(self, grace: float = 10.0) -> bool:
        """Stop taking new deliveries, and wait up to ``grace`` seconds for those in flight to be settled;
        whether they all were (the others are redelivered once the connection closes)."""
        for name, tag in list(self._consumer_tags.items()):
            queue = self._queues.get(f"consume:{name}")
            if queue is not None:
                try:
                    await queue.cancel(tag)
                except Exception as exc:  # the channel may already be gone
                    logger.debug("cancel of consumer %s failed: %r", tag, exc)
            del self._consumer_tags[name]
        try:
            async with asyncio.timeout(grace):
                await self._settled.wait()
        except TimeoutError:
            logger.warning("%d deliveries not settled in %.0fs; they will be redelivered", self._in_flight, grace)
            return False
        return True

    async def queue_depth(self, queue_name: str) -> int:
        """Messages ready in ``queue_name`` (unacknowledged ones are not counted by the broker)."""
        assert self._publish_channel is not None, "connect() first"
        # A passive declare at the protocol level: the robust channel's declare_queue would answer from its
        # own records of the queue, not with a fresh count.
        channel = await self._publish_channel.get_underlay_channel()
        declared = await channel.queue_declare(queue_name, passive=True)
        return declared.message_count or 0

    async def dead_letters(self, queue_name: str, limit: int = 1000) -> list[DeadLetter]:
        """Up to ``limit`` messages of the dead-letter queue ``queue_name``, left where they are."""
        assert self._connection is not None, "connect() first"
        channel = await self._connection.channel()
        try:
            queue = await channel.get_queue(queue_name, ensure=False)
            found = []
            while len(found) < limit:
                message = await queue.get(no_ack=False, fail=False)
                if message is None:
                    break
                found.append(dead_letter_of(message.body, message.message_id, message.type, message.headers))
            return found  # unacknowledged: back in the queue when the channel closes
        finally:
            await channel.close()

    async def replay(self, queue_name: str, limit: int | None = None) -> list[DeadLetter]:
        """Publish each message of the dead-letter queue ``queue_name`` to the queue it died in, then take it
        off; at most the messages there at the start (one that dies again is not replayed twice), and at most
        ``limit``. Stops at the first that cannot be published (it stays). The replayed messages."""
        assert self._connection is not None, "connect() first"
        channel = await self._connection.channel()
        replayed: list[DeadLetter] = []
        try:
            underlay = await channel.get_underlay_channel()
            present = (await underlay.queue_declare(queue_name, passive=True)).message_count or 0
            queue = await channel.get_queue(queue_name, ensure=False)
            for _ in range(min(present, limit if limit is not None else present)):
                message = await queue.get(no_ack=False, fail=False)
                if message is None:
                    break
                letter = dead_letter_of(message.body, message.message_id, message.type, message.headers)
                if not letter.queue:
                    logger.warning("message %s has no x-death queue: left in %s", message.message_id, queue_name)
                    await message.nack(requeue=True)
                    continue
                headers = without_broker_headers(message.headers)
                replays = headers.get(REPLAYS_HEADER, 0)
                headers[REPLAYS_HEADER] = (replays if isinstance(replays, int) else 0) + 1
                try:
                    await self.publish(
                        letter.queue,
                        message.body,
                        type=message.type or "",
                        message_id=message.message_id,
                        correlation_id=message.correlation_id,
                        headers=headers,
                        priority=message.priority,
                    )
                except PublishError:
                    await message.nack(requeue=True)
                    raise
                await message.ack()
                replayed.append(letter)
            return replayed
        finally:
            await channel.close()

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
