"""datemaker's command line: ``python -m datemaker [--debug] [serve|migrate|...]``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from chathub_common.logs import setup_logging
from datemaker.config import Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m datemaker", description="Chathub's speed-dating orchestrator")
    parser.add_argument("--debug", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="answer the bot's commands and run events (the default)")
    serve.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations at start")

    migrate = commands.add_parser("migrate", help="create the database if needed and apply migrations")
    migrate.add_argument("--to", type=int, default=None, metavar="VERSION", help="migrate up or down to VERSION")
    return parser


async def _migrate(settings: Settings, target: int | None) -> None:
    from datemaker.adapters.postgres.migrate import ensure_database, migrate

    if await ensure_database(settings.postgres_dsn("postgres"), settings.postgres_db):
        print(f"created database {settings.postgres_db}")
    steps = await migrate(settings.postgres_dsn(), target)
    print("\n".join(steps) if steps else "the schema is up to date")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    setup_logging(args.debug or settings.debug)
    command = args.command or "serve"
    try:
        if command == "serve":
            from datemaker.app import serve

            asyncio.run(serve(settings, apply_migrations=not getattr(args, "no_migrate", False)))
        elif command == "migrate":
            asyncio.run(_migrate(settings, args.to))
    except KeyboardInterrupt:
        return 130
    except (ConnectionError, OSError) as exc:
        print(f"datemaker: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
