"""``python -m datemaker dead-letters list|replay`` on real RabbitMQ and a real datemaker: what died and why, and
each replayed command handled once."""

from __future__ import annotations

import asyncio

from chathub_common.delivery import DeadLetter, Disposition, dead_letter_of
from contracts import topology
from tests.conftest import wait_for
from tests.support.cli import datemaker_cli
from tests.support.factories import create_event, create_participant
from tests.support.processes import service_env


def test_a_dead_letter_is_read_from_its_x_death_headers():
    headers = {"user_id": 7, "x-death": [{"count": 5, "reason": "rejected", "queue": "datemaker_dev", "exchange": "x"}]}
    letter = dead_letter_of(b"{}", "m1", "register_event", headers)
    assert letter == DeadLetter("m1", "register_event", "7", "datemaker_dev", "rejected", 5, None, b"{}")
    assert dead_letter_of(b"", None, None, None).queue is None


async def test_dead_letters_are_listed_with_why_and_replayed_each_handled_once(isolated):
    settings = isolated.settings
    user = await create_participant(isolated.pool)
    event = await create_event(isolated.pool)
    broker = isolated.bot.broker

    async def buggy(incoming):  # a datemaker with a bug: every command fails for its own sake
        return Disposition.DEAD_LETTER

    await broker.consume(topology.datemaker_queue(settings.chathub_env), buggy)
    ids = [
        await isolated.bot.send("register_event", {"event_id": event}, user_id=user),
        await isolated.bot.send("get_profile", {}, user_id=user),
    ]
    dead = topology.dead_letter_queue(topology.datemaker_queue(settings.chathub_env))
    await wait_for(lambda: _depth(broker, dead, 2), timeout=10)
    await broker.stop_consuming(1.0)

    env = service_env(settings)
    listed = await datemaker_cli(
        "dead-letters", "list", "--queue", topology.datemaker_queue(settings.chathub_env), **env
    )
    assert listed.code == 0, listed.err
    assert f"{dead}: 2 message(s)" in listed.out
    for message_id in ids:
        assert message_id in listed.out
    assert "rejected ×1" in listed.out and "register_event" in listed.out
    assert await broker.queue_depth(dead) == 2, "list leaves them where they are"
    refused = await datemaker_cli("dead-letters", "list", "--queue", "nope", **env)
    assert refused.code == 2 and "unknown queue 'nope'" in refused.err

    datemaker = isolated.datemaker().start()
    try:
        replayed = await datemaker_cli("dead-letters", "replay", **env)
        assert replayed.code == 0, replayed.err
        assert f"{dead}: 2 message(s) replayed" in replayed.out
        registered = await isolated.bot.reply_to(ids[0], timeout=30)
        assert registered["ok"] and registered["data"]["status"] == "registered"
        assert (await isolated.bot.reply_to(ids[1]))["ok"]
        # The same command once more (a second replay, a redelivery): the same reply, no second effect.
        await isolated.bot.send("register_event", {"event_id": event}, user_id=user, message_id=ids[0])
        await wait_for(lambda: len(isolated.bot.replies[ids[0]]) == 2, timeout=10)
        assert await isolated.pool.fetchval("SELECT count(*) FROM registrations WHERE user_id = $1", user) == 1
        assert await broker.queue_depth(dead) == 0
    finally:
        datemaker.stop()


async def _depth(broker, queue: str, expected: int) -> bool:
    await asyncio.sleep(0)
    return await broker.queue_depth(queue) >= expected
