"""The real PostgreSQL and RabbitMQ restarted under a running datemaker: nothing lost, nothing twice.

These restart the machine's services, so they run last in the suite (see conftest's ordering)."""

import asyncio
import json
import urllib.request
import uuid

import pytest

from chathub_common.rabbit import Broker, PublishError
from tests.conftest import wait_for
from tests.support.factories import create_event, create_participant
from tests.support.processes import free_port
from tests.support.services import can_restart, start_postgres, start_rabbitmq, stop_postgres, stop_rabbitmq

pytestmark = pytest.mark.skipif(can_restart() is not None, reason=str(can_restart()))


async def publish_until_confirmed(broker: Broker, queue: str, user: int, event: int) -> str:
    """What a careful client does: the same message (same id) again until the broker confirms it."""
    message_id = uuid.uuid4().hex
    while True:
        try:
            await broker.publish(queue, json.dumps({"event_id": event}).encode(), type="register_event",
                                 message_id=message_id, headers={"user_id": user})  # fmt: skip
            return message_id
        except PublishError:
            await asyncio.sleep(0.5)


async def readyz(port: int) -> int:
    def get() -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    return await asyncio.to_thread(get)


async def commands_through_an_outage(isolated, outage, restore, users: int = 150):
    """Commands flow while ``outage`` happens; afterwards every one of them has exactly one effect and reply."""
    port = free_port()
    service = isolated.datemaker(METRICS_PORT=str(port)).start()
    event = await create_event(isolated.pool, users_limit=10_000)
    people = [await create_participant(isolated.pool) for _ in range(users)]
    broker = Broker(isolated.settings.rabbitmq_url(), exchange=isolated.settings.rabbitmq_exchange,
                    env=isolated.settings.chathub_env, connection_name="client", publish_timeout=3)  # fmt: skip
    await broker.connect()
    try:
        await wait_for(lambda: _is(readyz(port), 200), timeout=30, interval=0.3)
        sent = []

        async def flow():
            for user in people:
                sent.append(await publish_until_confirmed(broker, isolated.settings.command_queue, user, event))
                await asyncio.sleep(0.02)

        flowing = asyncio.create_task(flow())
        await asyncio.sleep(0.5)
        await outage()
        await wait_for(lambda: _is(readyz(port), 503), timeout=30, interval=0.3)
        await asyncio.sleep(2)
        await restore()
        await flowing
        await wait_for(lambda: all(m in isolated.bot.replies for m in sent), timeout=120, interval=0.5)
        await wait_for(lambda: _is(readyz(port), 200), timeout=60, interval=0.3)
    finally:
        service.stop()
        await broker.close()
    assert len(sent) == users
    for message_id in sent:
        replies = isolated.bot.replies[message_id]
        assert {r.message_id for r in replies} == {f"{message_id}.result"}, "two different replies to one command"
        assert len({r.body for r in replies}) == 1, "two different replies to one command"
        assert json.loads(replies[0].body)["data"]["status"] == "registered"
    counts = await isolated.pool.fetchrow(
        "SELECT count(*) AS rows, (SELECT registered_count FROM dating_events WHERE id = $1) AS seats "
        "FROM registrations WHERE event_id = $1",
        event,
    )
    assert tuple(counts) == (users, users), "a command was lost or done twice"


async def _is(status, expected):
    return await status == expected


async def test_rabbitmq_restarted_while_commands_flow(isolated):
    await commands_through_an_outage(isolated, stop_rabbitmq, start_rabbitmq)


async def test_postgres_restarted_while_commands_flow(isolated):
    try:
        await commands_through_an_outage(isolated, stop_postgres, start_postgres)
    finally:
        await start_postgres()  # whatever happened, leave it running
