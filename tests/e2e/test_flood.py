"""A flood of 10,000 malformed or hostile messages while an event runs: every one answered (or
dead-lettered), the event on time, the service healthy, the data intact."""

import asyncio
import json
import random
import urllib.request

import aio_pika

from tests.conftest import wait_for
from tests.e2e.test_event_faults import assert_every_date_linked_once
from tests.support.events import confirmed_event, state_of
from tests.support.journey import notifications
from tests.support.processes import free_port

FLOOD = 10_000
INJECTIONS = ["'; DROP TABLE users; --", "<script>alert(1)</script>", "*bold* _it_ [x](tg://user?id=1)",
              "\u202eevil", "Robert'); DELETE FROM registrations;--", "\x00nul", "😈" * 60]  # fmt: skip


def hostile(rng: random.Random, n: int) -> tuple[bytes, str | None, dict]:
    """The n-th message of the flood: (body, type, headers)."""
    kind = n % 8
    user = rng.choice([rng.randint(1, 10**6), "'; DROP", -5, 2**63 - 1, -(2**63), "", "1.5", None])
    headers = {} if user is None else {"user_id": user}
    if kind == 0:
        return rng.randbytes(rng.randint(0, 2000)), rng.choice(["register_event", "list_events", None]), headers
    if kind == 1:
        body = rng.choice([b"[1, 2]", b"null", b'{"event_id": "x"}', b'{"event_id": 1e308}', b"{", b'"'])
        return body, rng.choice(["register_event", "confirm_registration", "rate_partner"]), headers
    if kind == 2:
        size = rng.choice([70_000, 300_000, 1_000_000]) if n % 40 == 2 else rng.randint(65_600, 70_000)
        return b'{"name": "' + b"A" * size + b'"}', "upsert_profile", headers
    if kind == 3:
        return b"{}", rng.choice(["drop_all", "../../etc/passwd", "x" * 255, "REGISTER_EVENT", "list events"]), headers
    if kind == 4:
        profile = {"name": rng.choice(INJECTIONS)[:64], "gender": "F", "birthday": "1990-01-01",
                   "city": rng.choice(INJECTIONS)[:64], "bio": rng.choice(INJECTIONS)}  # fmt: skip
        return json.dumps(profile).encode(), "upsert_profile", {"user_id": 900_000 + n % 50}
    if kind == 5:
        return json.dumps({"event_id": rng.choice(INJECTIONS)}).encode(), "register_event", headers
    if kind == 6:
        bad = {"user_id": rng.choice(["abc", True, 1.5, "9" * 40, [1]]), "chat_id": "'; DROP"}
        return b"{}", "get_profile", bad
    return b"cancel_registration", None, {"user_id": "5", "event_id": rng.choice(["0", "x", "-1", "9" * 30])}


async def flood(settings, count: int) -> set[str]:
    rng = random.Random(20261122)
    connection = await aio_pika.connect(settings.rabbitmq_url())
    ids = set()
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(settings.rabbitmq_exchange)
        for start in range(0, count, 500):
            batch = []
            for n in range(start, min(count, start + 500)):
                body, type_, headers = hostile(rng, n)
                message = aio_pika.Message(body, type=type_, headers=headers, message_id=f"flood-{n}",
                                           delivery_mode=aio_pika.DeliveryMode.PERSISTENT)  # fmt: skip
                ids.add(message.message_id)
                batch.append(exchange.publish(message, routing_key=settings.command_queue))
            await asyncio.gather(*batch)
    finally:
        await connection.close()
    return ids


async def test_a_flood_of_hostile_messages_does_not_delay_the_event(isolated):
    port = free_port()
    service = isolated.datemaker("datemaker", METRICS_PORT=str(port)).start()
    try:
        event, _ = await confirmed_event(isolated.pool, women=5, men=5, starts_in=8, max_rounds=3)
        sent = await flood(isolated.settings, FLOOD)

        def answered():
            return sum(1 for message_id in sent if message_id in isolated.bot.replies)

        await wait_for(lambda: answered() == FLOOD, timeout=180, interval=0.5)
        await wait_for(lambda: _finished(isolated.pool, event), timeout=60)
        for path in ("healthz", "readyz"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=3) as response:
                assert response.status == 200
    finally:
        service.stop()

    replies = [json.loads(isolated.bot.replies[m][0].body) for m in sent]
    errors = [r["error"]["code"] for r in replies if not r["ok"]]
    assert len(errors) > FLOOD * 0.8, "most of the flood is malformed"
    assert set(errors) <= {"bad_request", "unknown_command", "payload_too_large", "event_not_found",
                           "profile_required", "not_registered"}, set(errors)  # fmt: skip
    # Injection text is data: stored verbatim, nothing executed.
    names = {
        r["name"] for r in await isolated.pool.fetch("SELECT name FROM users WHERE user_id BETWEEN 900000 AND 900049")
    }
    assert names <= {s[:64] for s in INJECTIONS} and names
    assert await isolated.pool.fetchval("SELECT count(*) FROM registrations WHERE event_id = $1", event) == 10

    # The event ran on time, every date got its link.
    lateness = await isolated.pool.fetch(
        """SELECT extract(epoch FROM o.created_at - (e.start_dttm + make_interval(
                      secs => (split_part(split_part(o.message_id, '.invite.r', 2), '.', 1))::int
                               * (e.round_seconds + e.break_seconds) - least(e.break_seconds, 30))))::float AS late
           FROM outbox o JOIN dating_events e ON e.id = o.event_id
           WHERE o.type = 'invite_to_meeting' AND o.event_id = $1
             AND split_part(split_part(o.message_id, '.invite.r', 2), '.', 1) <> '0'""",
        event,
    )
    assert max(r["late"] for r in lateness) < 1.0, lateness
    await assert_every_date_linked_once(isolated.pool, isolated.bot, event)
    assert len({s.user_id for s in notifications(isolated.bot, event) if s.type == "send_match_message"}) == 10


async def _finished(pool, event):
    return await state_of(pool, event) == "FINISHED"
