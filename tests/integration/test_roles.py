"""Least privilege: the datemaker role runs every command but no DDL; analytics reads no personal data."""

import json
import uuid

import asyncpg
import pytest

from contracts.envelope import Incoming
from datemaker.adapters.postgres.store import PostgresDatabase, create_pool
from datemaker.app import utc_now
from datemaker.service.dispatch import CommandProcessor
from tests.support.factories import create_event


@pytest.fixture
async def login_role(pool):
    """Make login roles in a group role; dropped afterwards."""
    made = []

    async def make(group: str) -> str:
        name = f"t_{group}_{uuid.uuid4().hex[:8]}"
        await pool.execute(f'CREATE ROLE "{name}" LOGIN IN ROLE {group}')
        made.append(name)
        return name

    yield make
    for name in made:
        await pool.execute(f'DROP ROLE IF EXISTS "{name}"')


def dsn_as(settings, role: str) -> str:
    return f"postgresql://{role}@{settings.postgres_host}:{settings.postgres_port}/{settings.postgres_db}"


async def test_the_datemaker_role_answers_commands_but_cannot_change_the_schema(settings, clean_db, login_role):
    role = await login_role("chathub_datemaker")
    event = await create_event(clean_db)
    pool = await create_pool(dsn_as(settings, role), size=2)
    try:
        processor = CommandProcessor(PostgresDatabase(pool), utc_now)
        profile = {"name": "Ann", "gender": "F", "birthday": "1994-03-01", "city": "msk"}
        for type_, body in [("upsert_profile", profile), ("register_event", {"event_id": event}), ("list_events", {})]:
            incoming = Incoming(body=json.dumps(body).encode(), message_id=uuid.uuid4().hex,
                                type=type_, headers={"user_id": 77})  # fmt: skip
            outcome = await processor.process(incoming)
            assert outcome.reply.ok, (type_, outcome.reply)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pool.execute("CREATE TABLE sneaky (id int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pool.execute("DELETE FROM schema_migrations")
    finally:
        await pool.close()


async def test_the_analytics_role_reads_events_and_ratings_but_no_personal_data(settings, clean_db, login_role):
    role = await login_role("chathub_analytics")
    await create_event(clean_db)
    conn = await asyncpg.connect(dsn_as(settings, role))
    try:
        assert await conn.fetchval("SELECT count(*) FROM dating_events") == 1
        await conn.fetch("SELECT * FROM matches")
        for table in ("users", "reports", "outbox", "date_attendance", "processed_messages"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(f"SELECT * FROM {table} LIMIT 1")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE dating_events SET users_limit = 1")
    finally:
        await conn.close()
