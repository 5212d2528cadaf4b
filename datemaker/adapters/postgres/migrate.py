"""Plain-SQL migrations: ``migrations/NNNN_name.up.sql`` and ``NNNN_name.down.sql``.

Applied in order, each in its own transaction, recorded in ``schema_migrations``, under an advisory
lock so that two processes starting at once apply each migration exactly once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

logger = logging.getLogger(__name__)

_LOCK_KEY = 0x63686174687562  # "chathub"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$")


_PACKAGE = Path(__file__).resolve().parents[2]


def migrations_dir(package: Path = _PACKAGE) -> Path:
    """Where the SQL files of ``package`` (datemaker) are: ``datemaker/migrations`` in an installed wheel
    (pyproject.toml puts them there), else ``migrations/`` beside the package (a checkout, an editable
    install, the Docker image's /app)."""
    installed = package / "migrations"
    return installed if installed.is_dir() else package.parent / "migrations"


MIGRATIONS_DIR = migrations_dir()


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: str
    down: str


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration in ``directory``, in version order; each must have both parts."""
    parts: dict[tuple[int, str], dict[str, str]] = {}
    for path in directory.iterdir():
        match = _FILE.match(path.name)
        if match:
            key = (int(match.group(1)), match.group(2))
            parts.setdefault(key, {})[match.group(3)] = path.read_text()
    migrations = []
    for (version, name), sql in sorted(parts.items()):
        if set(sql) != {"up", "down"}:
            raise RuntimeError(f"migration {version:04d}_{name} needs both an .up.sql and a .down.sql file")
        migrations.append(Migration(version, name, sql["up"], sql["down"]))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version number: {versions}")
    return migrations


async def ensure_database(admin_dsn: str, database: str) -> bool:
    """Create ``database`` if it does not exist; True when it was created."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if exists:
            return False
        try:
            await conn.execute(f'CREATE DATABASE "{database.replace(chr(34), "")}"')
        except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):  # another process won the race
            return False
        logger.info("created database %s", database)
        return True
    finally:
        await conn.close()


async def _applied(conn: asyncpg.Connection) -> set[int]:
    await conn.execute(
        """CREATE TABLE IF NOT EXISTS public.schema_migrations (
               version    integer PRIMARY KEY,
               name       text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    return {row["version"] for row in await conn.fetch("SELECT version FROM public.schema_migrations")}


async def migrate(dsn: str, target: int | None = None, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Bring the schema to ``target`` (default: the latest), upwards or downwards.

    Returns the names of the steps taken, e.g. ``["up 0001_initial"]``.
    """
    migrations = load_migrations(directory)
    if target is None:
        target = migrations[-1].version if migrations else 0
    conn = await asyncpg.connect(dsn)
    steps: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            applied = await _applied(conn)
            for m in migrations:
                if m.version <= target and m.version not in applied:
                    async with conn.transaction():
                        await conn.execute(m.up)
                        await conn.execute(
                            "INSERT INTO public.schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name
                        )
                    steps.append(f"up {m.version:04d}_{m.name}")
            for m in reversed(migrations):
                if m.version > target and m.version in applied:
                    async with conn.transaction():
                        await conn.execute(m.down)
                        await conn.execute("DELETE FROM public.schema_migrations WHERE version = $1", m.version)
                    steps.append(f"down {m.version:04d}_{m.name}")
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()
    for step in steps:
        logger.info("migration %s", step)
    return steps
