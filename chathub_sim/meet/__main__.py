"""``python -m chathub_sim.meet --port 0 --control-port 0``: run the Meet API emulator as a process.

Prints one line of JSON on stdout once both servers listen::

    {"grpc_port": 40123, "control_port": 40124, "endpoint": "127.0.0.1:40123", "control_url": "http://127.0.0.1:40124"}

and serves until SIGINT or SIGTERM. ``endpoint`` is what ``MEET_API_ENDPOINT`` should be set to.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys

from chathub_sim.meet.control import ControlServer
from chathub_sim.meet.server import MeetEmulator

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chathub_sim.meet", description="Google Meet API emulator")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="gRPC port (0 = any free port)")
    parser.add_argument("--control-port", type=int, default=0, help="HTTP control port (0 = any free port)")
    parser.add_argument(
        "--quota",
        type=int,
        default=None,
        metavar="N",
        help="answer RESOURCE_EXHAUSTED beyond N CreateSpace per account per window",
    )
    parser.add_argument(
        "--project-quota", type=int, default=None, metavar="N", help="... and beyond N for all accounts together"
    )
    parser.add_argument("--quota-window", type=float, default=60.0, metavar="SECONDS", help="quota window (default 60)")
    parser.add_argument(
        "--default-access",
        default="TRUSTED",
        choices=["OPEN", "TRUSTED", "RESTRICTED"],
        help="access type of a space created without one (default TRUSTED)",
    )
    parser.add_argument("--debug", action="store_true", help="debug logging on stderr")
    return parser


async def serve(args: argparse.Namespace) -> None:
    emulator = MeetEmulator(
        host=args.host,
        creation_quota=args.quota,
        project_quota=args.project_quota,
        quota_window_seconds=args.quota_window,
        default_access_type=args.default_access,
    )
    control = ControlServer(emulator, host=args.host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await emulator.start(args.port)
    try:
        await control.start(args.control_port)
        announcement = {
            "grpc_port": emulator.port,
            "control_port": control.port,
            "endpoint": emulator.endpoint,
            "control_url": control.url,
        }
        sys.stdout.write(json.dumps(announcement) + "\n")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await control.stop()
        await emulator.stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
