"""``python -m chathub_bot [--debug]``: the Telegram bot (polling, the broker consumer, /metrics)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from pydantic import ValidationError

from chathub_bot.config import BotSettings, MissingTokenError
from chathub_common.cli import exit_code
from chathub_common.logs import setup_logging

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chathub-bot", description="Chathub's Telegram bot")
    parser.add_argument("--debug", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    try:
        settings = BotSettings()
        settings.token()
    except MissingTokenError as exc:
        print(f"chathub_bot: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"chathub_bot: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    setup_logging(args.debug or settings.debug)
    from chathub_bot.app import serve

    def run() -> int:
        asyncio.run(serve(settings))
        return 0

    return exit_code("chathub_bot", run)


if __name__ == "__main__":
    sys.exit(main())
