"""Test factories: participants and events straight into the database."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

_ids = itertools.count(1_000_001)


async def reset_database(pool: asyncpg.Pool, attempts: int = 5) -> None:
    """Empty the tables. A datemaker running meanwhile (the in-process one) may hold one of them while it waits
    for another that TRUNCATE holds: PostgreSQL then aborts one of the two, and this tries again."""
    for attempt in range(1, attempts + 1):
        try:
            await pool.execute(
                """TRUNCATE users, dating_events, processed_messages, event_schedules, organizers, meet_spaces,
                            organizer_actions, banned_users
                   RESTART IDENTITY CASCADE"""
            )
            return
        except asyncpg.DeadlockDetectedError:
            if attempt == attempts:
                raise
            await asyncio.sleep(0.05 * attempt)


async def create_participant(
    pool: asyncpg.Pool,
    user_id: int | None = None,
    *,
    name: str = "Alex",
    gender: str = "F",
    birthday: date = date(1995, 5, 17),
    city: str = "msk",
    username: str | None = None,
    **columns: Any,
) -> int:
    user_id = user_id or next(_ids)
    extra = dict(columns)
    names = ["user_id", "chat_id", "name", "gender", "birthday", "city", "username", *extra]
    values = [user_id, user_id, name, gender, birthday, city, username or f"user{user_id}", *extra.values()]
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await pool.execute(f"INSERT INTO users ({', '.join(names)}) VALUES ({placeholders})", *values)
    return user_id


async def create_event(pool: asyncpg.Pool, *, starts_in: timedelta = timedelta(days=3), **columns: Any) -> int:
    """An event starting ``starts_in`` from now, with any ``dating_events`` column overridden."""
    values = {"start_dttm": datetime.now(UTC) + starts_in, **columns}
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    return await pool.fetchval(
        f"INSERT INTO dating_events ({', '.join(values)}) VALUES ({placeholders}) RETURNING id", *values.values()
    )


async def register(pool: asyncpg.Pool, event_id: int, user_id: int, **columns: Any) -> None:
    """A registration row (the database keeps the event's counters in step)."""
    values = {"event_id": event_id, "user_id": user_id, **columns}
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await pool.execute(f"INSERT INTO registrations ({', '.join(values)}) VALUES ({placeholders})", *values.values())
