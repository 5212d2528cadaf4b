"""At-least-once delivery, effects exactly once: repeated ids, crashes before ack, dead-lettering."""

import asyncio
import json
import uuid

import aio_pika
import pytest

from chathub_common.rabbit import Broker
from contracts import topology
from contracts.commands import ListEvents
from datemaker.adapters.postgres.store import TRANSIENT_ERRORS, PostgresDatabase
from datemaker.app import utc_now
from datemaker.service.commands import HANDLERS
from datemaker.service.dispatch import CommandProcessor
from datemaker.service.intake import CommandIntake
from tests.conftest import wait_for
from tests.support.amqp import BotSide, drop_topology
from tests.support.factories import create_event, create_participant
from tests.support.processes import ServiceProcess, isolated_settings, service_env


async def registrations(pool, event_id):
    return await pool.fetchrow(
        "SELECT count(*) AS rows, (SELECT registered_count FROM dating_events WHERE id = $1) AS counted "
        "FROM registrations WHERE event_id = $1",
        event_id,
    )


@pytest.mark.usefixtures("datemaker")
async def test_repeated_message_id_repeats_the_reply_not_the_effect(bot, clean_db):
    event = await create_event(clean_db, users_limit=1)
    first, second = await create_participant(clean_db), await create_participant(clean_db)
    message_id = uuid.uuid4().hex
    reply = await bot.reply_to(
        await bot.send("register_event", {"event_id": event}, user_id=first, message_id=message_id)
    )
    await bot.send("register_event", {"event_id": event}, user_id=first, message_id=message_id)
    await wait_for(lambda: len(bot.replies[message_id]) == 2)
    assert [json.loads(m.body) for m in bot.replies[message_id]] == [reply, reply]
    assert reply["ok"] and reply["data"]["status"] == "registered"
    # An error reply is remembered too, even once the reason for it is gone.
    refused_id = uuid.uuid4().hex
    await bot.send("register_event", {"event_id": event}, user_id=second, message_id=refused_id)
    assert (await bot.reply_to(refused_id))["data"]["status"] == "waitlisted"
    assert tuple(await registrations(clean_db, event)) == (2, 1)


@pytest.mark.usefixtures("datemaker")
async def test_concurrent_copies_of_one_command_have_one_effect(bot, clean_db):
    event = await create_event(clean_db)
    user = await create_participant(clean_db)
    message_id = uuid.uuid4().hex
    await asyncio.gather(
        *(bot.send("register_event", {"event_id": event}, user_id=user, message_id=message_id) for _ in range(8))
    )
    await wait_for(lambda: len(bot.replies.get(message_id, [])) == 8)
    bodies = {m.body for m in bot.replies[message_id]}
    assert len(bodies) == 1, bodies
    assert tuple(await registrations(clean_db, event)) == (1, 1)


async def dead_letters(settings, queue: str, expected: int, timeout: float = 15.0) -> list[aio_pika.IncomingMessage]:
    connection = await aio_pika.connect(settings.rabbitmq_url())
    got = []
    try:
        channel = await connection.channel()
        dead = await channel.get_queue(topology.dead_letter_queue(queue))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(got) < expected and loop.time() < deadline:
            message = await dead.get(fail=False)
            if message is None:
                await asyncio.sleep(0.1)
                continue
            await message.ack()
            got.append(message)
    finally:
        await connection.close()
    return got


async def test_poison_message_is_retried_then_dead_lettered_with_an_error_reply(settings, pool):
    """A command whose handler keeps failing is tried DELIVERY_LIMIT times, answered, and kept."""
    own = isolated_settings(settings)
    attempts = []

    async def broken(store, command, now):
        attempts.append(now)
        raise RuntimeError("a bug")

    broker = Broker(own.rabbitmq_url(), exchange=own.rabbitmq_exchange, env=own.chathub_env, connection_name="t")
    side = BotSide(own)
    try:
        await broker.connect()
        await side.start()
        processor = CommandProcessor(PostgresDatabase(pool), utc_now, {**HANDLERS, ListEvents: broken})
        intake = CommandIntake(processor, broker, own.bot_queue, transient_errors=TRANSIENT_ERRORS)
        await broker.consume(own.command_queue, intake)
        reply = await side.call("list_events", {}, user_id=9, timeout=20)
        assert reply["error"]["code"] == "internal_error"
        [kept] = await dead_letters(own, own.command_queue, 1)
        assert kept.type == "list_events"
        assert len(attempts) == topology.DELIVERY_LIMIT
    finally:
        await side.stop()
        await broker.close()
        await drop_topology(own)


async def test_datemaker_killed_mid_stream_processes_every_command_once(settings, clean_db, tmp_path):
    """SIGKILL while commands are in flight (committed, not yet acknowledged); the restart finishes the job."""
    own = isolated_settings(settings)
    event = await create_event(clean_db, users_limit=100_000)
    users = [await create_participant(clean_db, gender="MF"[i % 2]) for i in range(400)]
    side = BotSide(own)
    await side.start()
    env = service_env(own, DATEMAKER_PREFETCH="64")
    try:
        ids = [await side.send("register_event", {"event_id": event}, user_id=u) for u in users]
        first = ServiceProcess("datemaker", ["serve", "--no-migrate"], env, tmp_path / "datemaker.log").start()
        await wait_for(lambda: len(side.replies) >= 60, timeout=60)
        first.kill()
        answered_before = len(side.replies)
        assert answered_before < len(ids), "the kill came too late to test anything"
        second = ServiceProcess("datemaker", ["serve", "--no-migrate"], env, tmp_path / "datemaker.log").start()
        try:
            await wait_for(lambda: all(i in side.replies for i in ids), timeout=60)
        finally:
            second.stop()
        for message_id in ids:
            bodies = {m.body for m in side.replies[message_id]}
            assert len(bodies) == 1, (message_id, bodies)  # a redelivered command repeats its reply
            assert json.loads(bodies.pop())["data"]["status"] == "registered"
        assert tuple(await registrations(clean_db, event)) == (len(users), len(users))
        assert await clean_db.fetchval("SELECT count(*) FROM processed_messages") == len(users)
    finally:
        await side.stop()
        await drop_topology(own)
