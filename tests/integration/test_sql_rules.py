"""The SQL forms of the domain's rules (datemaker/adapters/postgres/rules.py) agree with the domain."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from datemaker.adapters.postgres import rules
from datemaker.domain.events import BEFORE_START, OPEN_FOR_REGISTRATION, PLANNED, UPCOMING, EventState
from datemaker.domain.registrations import Registration
from datemaker.domain.timeline import TERMINAL
from tests.support.factories import create_event, create_participant, register

NOW = datetime(2026, 12, 1, tzinfo=UTC)


async def test_registration_predicates_say_what_the_domain_says(clean_db):
    event = await create_event(clean_db, users_limit=100)
    expected = {}
    for waitlisted, cancelled, declined, confirmed in itertools.product((False, True), repeat=4):
        user = await create_participant(clean_db)
        stamps = {
            "cancelled_at": NOW if cancelled else None,
            "declined_at": NOW if declined else None,
            "confirmed_at": NOW if confirmed else None,
        }
        await register(clean_db, event, user, registered_at=NOW, waitlisted=waitlisted, **stamps)
        registration = Registration(event, user, NOW, waitlisted=waitlisted, **stamps)
        expected[user] = (registration.active, registration.holds_seat, registration.status == "waitlisted")
    rows = await clean_db.fetch(
        f"""SELECT r.user_id, ({rules.active()}) AS active, ({rules.seated()}) AS seated,
                   ({rules.waitlisted()}) AS waitlisted
            FROM registrations r WHERE r.event_id = $1""",
        event,
    )
    assert {r["user_id"]: (r["active"], r["seated"], r["waitlisted"]) for r in rows} == expected


@pytest.mark.parametrize("states", [OPEN_FOR_REGISTRATION, BEFORE_START, UPCOMING, PLANNED, TERMINAL])
async def test_state_sets_select_the_same_states(pool, states):
    rows = await pool.fetch(f"SELECT id FROM event_states e WHERE {rules.state_in(states, 'e.id')}")
    assert {EventState(r["id"]) for r in rows} == set(states)
    for state in EventState:
        assert await pool.fetchval(f"SELECT {rules.state_is(state, 'id')} FROM event_states WHERE id = $1", int(state))


async def test_the_states_table_is_the_domains_enum(pool):
    rows = await pool.fetch("SELECT id, state_name FROM event_states")
    assert {r["id"]: r["state_name"] for r in rows} == {int(s): s.name for s in EventState}


async def test_takes_registrations_says_what_the_domain_says(clean_db):
    from datetime import timedelta

    from datemaker.adapters.postgres.store import EVENT_COLUMNS, event_from_row
    from datemaker.domain.schedules import takes_registrations

    later = datetime.now(UTC) + timedelta(days=30)  # a running datemaker leaves these events as they are until then
    for state, hours in itertools.product(EventState, (-2, 0.5, 1, 1.5, 48)):
        await create_event(clean_db, state_id=int(state), start_dttm=later + timedelta(hours=hours))
    rows = await clean_db.fetch(
        f"SELECT {EVENT_COLUMNS}, ({rules.takes_registrations('$1')}) AS takes FROM dating_events e", later
    )
    assert len(rows) == 35
    assert sum(r["takes"] for r in rows) == 4  # NOT_STARTED and REG_CONFIRM, starting in 1.5 h or 48 h
    for row in rows:
        assert row["takes"] is takes_registrations(event_from_row(row), later), dict(row)
