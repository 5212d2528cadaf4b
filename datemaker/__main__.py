"""datemaker's command line: ``python -m datemaker [--debug] [COMMAND]`` (``serve`` when none is given)."""

from __future__ import annotations

import argparse
import importlib
import sys

from chathub_common.cli import exit_code
from chathub_common.logs import setup_logging
from datemaker.cli import SUBCOMMANDS
from datemaker.config import Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="datemaker", description="Chathub's speed-dating orchestrator")
    parser.add_argument("--debug", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"datemaker.cli.{name}").register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # the seed's way: `python -m datemaker --debug`
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "serve"])
    settings = Settings()
    setup_logging(args.debug or settings.debug)
    return exit_code("datemaker", lambda: args.run(args, settings))


if __name__ == "__main__":
    sys.exit(main())
