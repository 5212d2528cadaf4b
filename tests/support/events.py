"""Events with people already confirmed, run on a compressed timeline."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.support.factories import create_participant

QUICK = {
    "confirm_open_seconds": 60,
    "confirm_deadline_seconds": 2,
    "rules_lead_seconds": 1,
    "round_seconds": 2,
    "break_seconds": 1,
    "max_rounds": 4,
}


async def insert_event(pool: asyncpg.Pool, starts_in: float, **columns: Any) -> int:
    """The seed's INSERT, plus short timeline columns."""
    values = {**QUICK, **columns}
    names = ", ".join(values)
    placeholders = ", ".join(f"${i + 2}" for i in range(len(values)))
    return await pool.fetchval(
        f"""INSERT INTO public.dating_events (start_dttm, {names})
            VALUES (now() + make_interval(secs => $1), {placeholders}) RETURNING id""",
        starts_in,
        *values.values(),
    )


async def confirmed_event(
    pool: asyncpg.Pool, women: int, men: int, starts_in: float = 4, **columns: Any
) -> tuple[int, list[int]]:
    """An event whose seats are all taken by people who have confirmed already: it is planned at once."""
    event = await insert_event(pool, starts_in, users_limit=women + men, **columns)
    people = [await create_participant(pool, name=f"W{i}", gender="F") for i in range(women)]
    people += [await create_participant(pool, name=f"M{i}", gender="M") for i in range(men)]
    await pool.executemany(
        """INSERT INTO registrations (event_id, user_id, confirmation_sent_at, confirmed_at)
           VALUES ($1, $2, now(), now())""",
        [(event, user) for user in people],
    )
    return event, people


async def state_of(pool: asyncpg.Pool, event_id: int) -> str:
    return await pool.fetchval(
        "SELECT s.state_name FROM dating_events e JOIN event_states s ON s.id = e.state_id WHERE e.id = $1", event_id
    )
