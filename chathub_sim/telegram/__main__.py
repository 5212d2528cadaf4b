"""``python -m chathub_sim.telegram [--host H] [--port P] [--token T] [--global-rate R] [--chat-rate R]``

Serves the Bot API emulator until interrupted. The first line on stdout is its base URL (use it as
``TG_API_BASE``), the second the bot token it accepts (use it as ``TG_BOT_TOKEN``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from chathub_common.logs import setup_logging
from chathub_sim.telegram.server import DEFAULT_TOKEN, BotApiEmulator

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chathub_sim.telegram", description="Telegram Bot API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the bot token accepted (default: %(default)s)")
    parser.add_argument("--global-rate", type=float, default=30.0, help="messages per second per bot")
    parser.add_argument("--chat-rate", type=float, default=1.0, help="messages per second per chat")
    parser.add_argument("--no-limits", action="store_true", help="never answer 429")
    parser.add_argument("--debug", action="store_true")
    return parser


async def serve(args: argparse.Namespace) -> None:
    emulator = BotApiEmulator(
        args.token, global_rate=args.global_rate, chat_rate=args.chat_rate, limits_enabled=not args.no_limits
    )
    url = await emulator.start(args.host, args.port)
    print(url, flush=True)
    print(emulator.token, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.debug)
    try:
        asyncio.run(serve(args))
    except ValueError as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
