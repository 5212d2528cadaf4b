"""PostgreSQL adapter of the organizer's console (the ``organizer_*`` commands): organizers, their action log,
bans and their lifting, reports and their dismissal, and the reads of the live board, over the command's connection
and transaction."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import asyncpg

from contracts.profile import age_on
from datemaker.adapters.postgres import rules
from datemaker.adapters.postgres.lifecycle import PostgresLifecycleStore, blocks_and_meetings
from datemaker.adapters.postgres.organizer import EventLine, event_lines, insert_event
from datemaker.adapters.postgres.schedules import ScheduleQueries
from datemaker.adapters.postgres.store import EVENT_COLUMNS, event_from_row, profile_from_row, registration_from_row
from datemaker.domain.board import BoardDate, Registrant
from datemaker.domain.event_settings import EventSettings, InvalidEventSettings
from datemaker.domain.events import PLANNED, UPCOMING, Event
from datemaker.domain.profiles import UserProfile
from datemaker.service.ports import BoardData, ReportLine, ReportResolution


class PostgresConsole:
    """The ``Console`` port over one connection inside the command's transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def is_organizer(self, user_id: int) -> bool:
        return bool(await self.conn.fetchval("SELECT true FROM organizers WHERE user_id = $1", user_id))

    async def log_action(
        self,
        organizer_id: int,
        action: str,
        now: datetime,
        *,
        event_id: int | None = None,
        user_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        await self.conn.execute(
            """INSERT INTO organizer_actions (organizer_id, action, event_id, user_id, details, at)
               VALUES ($1, $2, $3, $4, $5::jsonb, $6)""",
            organizer_id,
            action,
            event_id,
            user_id,
            details or {},  # the pool's codec makes it JSON
            now,
        )

    async def events(self, now: datetime, *, everything: bool, limit: int) -> list[EventLine]:
        lines, _ = await event_lines(self.conn, now, everything=everything, limit=limit)
        return lines

    async def create_event(self, settings: EventSettings) -> int:
        try:
            async with self.conn.transaction():  # a savepoint: a refused insert leaves the transaction usable
                return await insert_event(self.conn, settings)
        except (asyncpg.CheckViolationError, asyncpg.NumericValueOutOfRangeError) as exc:
            raise InvalidEventSettings(f"the database refused the event: {exc}") from None

    def lifecycle(self) -> PostgresLifecycleStore:
        return PostgresLifecycleStore(self.conn)

    def schedules(self) -> ScheduleQueries:
        return ScheduleQueries(self.conn)

    async def board_data(self, event_id: int, today: date) -> BoardData | None:
        row = await self.conn.fetchrow(
            f"""SELECT {EVENT_COLUMNS}, e.rounds_planned, e.rounds_started, e.schedule_id,
                       (SELECT count(*) FROM registrations r
                        WHERE r.event_id = e.id AND {rules.seated()} AND r.confirmed_at IS NOT NULL) AS confirmed
                FROM dating_events e WHERE e.id = $1""",
            event_id,
        )
        if row is None:
            return None
        event = event_from_row(row)
        rows = await self.conn.fetch(
            """SELECT r.*, u.name, u.gender, u.birthday,
                      (SELECT count(*) FROM likes x WHERE x.event_id = r.event_id AND x.user_id = r.user_id)
                    + (SELECT count(*) FROM dislikes x WHERE x.event_id = r.event_id AND x.user_id = r.user_id)
                    + (SELECT count(*) FROM reports x WHERE x.event_id = r.event_id AND x.user_id = r.user_id)
                      AS ratings_given
               FROM registrations r JOIN users u ON u.user_id = r.user_id
               WHERE r.event_id = $1 ORDER BY r.registered_at, r.user_id""",
            event_id,
        )
        registrants = [
            Registrant(
                registration=registration_from_row(r, event_id, r["user_id"]),
                name=r["name"] or "(erased)",
                gender=r["gender"],
                age=age_on(r["birthday"], today) if r["birthday"] else None,
                ratings_given=r["ratings_given"],
                unseated_reason=r["unseated_reason"],
            )
            for r in rows
        ]
        dates = await self.conn.fetch(
            """SELECT d.id, d.round_no, d.user_a, d.user_b, d.invited_at IS NOT NULL AS invited, d.space_name,
                      coalesce(s.account, '') AS account, d.abandoned_at IS NOT NULL AS given_up
               FROM event_dates d LEFT JOIN meet_spaces s ON s.id = d.space_id
               WHERE d.event_id = $1 ORDER BY d.round_no, d.id""",
            event_id,
        )
        return BoardData(
            event=event,
            rounds_planned=row["rounds_planned"],
            rounds_started=row["rounds_started"],
            confirmed=row["confirmed"],
            schedule_id=row["schedule_id"],
            registrants=registrants,
            dates=[
                BoardDate(
                    d["id"],
                    d["round_no"],
                    d["user_a"],
                    d["user_b"],
                    d["invited"],
                    d["space_name"],
                    d["account"],
                    d["given_up"],
                )
                for d in dates
            ],
        )

    async def seated_for_preview(
        self, event_id: int
    ) -> tuple[list[UserProfile], list[tuple[int, int]], list[tuple[int, int]]]:
        rows = await self.conn.fetch(
            f"""SELECT u.* FROM registrations r JOIN users u ON u.user_id = r.user_id
                WHERE r.event_id = $1 AND {rules.seated()} AND u.erased_at IS NULL ORDER BY r.registered_at""",
            event_id,
        )
        people = [profile_from_row(r) for r in rows]
        blocked, met = await blocks_and_meetings(self.conn, [p.user_id for p in people], event_id)
        return people, blocked, met

    async def reports(self, *, open_only: bool, limit: int) -> list[ReportLine]:
        rows = await self.conn.fetch(
            """SELECT x.id, x.event_id, x.user_id, x.partner_id, x.reason, x.created_at,
                      a.name AS reporter_name, b.name AS reported_name,
                      (SELECT count(*) FROM reports y WHERE y.partner_id = x.partner_id
                         AND (y.created_at, y.id) < (x.created_at, x.id)) AS reported_before,
                      (SELECT count(*) FROM reports y WHERE y.partner_id = x.user_id) AS reporter_reported,
                      EXISTS (SELECT 1 FROM banned_users z WHERE z.user_id = x.partner_id) AS banned,
                      x.resolved_at, x.resolved_by
               FROM reports x LEFT JOIN users a ON a.user_id = x.user_id LEFT JOIN users b ON b.user_id = x.partner_id
               WHERE NOT $1 OR (x.resolved_at IS NULL
                                AND NOT EXISTS (SELECT 1 FROM banned_users z WHERE z.user_id = x.partner_id))
               ORDER BY x.created_at DESC, x.id DESC LIMIT $2""",
            open_only,
            limit,
        )
        return [
            ReportLine(
                report_id=r["id"],
                event_id=r["event_id"],
                reporter=r["user_id"],
                reported=r["partner_id"],
                reporter_name=r["reporter_name"],
                reported_name=r["reported_name"],
                reason=r["reason"],
                at=r["created_at"],
                reported_before=r["reported_before"],
                reporter_reported=r["reporter_reported"],
                banned=r["banned"],
                resolved_at=r["resolved_at"],
                resolved_by=r["resolved_by"],
            )
            for r in rows
        ]

    async def resolve_report(self, report_id: int, by: int, now: datetime) -> ReportResolution | None:
        row = await self.conn.fetchrow(
            "SELECT event_id, user_id, partner_id, resolved_at FROM reports WHERE id = $1 FOR UPDATE", report_id
        )
        if row is None:
            return None
        if row["resolved_at"] is None:
            await self.conn.execute(
                "UPDATE reports SET resolved_at = $2, resolved_by = $3 WHERE id = $1", report_id, now, by
            )
        return ReportResolution(row["event_id"], row["user_id"], row["partner_id"], row["resolved_at"] is not None)

    async def unban(self, user_id: int) -> dict[str, Any] | None:
        row = await self.conn.fetchrow(
            "DELETE FROM banned_users WHERE user_id = $1 RETURNING reason, banned_by, banned_at", user_id
        )
        return None if row is None else dict(row)

    async def ban(self, user_id: int, reason: str, by: int, now: datetime) -> bool:
        """Whether the user was not banned already."""
        return bool(
            await self.conn.fetchval(
                """INSERT INTO banned_users (user_id, reason, banned_by, banned_at) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (user_id) DO NOTHING RETURNING true""",
                user_id,
                reason,
                by,
                now,
            )
        )

    async def events_to_leave(self, user_id: int) -> list[tuple[Event, bool]]:
        """The events not over where the user holds a registration (locked), and whether each has a plan."""
        rows = await self.conn.fetch(
            f"""SELECT {EVENT_COLUMNS} FROM dating_events e JOIN registrations r ON r.event_id = e.id
                WHERE r.user_id = $1 AND {rules.active()} AND {rules.state_in(UPCOMING)}
                ORDER BY e.id FOR UPDATE OF e""",
            user_id,
        )
        events = [event_from_row(r) for r in rows]
        return [(e, e.state in PLANNED) for e in events]

    async def leave_plan(self, event_id: int, user_id: int, now: datetime) -> list[int]:
        """Take the user out of the event's plan: their dates not held yet go; their partners there."""
        rows = await self.conn.fetch(
            """DELETE FROM event_dates WHERE event_id = $1 AND (user_a = $2 OR user_b = $2) AND invited_at IS NULL
               RETURNING CASE WHEN user_a = $2 THEN user_b ELSE user_a END AS partner""",
            event_id,
            user_id,
        )
        await self.conn.execute(
            """UPDATE registrations SET cancelled_at = $3, unseated_reason = 'banned'
               WHERE event_id = $1 AND user_id = $2 AND cancelled_at IS NULL""",
            event_id,
            user_id,
            now,
        )
        return [r["partner"] for r in rows]
