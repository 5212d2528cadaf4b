"""register_event's fast path: a popular event's registrations are written in batches (group commit), one
statement each, against the real database, and never more seats than there are."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

from contracts.envelope import Incoming
from datemaker.adapters.postgres.store import PostgresDatabase
from datemaker.service.dispatch import CommandProcessor
from tests.support.factories import create_event, create_participant


class CountingDatabase(PostgresDatabase):
    """The real adapter, counting the size of each batch it writes."""

    batches: list[int]

    async def register_at_once(self, event, claims):
        self.batches.append(len(claims))
        return await super().register_at_once(event, claims)


def command(event: int, user: int, message_id: str | None = None) -> Incoming:
    return Incoming(
        body=json.dumps({"event_id": event}).encode(),
        message_id=message_id or uuid.uuid4().hex,
        type="register_event",
        headers={"user_id": user, "chat_id": user},
    )


async def test_a_rush_on_one_event_is_written_in_batches(clean_db):
    database = CountingDatabase(clean_db)
    database.batches = []
    processor = CommandProcessor(database, lambda: datetime.now(UTC))
    event = await create_event(clean_db, users_limit=1000)
    users = [await create_participant(clean_db) for _ in range(120)]
    outcomes = await asyncio.gather(*(processor.process(command(event, user)) for user in users))
    assert {o.result for o in outcomes} == {"ok"}
    assert all(o.reply.data["status"] == "registered" for o in outcomes)
    assert sum(database.batches) == 120 and max(database.batches) > 1  # fewer statements than commands
    assert len(database.batches) < 120
    assert await clean_db.fetchval("SELECT registered_count FROM dating_events WHERE id = $1", event) == 120
    assert await clean_db.fetchval("SELECT count(*) FROM processed_messages") == 120


async def test_a_batch_larger_than_the_seats_left_falls_back_to_the_exact_answer(clean_db):
    database = CountingDatabase(clean_db)
    database.batches = []
    processor = CommandProcessor(database, lambda: datetime.now(UTC))
    event = await create_event(clean_db, users_limit=7)
    users = [await create_participant(clean_db) for _ in range(30)]
    same = uuid.uuid4().hex
    twice = [command(event, users[0], same), command(event, users[0], same)]  # a redelivery inside the rush
    outcomes = await asyncio.gather(*(processor.process(c) for c in [*twice, *(command(event, u) for u in users[1:])]))
    once_each = outcomes[1:]  # 30 users, one command each
    statuses = [o.reply.data["status"] if o.reply.ok else o.reply.error.code for o in once_each]
    assert statuses.count("registered") == 7 and statuses.count("waitlisted") == 7
    assert statuses.count("event_full") == 30 - 14
    assert outcomes[0].reply.to_body() == outcomes[1].reply.to_body()  # the same command, the same answer
    seats = await clean_db.fetchrow("SELECT registered_count, waitlisted_count FROM dating_events WHERE id = $1", event)
    assert tuple(seats) == (7, 7)
