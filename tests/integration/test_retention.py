"""Data retention against the real database: personal data of long-finished events goes, their counts
stay; recent and unfinished events, and a dry run, change nothing."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from datemaker.adapters.postgres.retention import PostgresRetentionDatabase
from datemaker.service.retention import purge_expired
from tests.support.cli import events_cli
from tests.support.factories import create_event, create_participant, register, reset_database
from tests.support.past_events import EXPECTED_STATS, PastEvent, event_that_ran
from tests.support.processes import isolated_settings

ROOT = Path(__file__).resolve().parents[2]
DAYS = 90


@pytest.fixture(scope="module")
async def own_database(settings) -> AsyncIterator[tuple[asyncpg.Pool, dict[str, str]]]:
    """A database of these tests' own, where no datemaker runs (its runner would collect the results of
    the unfinished events, and its daily retention job purge the old ones); a pool, and the environment
    pointing at it."""
    from datemaker.adapters.postgres.store import create_pool
    from datemaker.app import prepare_database

    own = isolated_settings(settings, own_database=True)
    await prepare_database(own)
    pool = await create_pool(own.postgres_dsn(), size=4)
    yield pool, {"POSTGRES_DB": own.postgres_db}
    await pool.close()
    conn = await asyncpg.connect(own.postgres_dsn("postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{own.postgres_db}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def db(own_database) -> asyncpg.Pool:
    pool, _ = own_database
    await reset_database(pool)
    return pool


async def personal_data(pool: asyncpg.Pool, event_id: int) -> dict[str, int]:
    return dict(
        await pool.fetchrow(
            """SELECT (SELECT count(*) FROM date_attendance a JOIN event_dates d ON d.id = a.date_id
                       WHERE d.event_id = $1) AS attendance,
                      (SELECT count(*) FROM reports WHERE event_id = $1 AND reason IS NOT NULL) AS reasons,
                      (SELECT count(*) FROM outbox WHERE event_id = $1) AS messages""",
            event_id,
        )
    )


async def kept_rows(pool: asyncpg.Pool, event_id: int) -> dict[str, int]:
    """What retention must never delete: the event, its registrations, plan and verdicts."""
    return dict(
        await pool.fetchrow(
            """SELECT (SELECT count(*) FROM dating_events WHERE id = $1) AS events,
                      (SELECT count(*) FROM registrations WHERE event_id = $1) AS registrations,
                      (SELECT count(*) FROM event_dates WHERE event_id = $1) AS dates,
                      (SELECT count(*) FROM likes WHERE event_id = $1) AS likes,
                      (SELECT count(*) FROM reports WHERE event_id = $1) AS reports""",
            event_id,
        )
    )


async def stats(pool: asyncpg.Pool, event_id: int) -> dict | None:
    row = await pool.fetchrow("SELECT * FROM event_stats WHERE event_id = $1", event_id)
    return dict(row) if row else None


async def scene(pool: asyncpg.Pool) -> dict[str, PastEvent | int]:
    """Events on both sides of the retention period, finished or not."""
    old = await event_that_ran(pool, timedelta(days=DAYS + 10))
    recent = await event_that_ran(pool, timedelta(days=DAYS - 10))
    uncollected = await event_that_ran(pool, timedelta(days=DAYS + 20), collected=False)  # Meet results pending
    person = await create_participant(pool)
    cancelled = await create_event(
        pool, starts_in=-timedelta(days=DAYS + 5), state_id=6, finished_at=datetime.now(UTC) - timedelta(days=DAYS + 6)
    )
    await register(pool, cancelled, person, cancelled_at=datetime.now(UTC) - timedelta(days=DAYS + 6))
    await pool.execute(
        """INSERT INTO outbox (message_id, event_id, user_id, type, headers, body, created_at, sent_at)
           VALUES ('test.cancelled', $1, $2, 'event_cancelled', '{}', '{}', now() - interval '96 days', now())""",
        cancelled,
        person,
    )
    running = await create_event(pool, starts_in=-timedelta(days=DAYS + 30), state_id=3)  # stuck, never closed
    await pool.execute(
        """INSERT INTO outbox (message_id, event_id, user_id, type, headers, body, created_at)
           VALUES ('test.running', $1, $2, 'send_rules', '{}', '{}', now() - interval '120 days')""",
        running,
        person,
    )
    await pool.executemany(
        "INSERT INTO processed_messages (message_id, command, reply, processed_at) VALUES ($1, 'x', '{}', $2)",
        [
            ("old-1", datetime.now(UTC) - timedelta(days=DAYS + 1)),
            ("old-2", datetime.now(UTC) - timedelta(days=400)),
            ("new-1", datetime.now(UTC) - timedelta(days=DAYS - 1)),
        ],
    )
    return {"old": old, "recent": recent, "uncollected": uncollected, "cancelled": cancelled, "running": running}


def event_id(item: PastEvent | int) -> int:
    return item.event_id if isinstance(item, PastEvent) else item


async def test_old_finished_events_lose_personal_data_and_keep_their_counts(db):
    events = await scene(db)
    ids = {name: event_id(e) for name, e in events.items()}
    before = {name: await personal_data(db, i) for name, i in ids.items()}
    kept_before = {name: await kept_rows(db, i) for name, i in ids.items()}
    database = PostgresRetentionDatabase(db)

    rehearsal = await purge_expired(database, datetime.now(UTC), DAYS, dry_run=True)
    assert {name: await personal_data(db, i) for name, i in ids.items()} == before
    assert await db.fetchval("SELECT count(*) FROM event_stats") == 0
    assert await db.fetchval("SELECT count(*) FROM processed_messages") == 3

    seen: list[int] = []
    report = await purge_expired(database, datetime.now(UTC), DAYS, on_event=lambda e: seen.append(e.event.event_id))
    assert [e.event.event_id for e in report.events] == seen == [ids["old"], ids["cancelled"]]  # oldest first
    assert report.processed_messages == 2 and report.stray_messages == 0
    old = report.events[0]
    assert old.stats_saved and (old.purged.attendance, old.purged.report_reasons, old.purged.messages) == (5, 1, 5)
    assert report.events[1].purged.messages == 1
    # The dry run told exactly what the real run did.
    assert [(e.event, e.stats_saved, e.purged) for e in rehearsal.events] == [
        (e.event, e.stats_saved, e.purged) for e in report.events
    ]
    assert (rehearsal.processed_messages, rehearsal.total, rehearsal.dry_run) == (2, report.total, True)

    for name in ("old", "cancelled"):
        assert await personal_data(db, ids[name]) == {"attendance": 0, "reasons": 0, "messages": 0}
        assert await kept_rows(db, ids[name]) == kept_before[name]
    for name in ("recent", "uncollected", "running"):
        assert await personal_data(db, ids[name]) == before[name], name
        assert await stats(db, ids[name]) is None
    remaining = await db.fetch("SELECT message_id FROM processed_messages")
    assert [r["message_id"] for r in remaining] == ["new-1"]

    saved = await stats(db, ids["old"])
    assert {k: saved[k] for k in EXPECTED_STATS} == EXPECTED_STATS
    assert saved["computed_at"] == saved["purged_at"]
    cancelled = await stats(db, ids["cancelled"])
    assert (cancelled["registered"], cancelled["cancelled"], cancelled["dates_held"]) == (1, 1, 0)

    # A report arriving after the purge: its reason goes on the next run, the counts stay as computed.
    people = events["old"].people
    await db.execute(
        "INSERT INTO reports (event_id, user_id, partner_id, reason) VALUES ($1, $2, $3, 'late words')",
        ids["old"],
        people["Cyril"],
        people["Bella"],
    )
    again = await purge_expired(database, datetime.now(UTC), DAYS)
    assert [(e.event.event_id, e.stats_saved, e.purged.report_reasons) for e in again.events] == [
        (ids["old"], False, 1)
    ]
    after = await stats(db, ids["old"])
    assert after["computed_at"] == saved["computed_at"] and after["reports"] == 1
    assert after["purged_at"] > saved["purged_at"]
    assert (await purge_expired(database, datetime.now(UTC), DAYS)).events == []


async def test_two_jobs_at_once_compute_each_event_once(db):
    old = await event_that_ran(db, timedelta(days=DAYS + 1))
    database = PostgresRetentionDatabase(db)
    reports = await asyncio.gather(*(purge_expired(database, datetime.now(UTC), DAYS) for _ in range(3)))
    saved = [e for r in reports for e in r.events if e.stats_saved]
    assert [e.event.event_id for e in saved] == [old.event_id]
    assert [e.purged.attendance for r in reports for e in r.events] == [5]  # the others found nothing left
    assert await personal_data(db, old.event_id) == {"attendance": 0, "reasons": 0, "messages": 0}


async def run_retention(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "datemaker",
        "retention",
        *args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode(), err.decode()


async def test_the_retention_command_tells_what_it_deleted(db, own_database):
    _, env = own_database
    old = await event_that_ran(db, timedelta(days=40))
    recent = await event_that_ran(db, timedelta(days=10))
    await db.execute(
        "INSERT INTO processed_messages (message_id, command, reply, processed_at) "
        "VALUES ('old', 'x', '{}', now() - interval '31 days')"
    )
    dry, bad = await asyncio.gather(
        run_retention("--dry-run", "--days", "30", env=env), run_retention("--days", "0", env=env)
    )
    assert bad[0] == 2 and "at least 1 day" in bad[2]
    code, out, err = dry
    assert code == 0, err
    line = f"event {old.event_id} (finished {old.finished_at:%Y-%m-%d}): counts saved; would delete 5 call attendance"
    assert line in out
    assert "would delete 5 call attendance record(s), 1 report reason(s), 5 message(s)" in out
    assert "would delete 1 idempotency record(s) older than a week" in out
    assert "would erase 0 profile(s) of people inactive since" in out
    assert out.splitlines()[-1] == (
        "1 event(s) past the 30-day retention period; 12 record(s) would be deleted (dry run: nothing was changed)"
    )
    assert await stats(db, old.event_id) is None
    assert (await personal_data(db, old.event_id))["attendance"] == 5

    code, out, err = await run_retention("--days", "30", env=env)
    assert code == 0, err
    assert re.search(rf"event {old.event_id} \(finished [\d-]+\): counts saved; deleted 5 call attendance", out)
    assert out.splitlines()[-1] == "1 event(s) past the 30-day retention period; 12 record(s) deleted"
    assert (await stats(db, old.event_id))["likes"] == 4
    assert await personal_data(db, recent.event_id) == {"attendance": 5, "reasons": 1, "messages": 5}

    (code, out, err), show = await asyncio.gather(
        run_retention("--days", "30", env=env), events_cli("show", str(old.event_id), **env)
    )
    assert code == 0, err
    assert "no event finished before" in out
    assert show.code == 0, show.err
    assert re.search(r"joined calls +5 people \(personal data deleted .*, the counts kept\)", show.out)
    assert "held, joined" not in show.out and "4 likes, 1 dislikes, 1 reports; 1 mutual matches" in show.out
