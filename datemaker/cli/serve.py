"""``serve``: answer the bot's commands and run events (the default subcommand)."""

from __future__ import annotations

import argparse
import asyncio

from datemaker.config import Settings


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("serve", help="answer the bot's commands and run events (the default)")
    parser.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations at start")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from datemaker.app import serve

    asyncio.run(serve(settings, apply_migrations=not getattr(args, "no_migrate", False)))
    return 0
