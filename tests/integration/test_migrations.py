"""Migrations against a real PostgreSQL: the stairway (up, down, up), the seed's INSERT, concurrency."""

import asyncio
import uuid

import asyncpg
import pytest

from datemaker.adapters.postgres.migrate import ensure_database, load_migrations, migrate


@pytest.fixture
async def scratch_dsn(settings):
    """A database of its own, dropped afterwards."""
    name = f"chathub_scratch_{uuid.uuid4().hex[:8]}"
    admin = settings.postgres_dsn("postgres")
    yield settings.postgres_dsn(name), admin, name
    conn = await asyncpg.connect(admin)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def tables(dsn):
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """SELECT table_name FROM information_schema.tables
               WHERE table_schema = 'public' AND table_name <> 'schema_migrations'"""
        )
        return {r["table_name"] for r in rows}
    finally:
        await conn.close()


async def test_stairway_up_down_up_for_every_migration(scratch_dsn):
    dsn, admin, name = scratch_dsn
    assert await ensure_database(admin, name) is True
    assert await ensure_database(admin, name) is False
    previous = await tables(dsn)
    for m in load_migrations():
        await migrate(dsn, m.version)
        after_up = await tables(dsn)
        await migrate(dsn, m.version - 1)
        assert await tables(dsn) == previous, f"down of {m.version} did not undo its up"
        await migrate(dsn, m.version)
        assert await tables(dsn) == after_up
        previous = after_up


async def test_two_processes_migrating_at_once_apply_each_step_once(scratch_dsn):
    dsn, admin, name = scratch_dsn
    results = await asyncio.gather(*(ensure_database(admin, name) for _ in range(3)))
    assert results.count(True) == 1
    steps = await asyncio.gather(migrate(dsn), migrate(dsn), migrate(dsn))
    applied = [s for run in steps for s in run]
    assert sorted(applied) == sorted(f"up {m.version:04d}_{m.name}" for m in load_migrations())


async def test_seed_insert_creates_an_event_with_the_contract_defaults(clean_db):
    await clean_db.execute("INSERT INTO public.dating_events (start_dttm) VALUES ('2024-01-01'::TIMESTAMP)")
    row = await clean_db.fetchrow("SELECT * FROM dating_events")
    assert row["timezone"] == "Europe/Moscow"
    assert (row["users_limit"], row["state_id"], row["round_seconds"], row["break_seconds"]) == (20, 0, 300, 60)
    assert (row["rules_lead_seconds"], row["confirm_open_seconds"], row["confirm_deadline_seconds"]) == (
        300,
        86400,
        3600,
    )
    states = await clean_db.fetch("SELECT id, state_name FROM event_states ORDER BY id")
    assert [tuple(s) for s in states][:6] == [
        (0, "NOT_STARTED"), (1, "REG_CONFIRM"), (2, "READY"), (3, "RUNNING"), (4, "FINISHED"), (5, "SKIPPED"),
    ]  # fmt: skip


async def test_matches_view_pairs_mutual_likes(clean_db):
    from tests.support.factories import create_event, create_participant

    event_id = await create_event(clean_db)
    a, b, c = [await create_participant(clean_db) for _ in range(3)]
    for user, partner in [(a, b), (b, a), (a, c)]:
        await clean_db.execute(
            "INSERT INTO likes (event_id, user_id, partner_id) VALUES ($1, $2, $3)", event_id, user, partner
        )
    rows = await clean_db.fetch("SELECT user_id, partner_id FROM matches WHERE event_id = $1 ORDER BY 1", event_id)
    assert {(r["user_id"], r["partner_id"]) for r in rows} == {(a, b), (b, a)}


async def test_action_details_written_twice_encoded_become_objects(scratch_dsn):
    dsn, admin, name = scratch_dsn
    await ensure_database(admin, name)
    await migrate(dsn, 12)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """INSERT INTO organizer_actions (organizer_id, action, details)
               VALUES (1, 'ban_user', to_jsonb('{"reason": "rude"}'::text)), (1, 'create_event', '{"x": 1}')"""
        )
        await migrate(dsn, 13)
        kinds = await conn.fetch(
            """SELECT action, jsonb_typeof(details) AS kind, details ->> 'reason' AS reason
               FROM organizer_actions ORDER BY id"""
        )
        assert [(r["action"], r["kind"], r["reason"]) for r in kinds] == [
            ("ban_user", "object", "rude"),
            ("create_event", "object", None),
        ]
        await migrate(dsn, 12)
        assert await conn.fetchval("SELECT array_agg(jsonb_typeof(details) ORDER BY id) FROM organizer_actions") == [
            "string",
            "string",
        ]
    finally:
        await conn.close()
