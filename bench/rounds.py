"""Benchmark of event rounds: many events running at once in one datemaker process.

    .venv/bin/python bench/rounds.py [--events 50] [--people 20] [--rounds 3]

All events start at the same moment, so every round of every event starts together (1,000
participants in the default run). A round's links go out ahead of it (LINK_LEAD_SECONDS, capped by
the break). Prints, per round and overall:
- how late round starts were: from when the round's links were due to their being queued (p50/p99);
- how long from queueing until the round's last `invite_to_meeting` was confirmed by the broker (the
  outbox relay marks a message sent only after its publisher confirm), and when that was relative to
  the round's start (negative: before it).
datemaker runs as its own process against a fresh database and queues, with the Meet emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import aio_pika
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chathub_sim.meet import MeetEmulator  # noqa: E402
from contracts import topology  # noqa: E402
from datemaker.app import prepare_database  # noqa: E402
from datemaker.config import Settings  # noqa: E402
from tests.support.processes import ServiceProcess, service_env  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def create_events(
    pool: asyncpg.Pool, events: int, people: int, rounds: int, starts_in: float, break_seconds: int
) -> list[int]:
    ids = []
    next_user = 1
    for _ in range(events):
        event_id = await pool.fetchval(
            """INSERT INTO dating_events (start_dttm, users_limit, confirm_open_seconds, confirm_deadline_seconds,
                   rules_lead_seconds, round_seconds, break_seconds, max_rounds, group_size)
               VALUES (now() + make_interval(secs => $1), $2, 3600, 1, 5, 4, $4, $3, $2) RETURNING id""",
            starts_in,
            people,
            rounds,
            break_seconds,
        )
        users = list(range(next_user, next_user + people))
        next_user += people
        await pool.copy_records_to_table(
            "users",
            records=[(u, u, f"p{u}", "FM"[u % 2], date(1990 + u % 10, 1 + u % 12, 1), "msk") for u in users],
            columns=["user_id", "chat_id", "name", "gender", "birthday", "city"],
        )
        await pool.executemany(
            """INSERT INTO registrations (event_id, user_id, confirmation_sent_at, confirmed_at)
               VALUES ($1, $2, now(), now())""",
            [(event_id, u) for u in users],
        )
        ids.append(event_id)
    return ids


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lead", type=float, default=25.0, help="seconds from creating the events to their start")
    parser.add_argument("--break-seconds", type=int, default=2)
    parser.add_argument(
        "--link-lead",
        type=float,
        default=30.0,
        help="LINK_LEAD_SECONDS of datemaker; when not below the break, a round's links go out as the previous "
        "round ends (everything at once: the worst case)",
    )
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    settings = Settings().model_copy(
        update={
            "chathub_env": f"bench{run}",
            "rabbitmq_exchange": f"chathub_bench{run}",
            "postgres_db": f"chathub_bench{run}",
        }
    )
    await prepare_database(settings)
    pool = await asyncpg.create_pool(settings.postgres_dsn(), min_size=1, max_size=4)
    meet = MeetEmulator(default_access_type="OPEN")
    await meet.start()
    connection = await aio_pika.connect_robust(settings.rabbitmq_url())
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=1000)
    exchange = await channel.declare_exchange(settings.rabbitmq_exchange, aio_pika.ExchangeType.DIRECT, durable=True)
    for spec in topology.queues(settings.chathub_env, settings.rabbitmq_exchange):
        queue = await channel.declare_queue(spec.name, durable=True, arguments=spec.arguments)
        await queue.bind(exchange, routing_key=spec.name)
    received = 0

    async def drain(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        nonlocal received
        received += 1
        await message.ack()

    bot_queue = await channel.get_queue(settings.bot_queue)
    await bot_queue.consume(drain)
    env = service_env(
        settings,
        MEET_API_ENDPOINT=meet.endpoint,
        MEET_CREATIONS_PER_MINUTE="1000000",
        MEET_PROJECT_CREATIONS_PER_MINUTE="10000000",
        RECONCILE_SECONDS="1",
        RESULTS_DELAY_SECONDS="1",
        LINK_LEAD_SECONDS=str(args.link_lead),
    )
    datemaker = ServiceProcess("datemaker", ["serve", "--no-migrate"], env, ROOT / ".bench-logs" / "rounds.log")
    datemaker.start()
    try:
        await asyncio.sleep(3)  # let it start
        began = time.monotonic()
        await create_events(pool, args.events, args.people, args.rounds, args.lead, args.break_seconds)
        print(
            f"{args.events} events x {args.people} people ({args.events * args.people} participants), "
            f"{args.rounds} rounds each, all starting together; created in {time.monotonic() - began:.1f}s; "
            f"break {args.break_seconds}s, link lead {args.link_lead}s"
        )
        deadline = time.monotonic() + args.lead + args.rounds * (4 + args.break_seconds) + 60
        while time.monotonic() < deadline:
            finished = await pool.fetchval("SELECT count(*) FROM dating_events WHERE state_id = 4")
            if finished == args.events:
                break
            await asyncio.sleep(1)
        else:
            print("not every event finished in time")
        rows = await pool.fetch(
            """SELECT d.round_no,
                      e.start_dttm + make_interval(secs => d.round_no * (e.round_seconds + e.break_seconds)) AS starts,
                      CASE WHEN d.round_no = 0 THEN least(e.rules_lead_seconds::float8, $1::float8)
                           ELSE least(e.break_seconds::float8, $1::float8)
                      END AS lead,
                      min(o.created_at) AS queued, max(o.sent_at) AS confirmed, count(*) AS links
               FROM outbox o
               JOIN event_dates d ON d.event_id = o.event_id
                    AND o.message_id LIKE 'chathub.e' || d.event_id || '.invite.r' || d.round_no || '.u%'
                    AND o.user_id IN (d.user_a, d.user_b)
               JOIN dating_events e ON e.id = d.event_id
               WHERE o.type = 'invite_to_meeting'
               GROUP BY d.event_id, d.round_no, e.start_dttm, e.round_seconds, e.break_seconds, e.rules_lead_seconds""",
            args.link_lead,
        )
        spaces = meet.stats()["spaces_created"]
        print(f"Meet spaces created: {spaces}; messages to the bot received: {received}")
        lateness_all, relay_all, ahead_all = [], [], []
        for round_no in sorted({r["round_no"] for r in rows}):
            mine = [r for r in rows if r["round_no"] == round_no]
            due = [r["starts"] - timedelta(seconds=float(r["lead"])) for r in mine]
            lateness = [(r["queued"] - d).total_seconds() for r, d in zip(mine, due, strict=True)]
            first_queued = min(r["queued"] for r in mine)
            last_confirmed = max(r["confirmed"] for r in mine)
            relay = (last_confirmed - first_queued).total_seconds()
            ahead = (last_confirmed - mine[0]["starts"]).total_seconds()
            lateness_all += lateness
            relay_all.append(relay)
            ahead_all.append(ahead)
            print(
                f"  round {round_no + 1}: {sum(r['links'] for r in mine)} links in {len(mine)} events; "
                f"lateness p50 {statistics.median(lateness):.3f}s p99 {percentile(lateness, 0.99):.3f}s; "
                f"queued to last confirmed {relay:.3f}s; last confirmed {ahead:+.3f}s from the round's start"
            )
        print(
            f"overall: round-start lateness p50 {statistics.median(lateness_all):.3f}s "
            f"p99 {percentile(lateness_all, 0.99):.3f}s (target p99 < 0.5 s); "
            f"queued to last link confirmed, worst round {max(relay_all):.3f}s (target < 1 s); "
            f"every round's links confirmed before it started: {max(ahead_all) < 0}"
        )
    finally:
        datemaker.stop()
        await meet.stop()
        for spec in topology.queues(settings.chathub_env, settings.rabbitmq_exchange):
            await channel.queue_delete(spec.name)
        await channel.exchange_delete(settings.rabbitmq_exchange)
        await connection.close()
        await pool.close()
        admin = await asyncpg.connect(settings.postgres_dsn("postgres"))
        await admin.execute(f'DROP DATABASE IF EXISTS "{settings.postgres_db}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    os.chdir(ROOT)
    asyncio.run(main())
