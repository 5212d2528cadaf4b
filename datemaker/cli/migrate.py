"""``migrate``: create the database if needed and bring the schema up (or down) to a version."""

from __future__ import annotations

import argparse
import asyncio

from datemaker.config import Settings


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("migrate", help="create the database if needed and apply migrations")
    parser.add_argument("--to", type=int, default=None, metavar="VERSION", help="migrate up or down to VERSION")
    parser.set_defaults(run=run)


async def _migrate(settings: Settings, target: int | None) -> None:
    from datemaker.adapters.postgres.migrate import ensure_database, migrate

    if await ensure_database(settings.postgres_dsn("postgres"), settings.postgres_db):
        print(f"created database {settings.postgres_db}")
    steps = await migrate(settings.postgres_dsn(), target)
    print("\n".join(steps) if steps else "the schema is up to date")


def run(args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(_migrate(settings, args.to))
    return 0
