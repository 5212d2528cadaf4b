"""The domain's rules as SQL, generated from the domain so that each is stated once.

Event states come from :class:`~datemaker.domain.events.EventState` and the domain's named sets of them;
the registration predicates say in SQL what :class:`~datemaker.domain.registrations.Registration` says in
Python (``tests/integration/test_sql_rules.py`` checks that both agree on every kind of row).
"""

from __future__ import annotations

from collections.abc import Iterable

from datemaker.domain.events import OPEN_FOR_REGISTRATION, PLANNED, EventState


def state_in(states: Iterable[EventState], column: str = "e.state_id") -> str:
    """``column`` holds one of ``states``: ``e.state_id IN (0, 1)``."""
    return f"{column} IN ({', '.join(str(int(state)) for state in sorted(states))})"


def state_is(state: EventState, column: str = "e.state_id") -> str:
    return f"{column} = {int(state)}"


def active(alias: str = "r") -> str:
    """The registration holds a seat or a waitlist place (``Registration.active``)."""
    return f"{alias}.cancelled_at IS NULL AND {alias}.declined_at IS NULL"


def seated(alias: str = "r") -> str:
    """The registration holds a seat (``Registration.holds_seat``)."""
    return f"{active(alias)} AND NOT {alias}.waitlisted"


def waitlisted(alias: str = "r") -> str:
    """The registration waits for a seat (``Registration.status == "waitlisted"``)."""
    return f"{active(alias)} AND {alias}.waitlisted"


def may_match(user_id: str) -> str:
    """The person may be somebody's match, and be told theirs: nobody banned is, and their contact goes to
    nobody (the ``matches`` view keeps its seed meaning, mutual likes; its reads add this)."""
    return f"NOT EXISTS (SELECT 1 FROM banned_users b WHERE b.user_id = {user_id})"


def date_happens(alias: str = "d") -> str:
    """A date takes place only while both of its people are still registered, and it was not given up (a partner
    never joined: ``partner_absent``)."""
    return f"""{alias}.abandoned_at IS NULL AND EXISTS (SELECT 1 FROM registrations r
                       WHERE r.event_id = {alias}.event_id AND r.user_id = {alias}.user_a AND r.cancelled_at IS NULL)
           AND EXISTS (SELECT 1 FROM registrations r
                       WHERE r.event_id = {alias}.event_id AND r.user_id = {alias}.user_b AND r.cancelled_at IS NULL)"""


def space_free(alias: str = "s") -> str:
    """A Meet space may be given to a date: it is not retired, no date whose call is not over holds it, and
    no date of the same table in the next round waits to take it over."""
    return f"""{alias}.retired_at IS NULL
    AND NOT EXISTS (SELECT 1 FROM event_dates h WHERE h.space_id = {alias}.id AND h.ended_at IS NULL)
    AND NOT EXISTS (
        SELECT 1 FROM event_dates p
        JOIN event_dates n ON n.event_id = p.event_id AND n.group_no = p.group_no AND n.table_no = p.table_no
                          AND n.round_no = p.round_no + 1
        JOIN dating_events e ON e.id = n.event_id
        WHERE p.space_id = {alias}.id AND n.space_id IS NULL AND n.invited_at IS NULL
          AND {state_in(PLANNED)} AND n.round_no >= e.rounds_ended)"""


def takes_registrations(now: str, alias: str = "e") -> str:
    """The event takes registrations at ``now`` (an SQL expression): its state and its deadline
    (``schedules.takes_registrations``)."""
    return (
        f"{state_in(OPEN_FOR_REGISTRATION, f'{alias}.state_id')} "
        f"AND {alias}.start_dttm - make_interval(secs => {alias}.confirm_deadline_seconds) > {now}"
    )
