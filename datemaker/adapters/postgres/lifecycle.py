"""PostgreSQL adapter of the event runners (``LifecycleDatabase`` and ``LifecycleStore`` ports)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg

from datemaker.adapters.postgres import rules
from datemaker.adapters.postgres.spaces import give_free_spaces
from datemaker.adapters.postgres.store import EVENT_COLUMNS, enqueue, event_from_row, profile_from_row, profiles
from datemaker.domain.events import UPCOMING, Event, EventState
from datemaker.domain.notices import Notice, PlannedDate
from datemaker.domain.planning import Plan
from datemaker.domain.profiles import UserProfile
from datemaker.domain.timeline import TERMINAL, Progress
from datemaker.service.ports import (
    Attendance,
    CallToEnd,
    DateCall,
    PlanningInput,
    RoundPlan,
)

S = EventState
# A space serves one date at a time: a date whose space another date's call still holds waits for it.
_SPACE_BUSY = """EXISTS (SELECT 1 FROM event_dates p
                        WHERE p.space_id = d.space_id AND p.id <> d.id AND p.invited_at IS NOT NULL
                          AND p.ended_at IS NULL)"""
_DATE_HAPPENS = rules.date_happens()
_CALLS_ENDED = (S.RUNNING, S.FINISHED, S.CANCELLED)
"""States whose ended rounds' calls are ended (a cancelled event's started rounds ended with it)."""
_CALL_OPEN = "d.round_no < e.rounds_ended AND d.invited_at IS NOT NULL AND d.ended_at IS NULL"
"""A date of an ended round whose call is not ended yet."""
_PROGRESS_COLUMNS = f"""
    e.rules_sent_at, e.rounds_planned, e.rounds_started, e.rounds_ended, e.finished_at, e.results_collected_at,
    CASE WHEN {rules.state_is(S.REG_CONFIRM)} THEN (
        SELECT count(*) FROM registrations r
        WHERE r.event_id = e.id AND r.confirmation_sent_at IS NULL AND {rules.seated()}) ELSE 0 END AS unasked,
    CASE WHEN {rules.state_is(S.REG_CONFIRM)} THEN (
        SELECT count(*) FROM registrations r
        WHERE r.event_id = e.id AND r.confirmation_sent_at IS NOT NULL AND r.confirmed_at IS NULL AND {rules.seated()})
        ELSE 0 END AS unanswered,
    CASE WHEN {rules.state_is(S.RUNNING)} AND e.rounds_ended < e.rounds_started THEN (
        SELECT count(*) FROM event_dates d
        WHERE d.event_id = e.id AND d.round_no = e.rounds_started - 1 AND d.invited_at IS NULL
          AND d.space_name IS NOT NULL AND NOT {_SPACE_BUSY}) ELSE 0 END AS uninvited,
    CASE WHEN {rules.state_is(S.RUNNING)} AND e.rounds_ended < e.rounds_started THEN (
        SELECT count(*) FROM event_dates d
        WHERE d.event_id = e.id AND d.round_no = e.rounds_started - 1 AND d.invited_at IS NULL
          AND d.delayed_at IS NULL AND {_DATE_HAPPENS}) ELSE 0 END AS late_links,
    e.rounds_warned,
    CASE WHEN {rules.state_in(_CALLS_ENDED)} AND e.rounds_ended > 0 THEN (
        SELECT count(*) FROM event_dates d WHERE d.event_id = e.id AND {_CALL_OPEN}) ELSE 0 END AS open_calls"""
_CALL_COLUMNS = "d.id, d.space_name, coalesce(s.account, '') AS account"


def _call(row: asyncpg.Record) -> CallToEnd:
    return CallToEnd(row["id"], row["space_name"], row["account"])


def _progress(row: asyncpg.Record) -> Progress:
    return Progress(
        state=EventState(row["state_id"]),
        unasked=row["unasked"],
        unanswered=row["unanswered"],
        rules_sent=row["rules_sent_at"] is not None,
        rounds_planned=row["rounds_planned"],
        rounds_started=row["rounds_started"],
        rounds_ended=row["rounds_ended"],
        uninvited=row["uninvited"],
        late_links=row["late_links"],
        rounds_warned=row["rounds_warned"],
        open_calls=row["open_calls"],
        finished_at=row["finished_at"],
        results_collected=row["results_collected_at"] is not None,
    )


async def blocks_and_meetings(
    conn: asyncpg.Connection, ids: list[int], event_id: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Among ``ids``: the pairs that must never meet (one reported the other) and those who met at another event (a
    date given up because one never came is no meeting)."""
    blocked = await conn.fetch(
        """SELECT DISTINCT least(user_id, partner_id) AS a, greatest(user_id, partner_id) AS b FROM reports
           WHERE user_id = ANY($1::bigint[]) AND partner_id = ANY($1::bigint[])""",
        ids,
    )
    met = await conn.fetch(
        """SELECT DISTINCT user_a AS a, user_b AS b FROM event_dates
           WHERE event_id <> $2 AND invited_at IS NOT NULL AND abandoned_at IS NULL
             AND user_a = ANY($1::bigint[]) AND user_b = ANY($1::bigint[])""",
        ids,
        event_id,
    )
    return [(r["a"], r["b"]) for r in blocked], [(r["a"], r["b"]) for r in met]


