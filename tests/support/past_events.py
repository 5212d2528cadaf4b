"""An event that has run, built row by row: registrations in every status, a plan of two rounds with a
sit-out and a date that was not held, calls joined, ratings with a mutual match, messages sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from tests.support.factories import create_event, create_participant, register


@dataclass
class PastEvent:
    event_id: int
    people: dict[str, int]
    """Name → user id."""
    dates: dict[str, int]
    """``"Anna&Boris"`` → date id."""
    start: datetime
    finished_at: datetime


EXPECTED_STATS = {
    "registered": 8,
    "waitlisted": 1,
    "confirmed": 5,
    "declined": 1,
    "cancelled": 1,
    "seated": 5,
    "dates_planned": 4,
    "dates_held": 3,
    "joined_calls": 5,
    "likes": 4,
    "dislikes": 1,
    "reports": 1,
    "mutual_matches": 1,
}
"""What ``event_stats`` must keep of an event made by :func:`event_that_ran`."""


async def event_that_ran(
    pool: asyncpg.Pool, finished_ago: timedelta = timedelta(hours=1), *, state: int = 4, collected: bool = True
) -> PastEvent:
    now = datetime.now(UTC).replace(microsecond=0)
    finished = now - finished_ago
    start = finished - timedelta(minutes=20)
    event_id = await create_event(
        pool,
        starts_in=start - now,
        timezone="Europe/Berlin",
        users_limit=5,
        state_id=state,
        confirmations_opened_at=start - timedelta(days=1),
        planned_at=start - timedelta(hours=1),
        rules_sent_at=start - timedelta(minutes=5),
        rounds_planned=2,
        rounds_started=2,
        rounds_ended=2,
        finished_at=finished,
        results_collected_at=finished + timedelta(minutes=1) if collected else None,
    )
    spec = [("Anna", "F"), ("Bella", "F"), ("Vera", "F"), ("Boris", "M"), ("Cyril", "M")]
    spec += [("Dasha", "F"), ("Egor", "M"), ("Fedor", "M")]
    people = {name: await create_participant(pool, name=name, gender=gender) for name, gender in spec}
    seated = ["Anna", "Bella", "Vera", "Boris", "Cyril"]
    for i, name in enumerate(seated):
        await register(
            pool,
            event_id,
            people[name],
            registered_at=start - timedelta(days=3, minutes=-i),
            confirmation_sent_at=start - timedelta(days=1),
            confirmed_at=start - timedelta(hours=20),
            group_no=0,
        )
    await register(pool, event_id, people["Dasha"], registered_at=start - timedelta(days=2), waitlisted=True)
    await register(pool, event_id, people["Egor"], registered_at=start - timedelta(days=2, hours=1), cancelled_at=start)
    await register(
        pool,
        event_id,
        people["Fedor"],
        registered_at=start - timedelta(days=2, hours=2),
        confirmation_sent_at=start - timedelta(days=1),
        declined_at=start - timedelta(hours=22),
    )
    await pool.execute(
        "INSERT INTO event_groups (event_id, group_no, members, rounds) VALUES ($1, 0, $2, 2)",
        event_id,
        [people[n] for n in seated],
    )
    dates: dict[str, int] = {}
    for round_no, a, b, held in [
        (0, "Anna", "Boris", True),
        (0, "Bella", "Cyril", True),
        (1, "Vera", "Boris", True),
        (1, "Anna", "Cyril", False),
    ]:
        low, high = sorted((people[a], people[b]))
        dates[f"{a}&{b}"] = await pool.fetchval(
            """INSERT INTO event_dates (event_id, group_no, round_no, user_a, user_b, space_name, meeting_uri,
                                        invited_at, ended_at)
               VALUES ($1, 0, $2, $3, $4, $5, 'https://meet.google.com/abc-defg-hij', $6, $6) RETURNING id""",
            event_id,
            round_no,
            low,
            high,
            f"spaces/{event_id}-{round_no}-{low}",
            start + timedelta(minutes=6 * round_no) if held else None,
        )
    for date, names in [
        ("Anna&Boris", ["Anna", "Boris"]),
        ("Bella&Cyril", ["Bella"]),
        ("Vera&Boris", ["Vera K", "Boris"]),
    ]:
        for name in names:
            await pool.execute(
                "INSERT INTO date_attendance (date_id, display_name, joined_at, left_at) VALUES ($1, $2, $3, $4)",
                dates[date],
                name,
                start + timedelta(minutes=1),
                start + timedelta(minutes=5),
            )
    for table, who, whom in [
        ("likes", "Anna", "Boris"),
        ("likes", "Boris", "Anna"),
        ("likes", "Bella", "Cyril"),
        ("likes", "Vera", "Boris"),
        ("dislikes", "Cyril", "Bella"),
    ]:
        await pool.execute(
            f"INSERT INTO {table} (event_id, user_id, partner_id) VALUES ($1, $2, $3)",
            event_id,
            people[who],
            people[whom],
        )
    await pool.execute(
        "INSERT INTO reports (event_id, user_id, partner_id, reason) VALUES ($1, $2, $3, 'rude and late')",
        event_id,
        people["Boris"],
        people["Vera"],
    )
    for name in seated:
        await pool.execute(
            """INSERT INTO outbox (message_id, event_id, user_id, type, headers, body, sent_at, created_at)
               VALUES ($1, $2, $3, 'send_final_dating_message', '{}', '{}', $4, $4)""",
            f"test.e{event_id}.final.u{people[name]}",
            event_id,
            people[name],
            finished,
        )
    return PastEvent(event_id, people, dates, start, finished)
