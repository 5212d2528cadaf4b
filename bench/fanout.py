"""Fan-out benchmark: 1,000 ``invite_to_meeting`` commands to 1,000 chats, published at once to the bot's queue.

Runs ``python -m chathub_bot`` as a child process against the Bot API emulator (in this process, Telegram's
limits: 30 messages/s for the bot, 1/s per chat) and the local RabbitMQ, in a topology of its own that is
removed at the end. Prints how long the emulator took to accept every message, against the physical limit
(1000/30 s), and how many 429s the bot received.

    .venv/bin/python bench/fanout.py [--messages 1000] [--rate 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
import uuid
from pathlib import Path

import aio_pika
import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chathub_bot.config import BotSettings
from chathub_common.rabbit import Broker
from chathub_sim.telegram import BotApiEmulator
from contracts import topology

FIRST_CHAT = 5_000_000


async def start_bot(env: dict[str, str]) -> tuple[asyncio.subprocess.Process, str, asyncio.Task[None], list[str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chathub_bot", env=env, stderr=asyncio.subprocess.PIPE
    )
    log: list[str] = []
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def read() -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip()
            log.append(line)
            found = re.search(r"metrics and health on http://[^:]+:(\d+)/", line)
            if found and not port.done():
                port.set_result(int(found.group(1)))
        if not port.done():
            port.set_exception(RuntimeError("the bot exited:\n" + "\n".join(log[-20:])))

    reader = asyncio.create_task(read())
    ops = f"http://127.0.0.1:{await asyncio.wait_for(port, 30)}"
    async with aiohttp.ClientSession() as session:
        for _ in range(150):
            async with session.get(f"{ops}/readyz") as response:
                if response.status == 200:
                    break
            await asyncio.sleep(0.2)
        else:
            raise RuntimeError("the bot did not become ready")
    return process, ops, reader, log


def invite(chat: int, now: float) -> bytes:
    starts = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now))
    ends = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now + 300))
    return json.dumps(
        {
            "event_id": 1,
            "round": 1,
            "url": f"https://meet.google.com/bench-{chat}",
            "starts_at": starts,
            "ends_at": ends,
            "partner": {"user_id": chat + 1, "name": "Partner", "age": 30, "city": "Moscow"},
            "language": "en",
        }
    ).encode()


def max_in_window(times: list[float], window: float = 1.0) -> int:
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def run(messages: int, rate: float) -> int:
    run_id = uuid.uuid4().hex[:8]
    env_name, exchange = f"bench{run_id}", f"chathub_bench{run_id}"
    emulator = BotApiEmulator(global_rate=rate, chat_rate=1)
    url = await emulator.start()
    env = {
        **os.environ,
        "CHATHUB_ENV": env_name,
        "RABBITMQ_EXCHANGE": exchange,
        "TG_BOT_TOKEN": emulator.token,
        "TG_API_BASE": url,
        "METRICS_PORT": "0",
        "WEBAPP_PORT": "0",
        "TG_BOT_GLOBAL_RATE": str(rate),
    }
    settings = BotSettings(_env_file=None, chathub_env=env_name, rabbitmq_exchange=exchange)
    broker = Broker(settings.rabbitmq_url(), exchange=exchange, env=env_name, connection_name="bench-fanout")
    await broker.connect()
    process, ops, reader, _ = await start_bot(env)
    try:
        emulator.reset_stats()
        queue = topology.bot_queue(env_name)
        now = time.time()
        started = time.monotonic()
        started_wall = time.time()
        await asyncio.gather(
            *(
                broker.publish(
                    queue,
                    invite(chat, now),
                    type="invite_to_meeting",
                    headers={"user_id": chat, "chat_id": chat},
                )
                for chat in range(FIRST_CHAT, FIRST_CHAT + messages)
            )
        )
        published = time.monotonic() - started
        deadline = time.monotonic() + messages / rate * 3 + 30
        while len(emulator.stats.send_times) < messages and time.monotonic() < deadline:
            await emulator.wait_changed(emulator.version, deadline - time.monotonic())
        accepted = list(emulator.stats.send_times)
        total = (accepted[-1] - started_wall) if accepted else float("nan")
        delivered = {
            m.chat_id for chat in range(FIRST_CHAT, FIRST_CHAT + messages) for m in emulator.bot_messages(chat)
        }
        per_chat = max(
            (len(emulator.bot_messages(chat)) for chat in range(FIRST_CHAT, FIRST_CHAT + messages)), default=0
        )
        retry_times = [t - started_wall for t in emulator.stats.retry_after_times]
        target = messages / rate + 2
        print(f"fan-out: {messages} invite_to_meeting to {messages} chats, emulator limits {rate:g}/s bot, 1/s chat")
        print(f"  published to RabbitMQ (confirmed) in     {published:6.2f} s")
        print(f"  first message accepted by Telegram after {accepted[0] - started_wall:6.2f} s" if accepted else "")
        print(
            f"  all accepted after                       {total:6.2f} s   (physical limit {messages / rate:.2f} s, "
            f"target <= {target:.2f} s: {'met' if total <= target else 'MISSED'})"
        )
        print(
            f"  messages accepted / chats reached        {len(accepted)} / {len(delivered)}"
            f" (most to one chat: {per_chat})"
        )
        print(f"  throughput                               {len(accepted) / total:6.2f} msg/s")
        print(f"  most accepted in any 1 s window          {max_in_window(accepted)}")
        print(
            f"  429 answers received                     {len(retry_times)} "
            f"(after the first second: {sum(1 for t in retry_times if t > 1.0)})"
        )
        async with aiohttp.ClientSession() as session, session.get(f"{ops}/metrics") as response:
            text = await response.text()
        sends = re.search(r'chathub_telegram_sends_total\{method="sendMessage",outcome="ok"\} (\S+)', text)
        print(f"  bot's own count of sendMessage ok        {sends.group(1) if sends else '?'}")
        return 0 if len(accepted) == messages and total <= target else 1
    finally:
        process.terminate()
        await process.wait()
        await asyncio.gather(reader, return_exceptions=True)
        await broker.close()
        await emulator.stop()
        connection = await aio_pika.connect(settings.rabbitmq_url())
        channel = await connection.channel()
        for spec in topology.queues(env_name, exchange):
            await channel.queue_delete(spec.name)
        await channel.exchange_delete(exchange)
        await connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=30.0, help="the emulator's (and the bot's) messages per second")
    args = parser.parse_args()
    return asyncio.run(run(args.messages, args.rate))


if __name__ == "__main__":
    sys.exit(main())