class PostgresLifecycleStore:
    """The runners' reads and writes over one connection in a transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def lock_event(self, event_id: int) -> tuple[Event, Progress] | None:
        row = await self.conn.fetchrow(
            f"SELECT {EVENT_COLUMNS}, {_PROGRESS_COLUMNS} FROM dating_events e WHERE e.id = $1 FOR UPDATE OF e",
            event_id,
        )
        return (event_from_row(row), _progress(row)) if row else None

    async def set_state(self, event_id: int, state: EventState, now: datetime, reason: str | None = None) -> None:
        await self.conn.execute(
            f"""UPDATE dating_events SET state_id = $2::smallint, closing_reason = coalesce($4, closing_reason),
                   confirmations_opened_at = CASE WHEN {rules.state_is(S.REG_CONFIRM, "$2::smallint")} THEN $3
                                                  ELSE confirmations_opened_at END,
                   finished_at = CASE WHEN {rules.state_in(TERMINAL, "$2::smallint")} THEN $3 ELSE finished_at END
               WHERE id = $1""",
            event_id,
            int(state),
            now,
            reason,
        )

    async def unasked_registrants(self, event_id: int) -> list[tuple[UserProfile, datetime]]:
        rows = await self.conn.fetch(
            f"""SELECT u.*, greatest(r.registered_at, r.reconfirm_asked_at) AS asked_from
                FROM registrations r JOIN users u ON u.user_id = r.user_id
                WHERE r.event_id = $1 AND r.confirmation_sent_at IS NULL AND {rules.seated()}
                ORDER BY r.registered_at""",
            event_id,
        )
        return [(profile_from_row(row), row["asked_from"]) for row in rows]

    async def mark_asked(self, event_id: int, user_ids: list[int], now: datetime) -> None:
        await self.conn.execute(
            "UPDATE registrations SET confirmation_sent_at = $3 WHERE event_id = $1 AND user_id = ANY($2::bigint[])",
            event_id,
            user_ids,
            now,
        )

    async def planning_input(self, event_id: int) -> PlanningInput:
        rows = await self.conn.fetch(
            f"""SELECT u.*, r.waitlisted, r.confirmed_at FROM registrations r JOIN users u ON u.user_id = r.user_id
                WHERE r.event_id = $1 AND {rules.active()} ORDER BY r.registered_at""",
            event_id,
        )
        confirmed = [profile_from_row(r) for r in rows if not r["waitlisted"] and r["confirmed_at"] is not None]
        not_confirmed = {
            r["user_id"]: "waitlisted" if r["waitlisted"] else "not_confirmed"
            for r in rows
            if r["waitlisted"] or r["confirmed_at"] is None
        }
        blocked, met = await blocks_and_meetings(self.conn, [p.user_id for p in confirmed], event_id)
        return PlanningInput(confirmed=confirmed, not_confirmed=not_confirmed, blocked=blocked, met_before=met)

    async def save_plan(self, event_id: int, plan: Plan, scores: dict[tuple[int, int], float], now: datetime) -> None:
        await self.conn.executemany(
            "INSERT INTO event_groups (event_id, group_no, members, rounds) VALUES ($1, $2, $3, $4)",
            [(event_id, g.group, list(g.members), len(g.rounds)) for g in plan.groups],
        )
        dates = [
            (event_id, g.group, r.round, table, a, b, scores.get((a, b)))
            for g in plan.groups
            for r in g.rounds
            for table, (a, b) in enumerate(r.pairs)
        ]
        await self.conn.copy_records_to_table(
            "event_dates",
            records=dates,
            columns=["event_id", "group_no", "round_no", "table_no", "user_a", "user_b", "score"],
        )
        seated = [(m, g.group) for g in plan.groups for m in g.members]
        await self.conn.execute(
            """UPDATE registrations r SET group_no = s.group_no
               FROM unnest($2::bigint[], $3::int[]) AS s(user_id, group_no)
               WHERE r.event_id = $1 AND r.user_id = s.user_id""",
            event_id,
            [u for u, _ in seated],
            [g for _, g in seated],
        )
        await self.conn.execute(
            """UPDATE registrations r SET unseated_reason = s.reason
               FROM unnest($2::bigint[], $3::text[]) AS s(user_id, reason)
               WHERE r.event_id = $1 AND r.user_id = s.user_id""",
            event_id,
            [u.id for u in plan.unseated],
            [u.reason for u in plan.unseated],
        )
        await self.conn.execute(
            f"""UPDATE dating_events SET {rules.state_is(S.READY, "state_id")}, planned_at = $2, rounds_planned = $3
                WHERE id = $1""",
            event_id,
            now,
            max((len(g.rounds) for g in plan.groups), default=0),
        )

    async def seated_profiles(self, event_id: int) -> list[UserProfile]:
        rows = await self.conn.fetch(
            f"""SELECT u.* FROM registrations r JOIN users u ON u.user_id = r.user_id
                WHERE r.event_id = $1 AND r.group_no IS NOT NULL AND {rules.active()}""",
            event_id,
        )
        return [profile_from_row(r) for r in rows]

    async def mark_rules_sent(self, event_id: int, now: datetime) -> None:
        await self.conn.execute("UPDATE dating_events SET rules_sent_at = $2 WHERE id = $1", event_id, now)

    async def round_plan(self, event_id: int, round_no: int) -> RoundPlan:
        rows = await self.conn.fetch(
            f"""SELECT d.id, d.round_no, d.user_a, d.user_b, d.meeting_uri, d.invited_at IS NOT NULL AS invited,
                       d.delayed_at IS NOT NULL AS delayed, d.space_id IS NOT NULL AND {_SPACE_BUSY} AS space_busy,
                       d.rescue
                FROM event_dates d WHERE d.event_id = $1 AND d.round_no = $2 AND {_DATE_HAPPENS}
                ORDER BY d.id""",
            event_id,
            round_no,
        )
        dates = [
            PlannedDate(
                r["id"],
                r["round_no"],
                r["user_a"],
                r["user_b"],
                r["meeting_uri"],
                r["invited"],
                r["delayed"],
                r["space_busy"],
                r["rescue"],
            )
            for r in rows
        ]
        in_dates = {u for d in dates for u in d.people}
        members = await self.conn.fetch(
            f"""SELECT r.user_id FROM event_groups g
                JOIN registrations r ON r.event_id = g.event_id AND r.group_no = g.group_no AND {rules.active()}
                WHERE g.event_id = $1 AND g.rounds > $2""",
            event_id,
            round_no,
        )
        sitting_out = sorted({m["user_id"] for m in members} - in_dates)
        rounds = await self.conn.fetch(
            """SELECT person, array_agg(round_no ORDER BY round_no) AS rounds FROM (
                   SELECT user_a AS person, round_no FROM event_dates WHERE event_id = $1
                   UNION ALL SELECT user_b, round_no FROM event_dates WHERE event_id = $1) t
               WHERE person = ANY($2::bigint[]) GROUP BY person""",
            event_id,
            list(in_dates) + sitting_out,
        )
        return RoundPlan(dates, sitting_out, {r["person"]: list(r["rounds"]) for r in rounds})

    async def profiles(self, user_ids: Iterable[int]) -> dict[int, UserProfile]:
        return await profiles(self.conn, user_ids)

    async def mark_invited(self, date_ids: list[int], now: datetime) -> None:
        await self.conn.execute(
            "UPDATE event_dates SET invited_at = $2 WHERE id = ANY($1::bigint[]) AND invited_at IS NULL", date_ids, now
        )

    async def claim_free_spaces(self, event_id: int, round_no: int) -> int:
        dates = await self.conn.fetch(
            f"""SELECT d.id FROM event_dates d
                WHERE d.event_id = $1 AND d.round_no = $2 AND d.space_id IS NULL AND d.invited_at IS NULL
                  AND {_DATE_HAPPENS}
                ORDER BY d.id FOR UPDATE""",
            event_id,
            round_no,
        )
        if not dates:
            return 0
        return len(await give_free_spaces(self.conn, [d["id"] for d in dates]))

    async def take_over_table_spaces(self, event_id: int, round_no: int) -> int:
        # The same table of the same group one round before, if it had a space; its call is ended before the new
        # date's link goes out (a space serves one date at a time).
        result = await self.conn.execute(
            f"""UPDATE event_dates d SET space_id = p.space_id, space_name = p.space_name, meeting_uri = p.meeting_uri,
                       meeting_code = p.meeting_code, reused = true
                FROM event_dates p
                WHERE d.event_id = $1 AND d.round_no = $2 AND d.space_id IS NULL AND d.invited_at IS NULL
                  AND p.event_id = d.event_id AND p.group_no = d.group_no AND p.round_no = d.round_no - 1
                  AND p.table_no = d.table_no AND p.space_id IS NOT NULL AND {_DATE_HAPPENS}
                  AND NOT EXISTS (SELECT 1 FROM event_dates h  -- nobody else holds it meanwhile
                                  WHERE h.space_id = p.space_id AND h.id <> p.id AND h.ended_at IS NULL)""",
            event_id,
            round_no,
        )
        return int(result.split()[-1])

    async def mark_delayed(self, date_ids: list[int], now: datetime) -> None:
        await self.conn.execute(
            "UPDATE event_dates SET delayed_at = $2 WHERE id = ANY($1::bigint[]) AND delayed_at IS NULL", date_ids, now
        )

    async def mark_warned(self, event_id: int, rounds_warned: int) -> None:
        await self.conn.execute(
            "UPDATE dating_events SET rounds_warned = greatest(rounds_warned, $2) WHERE id = $1",
            event_id,
            rounds_warned,
        )

    async def retire_spaces(self, date_ids: list[int], now: datetime) -> None:
        await self.conn.execute(
            """UPDATE meet_spaces s SET retired_at = $2 FROM event_dates d
               WHERE d.id = ANY($1::bigint[]) AND s.id = d.space_id AND s.retired_at IS NULL""",
            date_ids,
            now,
        )

    async def withdraw_unsent(self, event_id: int) -> int:
        # A row the relay has claimed is locked: waiting for it, the delete finds it sent and leaves it.
        result = await self.conn.execute("DELETE FROM outbox WHERE event_id = $1 AND sent_at IS NULL", event_id)
        return int(result.split()[-1])

    async def release_unused_spaces(self, event_id: int, before_round: int | None = None) -> int:
        result = await self.conn.execute(
            """UPDATE event_dates SET space_id = NULL, space_name = NULL, meeting_uri = NULL, meeting_code = NULL,
                   reused = false
               WHERE event_id = $1 AND invited_at IS NULL AND space_id IS NOT NULL
                 AND ($2::int IS NULL OR round_no < $2::int)""",
            event_id,
            before_round,
        )
        return int(result.split()[-1])

    async def mark_round_started(self, event_id: int, rounds_started: int) -> None:
        await self.conn.execute(
            "UPDATE dating_events SET rounds_started = greatest(rounds_started, $2) WHERE id = $1",
            event_id,
            rounds_started,
        )

    async def mark_round_ended(self, event_id: int, rounds_ended: int) -> None:
        await self.conn.execute(
            "UPDATE dating_events SET rounds_ended = greatest(rounds_ended, $2) WHERE id = $1", event_id, rounds_ended
        )

    async def dates_per_person(self, event_id: int) -> dict[int, int]:
        rows = await self.conn.fetch(
            f"""SELECT person, count(*) AS dates FROM (
                    SELECT user_a AS person FROM event_dates
                    WHERE event_id = $1 AND invited_at IS NOT NULL AND abandoned_at IS NULL
                    UNION ALL SELECT user_b FROM event_dates
                    WHERE event_id = $1 AND invited_at IS NOT NULL AND abandoned_at IS NULL) t
                WHERE {rules.may_match("person")}
                GROUP BY person""",
            event_id,
        )
        return {r["person"]: r["dates"] for r in rows}

    async def mutual_matches(self, event_id: int) -> dict[int, list[int]]:
        rows = await self.conn.fetch(
            f"""SELECT user_id, array_agg(partner_id ORDER BY partner_id) AS partners FROM matches
                WHERE event_id = $1 AND {rules.may_match("user_id")} AND {rules.may_match("partner_id")}
                GROUP BY user_id""",
            event_id,
        )
        return {r["user_id"]: list(r["partners"]) for r in rows}

    async def active_registrant_profiles(self, event_id: int) -> list[UserProfile]:
        rows = await self.conn.fetch(
            f"""SELECT u.* FROM registrations r JOIN users u ON u.user_id = r.user_id
                WHERE r.event_id = $1 AND {rules.active()}""",
            event_id,
        )
        return [profile_from_row(r) for r in rows]

    async def enqueue(self, messages: Sequence[Notice]) -> int:
        return await enqueue(self.conn, messages)


class PostgresLifecycleDatabase:
    """The ``LifecycleDatabase`` port over an asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresLifecycleStore]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield PostgresLifecycleStore(conn)

    async def active_events(self) -> list[tuple[Event, Progress]]:
        rows = await self.pool.fetch(
            f"""SELECT {EVENT_COLUMNS}, {_PROGRESS_COLUMNS} FROM dating_events e
                WHERE {rules.state_in(UPCOMING)}
                   OR ({rules.state_is(S.FINISHED)} AND e.results_collected_at IS NULL)
                   OR ({rules.state_is(S.CANCELLED)} AND e.rounds_ended > 0
                       AND EXISTS (SELECT 1 FROM event_dates d WHERE d.event_id = e.id AND {_CALL_OPEN}))"""
        )
        return [(event_from_row(row), _progress(row)) for row in rows]

    async def calls_to_end(self, event_id: int, up_to_round: int) -> list[CallToEnd]:
        rows = await self.pool.fetch(
            f"""SELECT {_CALL_COLUMNS} FROM event_dates d LEFT JOIN meet_spaces s ON s.id = d.space_id
                WHERE d.event_id = $1 AND d.round_no < $2 AND d.invited_at IS NOT NULL AND d.ended_at IS NULL
                  AND d.space_name IS NOT NULL""",
            event_id,
            up_to_round,
        )
        return [_call(r) for r in rows]

    async def mark_calls_ended(self, date_ids: list[int], now: datetime) -> None:
        if date_ids:
            await self.pool.execute(
                "UPDATE event_dates SET ended_at = $2 WHERE id = ANY($1::bigint[]) AND ended_at IS NULL", date_ids, now
            )

    async def spaces_of(self, event_id: int) -> list[DateCall]:
        # A space that served several dates holds a conference for each: a date's is the one that began after
        # the space's previous date was over and before its next date was invited.
        rows = await self.pool.fetch(
            """SELECT d.id, d.space_name, coalesce(s.account, '') AS account,
                      greatest(d.invited_at - interval '5 seconds',
                               (SELECT max(o.ended_at) FROM event_dates o
                                WHERE o.space_id = d.space_id AND o.id <> d.id AND o.invited_at < d.invited_at))
                          AS since,
                      (SELECT min(o.invited_at) FROM event_dates o
                       WHERE o.space_id = d.space_id AND o.id <> d.id AND o.invited_at > d.invited_at) AS until
               FROM event_dates d LEFT JOIN meet_spaces s ON s.id = d.space_id
               WHERE d.event_id = $1 AND d.invited_at IS NOT NULL AND d.space_name IS NOT NULL ORDER BY d.id""",
            event_id,
        )
        return [DateCall(r["id"], r["space_name"], r["account"], r["since"], r["until"]) for r in rows]

    async def save_attendance(self, event_id: int, attendance: dict[int, list[Attendance]], now: datetime) -> None:
        rows = [
            (date_id, a.display_name, a.joined_at, a.left_at) for date_id, people in attendance.items() for a in people
        ]
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                """INSERT INTO date_attendance (date_id, display_name, joined_at, left_at) VALUES ($1, $2, $3, $4)
                   ON CONFLICT DO NOTHING""",
                rows,
            )
            await conn.execute("UPDATE dating_events SET results_collected_at = $2 WHERE id = $1", event_id, now)

    async def funnel(self, event_id: int) -> dict[str, int]:
        row = await self.pool.fetchrow(
            """SELECT count(*) AS registered,
                       count(*) FILTER (WHERE r.confirmed_at IS NOT NULL) AS confirmed,
                       count(*) FILTER (WHERE r.group_no IS NOT NULL AND r.cancelled_at IS NULL) AS seated,
                       (SELECT count(DISTINCT person) FROM (
                            SELECT unnest(ARRAY[d.user_a, d.user_b]) AS person FROM event_dates d
                            WHERE d.event_id = $1
                              AND (SELECT count(DISTINCT a.display_name) FROM date_attendance a
                                   WHERE a.date_id = d.id) >= 2) t
                       ) AS joined,
                       (SELECT count(DISTINCT user_id) FROM matches WHERE event_id = $1) AS matched
                FROM registrations r WHERE r.event_id = $1""",
            event_id,
        )
        return {stage: int(row[stage]) for stage in ("registered", "confirmed", "seated", "joined", "matched")}

    async def active_conferences(self) -> int:
        return await self.pool.fetchval(
            f"""SELECT count(*) FROM event_dates d JOIN dating_events e ON e.id = d.event_id
               WHERE {rules.state_is(S.RUNNING)} AND d.invited_at IS NOT NULL AND d.ended_at IS NULL"""
        )
