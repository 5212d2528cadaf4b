"""PostgreSQL adapter of rescue (``partner_absent`` and the passes from a quarter to three quarters of a round in): the
round's dates, giving one up, the stranded people, rescue dates in the abandoned date's space, the no-show
streak."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from datemaker.adapters.postgres import rules
from datemaker.adapters.postgres.lifecycle import blocks_and_meetings
from datemaker.adapters.postgres.store import EVENT_COLUMNS, event_from_row
from datemaker.domain.board import BoardDate
from datemaker.domain.events import Event, EventState


@dataclass(frozen=True)
class RoundDate:
    """A date of the round running now, as rescue needs it."""

    date_id: int
    group_no: int
    user_a: int
    user_b: int
    invited: bool
    rescue: bool
    space_name: str | None
    account: str
    empty_at_check: bool = False

    @property
    def people(self) -> tuple[int, int]:
        return (self.user_a, self.user_b)

    def partner_of(self, user_id: int) -> int:
        return self.user_b if user_id == self.user_a else self.user_a

    def board_date(self, round_no: int) -> BoardDate:
        return BoardDate(self.date_id, round_no, self.user_a, self.user_b, self.invited, self.space_name, self.account)


class PostgresRescue:
    """Rescue's reads and writes over one connection inside a transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def round_dates(self, event_id: int, round_no: int) -> list[RoundDate]:
        """The round's dates that still happen (not given up)."""
        rows = await self.conn.fetch(
            f"""SELECT d.id, d.group_no, d.user_a, d.user_b, d.invited_at IS NOT NULL AS invited, d.rescue,
                       d.space_name, coalesce(s.account, '') AS account, d.empty_at_check
                FROM event_dates d LEFT JOIN meet_spaces s ON s.id = d.space_id
                WHERE d.event_id = $1 AND d.round_no = $2 AND {rules.date_happens()}
                ORDER BY d.id FOR UPDATE OF d""",
            event_id,
            round_no,
        )
        return [
            RoundDate(
                r["id"],
                r["group_no"],
                r["user_a"],
                r["user_b"],
                r["invited"],
                r["rescue"],
                r["space_name"],
                r["account"],
                r["empty_at_check"],
            )
            for r in rows
        ]

    async def abandon(self, date_id: int, absent_user: int, now: datetime) -> bool:
        """Give the date up, ``absent_user`` never having joined; False when it was given up already."""
        return bool(
            await self.conn.fetchval(
                """UPDATE event_dates SET abandoned_at = $2, absent_user = $3 WHERE id = $1 AND abandoned_at IS NULL
                   RETURNING true""",
                date_id,
                now,
                absent_user,
            )
        )

    async def stranded(self, event_id: int, round_no: int) -> list[tuple[int, int]]:
        """People of the round's given-up dates who came (not the absent one), have no date in the round now and have
        not had a rescue date in it (nobody is rescued twice in a round); with the given-up date each one was in."""
        rows = await self.conn.fetch(
            f"""SELECT p.person, d.id FROM event_dates d
                CROSS JOIN LATERAL (VALUES (d.user_a), (d.user_b)) AS p(person)
                WHERE d.event_id = $1 AND d.round_no = $2 AND d.abandoned_at IS NOT NULL
                  AND p.person IS DISTINCT FROM d.absent_user
                  AND NOT EXISTS (SELECT 1 FROM event_dates o
                                  WHERE o.event_id = d.event_id AND o.round_no = d.round_no
                                    AND (o.user_a = p.person OR o.user_b = p.person) AND {rules.date_happens("o")})
                  AND NOT EXISTS (SELECT 1 FROM event_dates x
                                  WHERE x.event_id = d.event_id AND x.round_no = d.round_no AND x.rescue
                                    AND (x.user_a = p.person OR x.user_b = p.person))
                  AND NOT EXISTS (SELECT 1 FROM registrations r
                                  WHERE r.event_id = d.event_id AND r.user_id = p.person AND r.cancelled_at IS NOT NULL)
                ORDER BY d.abandoned_at, p.person""",
            event_id,
            round_no,
        )
        return [(r["person"], r["id"]) for r in rows]

    async def met_and_blocked(
        self, event_id: int, ids: list[int]
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Among ``ids``: pairs who met (tonight, a date that was held, or at another event) and blocked pairs."""
        blocked, met_elsewhere = await blocks_and_meetings(self.conn, ids, event_id)
        tonight = await self.conn.fetch(
            """SELECT user_a, user_b FROM event_dates WHERE event_id = $1 AND invited_at IS NOT NULL
               AND user_a = ANY($2::bigint[]) AND user_b = ANY($2::bigint[])""",
            event_id,
            ids,
        )
        return [*met_elsewhere, *((r["user_a"], r["user_b"]) for r in tonight)], blocked

    async def add_rescue_date(
        self, event_id: int, round_no: int, a: int, b: int, space_from: int, now: datetime
    ) -> int:
        """A rescue date for ``a`` and ``b`` in the round, in the space of the given-up date ``space_from`` (one of
        them is in its call already); that date no longer holds the space."""
        date_id = await self.conn.fetchval(
            """INSERT INTO event_dates (event_id, group_no, round_no, user_a, user_b, rescue, space_id, space_name,
                                        meeting_uri, meeting_code, reused)
               SELECT $1, f.group_no, $2, least($3::bigint, $4::bigint), greatest($3::bigint, $4::bigint), true,
                      f.space_id, f.space_name, f.meeting_uri, f.meeting_code, true
               FROM event_dates f WHERE f.id = $5
               RETURNING id""",
            event_id,
            round_no,
            a,
            b,
            space_from,
        )
        await self.conn.execute(
            "UPDATE event_dates SET ended_at = coalesce(ended_at, $2) WHERE id = $1", space_from, now
        )
        return date_id

    async def tell_alone(self, given_up: list[int], now: datetime) -> list[int]:
        """Of the given-up dates ``given_up``, those whose stranded person is to be told now that nobody is free
        (each is told once a round, however many passes find them alone); marked told."""
        rows = await self.conn.fetch(
            """UPDATE event_dates SET alone_told_at = $2 WHERE id = ANY($1::bigint[]) AND alone_told_at IS NULL
               RETURNING id""",
            given_up,
            now,
        )
        return [r["id"] for r in rows]

    async def mark_empty(self, date_ids: list[int]) -> None:
        """Neither of these dates' people was in the call at the round's first check: later passes look at them."""
        if date_ids:
            await self.conn.execute(
                "UPDATE event_dates SET empty_at_check = true WHERE id = ANY($1::bigint[])", date_ids
            )

    async def no_show_streaks(self, users: list[int]) -> dict[int, int]:
        """The users' no-show streaks, their rows locked until the transaction ends (in id order)."""
        rows = await self.conn.fetch(
            """SELECT user_id, no_show_streak FROM users WHERE user_id = ANY($1::bigint[])
               ORDER BY user_id FOR UPDATE""",
            users,
        )
        return {r["user_id"]: r["no_show_streak"] for r in rows}

    async def set_no_show_streaks(self, streaks: dict[int, int]) -> None:
        if streaks:
            await self.conn.execute(
                """UPDATE users u SET no_show_streak = s.streak
                   FROM unnest($1::bigint[], $2::int[]) AS s(user_id, streak) WHERE u.user_id = s.user_id""",
                list(streaks),
                list(streaks.values()),
            )

    async def ask_to_reconfirm(self, user_id: int, event_id: int, now: datetime) -> list[int]:
        """The user's confirmations for their other events not planned yet are withdrawn: they are asked again
        (the event's timeline asks registrants not yet asked, by a new message: ``reconfirm_asked_at``). The events
        concerned."""
        rows = await self.conn.fetch(
            f"""UPDATE registrations r SET confirmation_sent_at = NULL, confirmed_at = NULL, reconfirm_asked_at = $3
                FROM dating_events e
                WHERE r.event_id = e.id AND r.user_id = $1 AND e.id <> $2 AND {rules.seated()}
                  AND {rules.state_in(frozenset({EventState.NOT_STARTED, EventState.REG_CONFIRM}))}
                  AND (r.confirmed_at IS NOT NULL OR r.confirmation_sent_at IS NOT NULL)
                RETURNING r.event_id""",
            user_id,
            event_id,
            now,
        )
        return [r["event_id"] for r in rows]

    async def next_round_of(self, event_id: int, user_id: int, after_round: int) -> int | None:
        return await self.conn.fetchval(
            f"""SELECT min(d.round_no) FROM event_dates d
                WHERE d.event_id = $1 AND d.round_no > $3 AND (d.user_a = $2 OR d.user_b = $2)
                  AND {rules.date_happens()}""",
            event_id,
            user_id,
            after_round,
        )

    async def round_checked(self, event_id: int, round_no: int) -> bool:
        """Whether the quarter-round check has looked at the round (and counted its no-shows)."""
        return bool(
            await self.conn.fetchval("SELECT rounds_rescued > $2 FROM dating_events WHERE id = $1", event_id, round_no)
        )

    async def claim_check(self, event_id: int, round_no: int, number: int = 0, first: bool = True) -> bool:
        """Whether this caller is the one to make pass ``number`` over the round (each pass is made once): the
        ``first`` check (each round is checked once), or a later one after the first check and a pass with a
        smaller number."""
        if first:
            sql = """UPDATE dating_events SET rounds_rescued = $2 + 1, rescue_pass = $3
                     WHERE id = $1 AND rounds_rescued <= $2 RETURNING true"""
        else:
            sql = """UPDATE dating_events SET rescue_pass = $3
                     WHERE id = $1 AND rounds_rescued = $2 + 1 AND rescue_pass < $3 RETURNING true"""
        return bool(await self.conn.fetchval(sql, event_id, round_no, number))

    async def running_events(self) -> list[tuple[Event, int, int, int]]:
        """Running events with a round started: the event, rounds started, rounds already checked, and the number of
        the last pass over the last checked round."""
        rows = await self.conn.fetch(
            f"""SELECT {EVENT_COLUMNS}, e.rounds_started, e.rounds_rescued, e.rescue_pass FROM dating_events e
                WHERE {rules.state_is(EventState.RUNNING)} AND e.rounds_started > e.rounds_ended"""
        )
        return [(event_from_row(r), r["rounds_started"], r["rounds_rescued"], r["rescue_pass"]) for r in rows]
