"""Benchmark of datemaker's command path: `register_event` end to end, against a same-run ceiling.

    .venv/bin/python bench/commands.py [--commands 3000] [--window 256]

Prints, for datemaker running as its own process (publish → datemaker → commit → reply consumed):
sustained throughput and p50/p99 latency; the same for a bare aio-pika + asyncpg echo with the same
durability (quorum queue with dead-lettering, persistent messages, publisher confirms, manual ack, one
insert and one confirmed reply per message), and the ratio; then the throughput with 50,000 registrations
already in the event vs. none. Rounds alternate between the two servers (each after a CHECKPOINT); the
ratios compare medians.
Uses its own database and queues on the local PostgreSQL and RabbitMQ, removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from statistics import median

import aio_pika
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chathub_common.rabbit import Broker  # noqa: E402
from contracts import topology  # noqa: E402
from datemaker.config import Settings  # noqa: E402
from tests.support.processes import ServiceProcess, service_env  # noqa: E402

CEILING_SQL = "CREATE TABLE IF NOT EXISTS bench_echo (message_id text PRIMARY KEY, body jsonb, at timestamptz)"


async def ceiling_worker(settings: Settings, prefetch: int) -> None:
    """The bare echo: consume, insert one row, publish a persistent reply with a confirm, ack."""
    pool = await asyncpg.create_pool(settings.postgres_dsn(), min_size=2, max_size=settings.datemaker_db_pool_size)
    await pool.execute(CEILING_SQL)
    connection = await aio_pika.connect_robust(settings.rabbitmq_url())
    publish_channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    exchange = await publish_channel.get_exchange(settings.rabbitmq_exchange)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=prefetch)
    queue = await channel.get_queue(settings.command_queue)

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await pool.execute(
            "INSERT INTO bench_echo VALUES ($1, $2, now()) ON CONFLICT DO NOTHING",
            message.message_id,
            message.body.decode(),
        )
        await exchange.publish(
            aio_pika.Message(
                b'{"ok":true,"data":{"status":"registered"}}',
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                correlation_id=message.message_id,
                message_id=f"{message.message_id}.result",
                type="register_event.result",
                headers=dict(message.headers),
            ),
            routing_key=settings.bot_queue,
            mandatory=True,
        )
        await message.ack()

    await queue.consume(on_message)
    print("ready", flush=True)
    await asyncio.Event().wait()


class Load:
    """Publishes commands with at most ``window`` unanswered, and times each until its reply arrives."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sent_at: dict[str, float] = {}
        self.latencies: list[float] = []
        self.done = asyncio.Event()
        self.expected = 0

    async def start(self) -> None:
        self.broker = Broker(
            self.settings.rabbitmq_url(),
            exchange=self.settings.rabbitmq_exchange,
            env=self.settings.chathub_env,
            connection_name="bench-load",
        )
        await self.broker.connect()
        self.connection = await aio_pika.connect_robust(self.settings.rabbitmq_url())
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=1000)
        self.replies = await channel.get_queue(self.settings.bot_queue)
        await self.replies.consume(self._on_reply, no_ack=True)

    async def _on_reply(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        started = self.sent_at.pop(message.correlation_id or "", None)
        if started is None:
            return
        body = json.loads(message.body)
        if not body.get("ok"):
            raise SystemExit(f"unexpected error reply: {body}")
        self.latencies.append(time.perf_counter() - started)
        self.window.release()
        if len(self.latencies) >= self.expected:
            self.done.set()

    async def run(self, event_ids: int | list[int], user_ids: list[int], window: int) -> tuple[float, list[float]]:
        events = event_ids if isinstance(event_ids, list) else [event_ids]
        self.latencies, self.expected, self.done = [], len(user_ids), asyncio.Event()
        self.window = asyncio.Semaphore(window)
        queue = topology.datemaker_queue(self.settings.chathub_env)
        began = time.perf_counter()

        async def one(n: int, user_id: int) -> None:
            body = json.dumps({"event_id": events[n % len(events)]}).encode()
            message_id = uuid.uuid4().hex
            self.sent_at[message_id] = time.perf_counter()
            await self.broker.publish(
                queue,
                body,
                type="register_event",
                message_id=message_id,
                headers={"user_id": user_id, "chat_id": user_id},
            )

        tasks = []
        for n, user_id in enumerate(user_ids):
            await self.window.acquire()
            tasks.append(asyncio.create_task(one(n, user_id)))
        await asyncio.gather(*tasks)
        await asyncio.wait_for(self.done.wait(), 300)
        return time.perf_counter() - began, self.latencies

    async def stop(self) -> None:
        await self.connection.close()
        await self.broker.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measured(load: Load, process: ServiceProcess, events, people, window: int):
    """Run a load and also return the server process's CPU milliseconds per command."""
    before = cpu_seconds(process.process.pid)
    elapsed, latencies = await load.run(events, people, window)
    return elapsed, latencies, (cpu_seconds(process.process.pid) - before) * 1000 / len(people)


def describe(label: str, elapsed: float, latencies: list[float], cpu_ms: float | None = None) -> float:
    rate = len(latencies) / elapsed
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    cpu = f"   server CPU {cpu_ms:.2f} ms/command" if cpu_ms is not None else ""
    print(f"  {label:<44} {rate:8.0f} commands/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms{cpu}")
    return rate


async def make_people(pool: asyncpg.Pool, first_id: int, count: int) -> list[int]:
    ids = list(range(first_id, first_id + count))
    await pool.copy_records_to_table(
        "users",
        records=[(i, i, f"user{i}", "MF"[i % 2], date(1995, 1, 1), "msk") for i in ids],
        columns=["user_id", "chat_id", "name", "gender", "birthday", "city"],
    )
    return ids


async def new_event(pool: asyncpg.Pool) -> int:
    return await pool.fetchval(
        "INSERT INTO dating_events (start_dttm, users_limit) VALUES (now() + interval '30 days', 10000000) RETURNING id"
    )


async def prefill(pool: asyncpg.Pool, event_id: int, user_ids: list[int]) -> None:
    await pool.copy_records_to_table(
        "registrations", records=[(event_id, u) for u in user_ids], columns=["event_id", "user_id"]
    )
    await pool.execute("ANALYZE registrations")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=3000, help="commands per measurement")
    parser.add_argument("--window", type=int, default=256, help="commands in flight at once")
    parser.add_argument("--prefetch", type=int, default=64)
    parser.add_argument("--prefilled", type=int, default=50_000)
    parser.add_argument("--spread", type=int, default=0, help="also measure commands spread over N events")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of datemaker and the ceiling")
    parser.add_argument("--ceiling-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.ceiling_worker:
        await ceiling_worker(Settings(), args.prefetch)
        return

    run = uuid.uuid4().hex[:8]
    base = Settings()
    settings = base.model_copy(
        update={
            "chathub_env": f"bench{run}",
            "rabbitmq_exchange": f"chathub_bench{run}",
            "postgres_db": f"chathub_bench{run}",
        }
    )
    env = service_env(settings, DATEMAKER_PREFETCH=str(args.prefetch))
    from datemaker.app import prepare_database

    await prepare_database(settings)
    pool = await asyncpg.create_pool(settings.postgres_dsn(), min_size=2, max_size=4)
    load = Load(settings)
    await load.start()
    logs = ROOT / ".bench-logs"
    print(f"register_event, {args.commands} commands per run, {args.window} in flight, prefetch {args.prefetch}")
    try:
        people = await make_people(pool, 1, args.commands * (2 * args.rounds + 1))
        batches = [people[args.commands * i : args.commands * (i + 1)] for i in range(2 * args.rounds + 1)]
        warm = batches[-1][: args.commands // 5]
        big = await new_event(pool)
        await prefill(pool, big, await make_people(pool, 10_000_000, args.prefilled))
        project: list[float] = []
        flat: list[float] = []
        bare: list[float] = []
        cpus: dict[str, list[float]] = {"datemaker": [], "ceiling": []}

        async def run(label: str, server: ServiceProcess, events, batch: list[int]) -> float:
            await pool.execute("CHECKPOINT")  # no checkpoint of earlier work lands in the middle of a run
            elapsed, latencies, cpu = await measured(load, server, events, batch, args.window)
            cpus["ceiling" if label.startswith("ceiling") else "datemaker"].append(cpu)
            return describe(label, elapsed, latencies, cpu)

        # Rounds alternate between datemaker and the ceiling, so that whatever else the machine does weighs
        # on both alike; the medians are compared.
        for n in range(args.rounds):
            print(f" round {n + 1} of {args.rounds}")
            datemaker = ServiceProcess("datemaker", ["serve", "--no-migrate"], env, logs / "datemaker.log").start()
            try:
                await load.run(await new_event(pool), warm, args.window)  # warm-up
                project.append(await run("datemaker (own process)", datemaker, await new_event(pool), batches[2 * n]))
                if args.spread and n == 0:
                    spread = [await new_event(pool) for _ in range(args.spread)]
                    elapsed, latencies = await load.run(spread, batches[-1], args.window)
                    describe(f"datemaker, spread over {args.spread} events", elapsed, latencies)
                label = f"datemaker, {args.prefilled:,}+ registrations already in"
                flat.append(await run(label, datemaker, big, batches[2 * n + 1]))
            finally:
                datemaker.stop()
            ceiling = ServiceProcess(
                "bench.commands", ["--ceiling-worker", "--prefetch", str(args.prefetch)], env, logs / "ceiling.log"
            )
            ceiling.module = "bench.commands"
            ceiling.start()
            try:
                await asyncio.sleep(2)
                await load.run(0, warm, args.window)  # warm-up
                bare.append(await run("ceiling: bare aio-pika + asyncpg echo", ceiling, 0, batches[2 * n]))
            finally:
                ceiling.stop()
        ratios = [p / b for p, b in zip(project, bare, strict=True)]
        print(f"  ratio datemaker / ceiling, by round: {', '.join(f'{r:.2f}' for r in ratios)}")
        print(f"  ratio datemaker / ceiling (medians): {median(project) / median(bare):.2f}   (target >= 0.85)")
        cpu_ratio = median(cpus["ceiling"]) / median(cpus["datemaker"])
        print(f"  server CPU per command, ceiling / datemaker (medians): {cpu_ratio:.2f}")
        print(
            f"  flatness, {args.prefilled:,}+ registrations vs none (medians): {median(flat) / median(project):.2f}"
            "   (target >= 0.9)"
        )
    finally:
        await load.stop()
        await pool.close()
        connection = await aio_pika.connect(settings.rabbitmq_url())
        channel = await connection.channel()
        for spec in topology.queues(settings.chathub_env, settings.rabbitmq_exchange):
            await channel.queue_delete(spec.name)
        await channel.exchange_delete(settings.rabbitmq_exchange)
        await connection.close()
        admin = await asyncpg.connect(settings.postgres_dsn("postgres"))
        await admin.execute(f'DROP DATABASE IF EXISTS "{settings.postgres_db}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    os.chdir(ROOT)
    asyncio.run(main())
