"""``events``: the organizer's command line: create (one event or a series), list, show, board, cancel, export.

Bad input gets one line on stderr and exit status 2, never a traceback. The rules an event's settings
must meet live in :mod:`datemaker.domain.event_settings`; this module parses, calls and prints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from datemaker.cli.common import (
    EXIT_DECLINED,
    action_group,
    add_event_settings,
    event_settings,
    identifier,
    log_change,
    run_action,
    table,
    when,
    whole_number,
)
from datemaker.config import Settings

if TYPE_CHECKING:
    import asyncpg

    from datemaker.adapters.postgres.organizer import DateLine, EventReport, OrganizerQueries, RegistrantLine
    from datemaker.domain.event_settings import EventSettings
    from datemaker.domain.events import Event
    from datemaker.domain.spaces import Outlook
    from datemaker.service.space_pool import UnplannedEvent

CSV_COLUMNS = (
    "user_id",
    "name",
    "username",
    "status",
    "registered_at",
    "confirmed_at",
    "declined_at",
    "cancelled_at",
    "group",
    "unseated_reason",
    "dates",
    "joined_calls",
    "likes_given",
    "likes_received",
    "matches",
    "matched_with",
)
"""Columns of ``events export``: times are ISO 8601 in the event's timezone, groups count from 1."""
_event_id = identifier("an event")


def register(commands: argparse._SubParsersAction) -> None:
    actions = action_group(
        commands,
        "events",
        run,
        help="organize events: create (one or a series), list, show, board, cancel, export",
        description="The organizer's tools. Times are shown in each event's own timezone.",
    )

    create = actions.add_parser(
        "create",
        help="create an event, or a weekly series of them",
        description="Create an event (or a series). Settings left out take the table's defaults. Durations are "
        "seconds, or e.g. 90s, 5m, 1h30m, 1d.",
    )
    create.add_argument(
        "--start",
        required=True,
        metavar="TIME",
        help="local start time in the event's timezone ('2026-12-05 19:00') or ISO 8601 with an offset",
    )
    add_event_settings(create)
    create.add_argument("--repeat", choices=("weekly", "daily"), help="create a series, at the same local time")
    create.add_argument("--count", type=whole_number, metavar="N", help="how many events the series has")
    create.set_defaults(handler=_create)

    listing = actions.add_parser("list", help="upcoming and recent events as a table")
    listing.add_argument(
        "--all",
        action="store_true",
        help="every event, however old (default: not over, or started in the last 14 days)",
    )
    listing.add_argument("--limit", type=whole_number, default=50, metavar="N", help="at most N events (default 50)")
    listing.set_defaults(handler=_list)

    show = actions.add_parser("show", help="an event's state, timeline, registrations, plan and results")
    show.add_argument("event_id", type=_event_id, metavar="ID")
    show.set_defaults(handler=_show)

    board = actions.add_parser(
        "board",
        help="an event's live board, refreshed in place: per person confirmed, seated, partner, link, in the call",
        description="The live board of an event: per person their registration, whether they confirmed and are "
        "seated, tonight's partner (in the round running now), whether the round's link went out and whether they "
        "are in the call right now (Google Meet's live participants), and the ratings they gave; a summary line of "
        "dates running, dates waiting for a link and people alone in a call. Refreshed in place until the event is "
        "over or Ctrl-C (printed once when the output is not a terminal, or with --once).",
    )
    board.add_argument("event_id", type=_event_id, metavar="ID")
    board.add_argument("--once", action="store_true", help="print the board once")
    board.add_argument(
        "--every", type=whole_number, default=5, metavar="SECONDS", help="refresh every SECONDS (default 5)"
    )
    board.set_defaults(handler=_board)

    cancel = actions.add_parser("cancel", help="cancel an event; everyone registered is told")
    cancel.add_argument("event_id", type=_event_id, metavar="ID")
    cancel.add_argument("--reason", metavar="TEXT", help="why (kept with the event)")
    cancel.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    cancel.set_defaults(handler=_cancel)

    export = actions.add_parser("export", help="registrations and results of an event as CSV")
    export.add_argument("event_id", type=_event_id, metavar="ID")
    export.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of standard output")
    export.set_defaults(handler=_export)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out the action; one line on stderr and status 2 on bad input or an unusable database."""
    from datemaker.adapters.postgres.organizer import OrganizerQueries

    return run_action("events", args, settings, _prepare, OrganizerQueries)


def _prepare(args: argparse.Namespace) -> Any:
    """What can be checked without the database: the settings of the events to create."""
    if args.action != "create":
        if args.action == "list" and args.limit < 1:
            from datemaker.domain.event_settings import InvalidEventSettings

            raise InvalidEventSettings(f"--limit must be positive, not {args.limit}")
        if args.action == "board" and not 1 <= args.every <= 3600:
            from datemaker.domain.event_settings import InvalidEventSettings

            raise InvalidEventSettings(f"--every must be between 1 and 3600 seconds, not {args.every}")
        return None
    from datemaker.domain.event_settings import DEFAULT_TIMEZONE, EventSettings, parse_start, series, validate_series

    timezone = args.timezone if args.timezone is not None else DEFAULT_TIMEZONE
    first = EventSettings(start=parse_start(args.start, timezone), timezone=timezone, **event_settings(args))
    events = series(first, args.repeat, args.count)
    validate_series(events, datetime.now(UTC))
    return events


# --- create ----------------------------------------------------------------------------------------


async def _create(args: argparse.Namespace, queries: OrganizerQueries, events: list[EventSettings]) -> int:
    with _progress(len(events), "creating events") as advance:
        ids = await queries.create_events(events, lambda _: advance())
    if len(ids) > 1:
        print(f"created {len(ids)} events ({args.repeat}):")
    for event_id, event in zip(ids, events, strict=True):
        details = {"start": event.start.isoformat(), "timezone": event.timezone, "capacity": event.users_limit}
        await log_change(queries.pool, "create_event", event_id=event_id, details=details)
        print(f"created event {event_id}: {when(event.start, event.timezone)} {event.timezone}")
    print(await _spaces_when_full(queries, args.settings, ids))
    return 0


async def _spaces_when_full(queries: OrganizerQueries, settings: Settings, ids: list[int]) -> str:
    """What the new events would ask of Google Meet's quota once full, beside every other event not over that
    competes for it, fresh and reusing tables (the space pool's own outlook)."""
    from datemaker.domain.spaces import endangered
    from datemaker.service.space_pool import UnplannedEvent

    created = [event for event in [await queries.event(event_id) for event_id in ids] if event is not None]
    full = [UnplannedEvent(e, e.users_limit // 2, e.users_limit - e.users_limit // 2) for e in created]
    before = await _outlook(queries.pool, settings)
    seen = await _outlook(queries.pool, settings, also=full)
    mine = [seen[e.id] for e in created if e.id in seen]
    if not mine:
        return "Meet spaces when full: none (too few seats for a date)"
    worst = max(mine, key=lambda o: (o.late_reusing, o.late_fresh))
    which = f"event {worst.event_id}" if len(mine) > 1 else "it"
    accounts = settings.meet_quota().accounts
    text = (
        f"Meet spaces when full: up to {worst.needed} for {which} (a fresh one per date), or {worst.needed_reusing} "
        f"reusing each table's space round after round; beside the other events, with {accounts} Google account(s): "
    )
    pushed_late = endangered(before, seen, ids)
    fix = "add a Google account (MEET_TOKEN_FILES, `datemaker meet-login`) or move the event"
    if worst.at_risk:
        text += f"AT RISK, {worst.late_reusing} date(s) would get their link late even reusing tables: {fix}"
    elif worst.late_fresh:
        text += f"in time by reusing tables ({worst.late_fresh} date(s) could not have a fresh space)"
    else:
        text += "in time, a fresh space per date"
    if pushed_late:
        others = ", ".join(map(str, pushed_late))
        text += (
            f"\nAT RISK once it fills: event(s) {others}, whose links would then come late even reusing tables: {fix}"
        )
    return text


# --- list --------------------------------------------------------------------------------------------


async def _list(args: argparse.Namespace, queries: OrganizerQueries, _: None) -> int:
    lines, total = await queries.list_events(datetime.now(UTC), everything=args.all, limit=args.limit)
    if not lines:
        scope = "" if args.all else " upcoming or recent"
        print(f"no{scope} events (create one with `datemaker events create --start 'YYYY-MM-DD HH:MM'`)")
        return 0
    rows = [
        [
            str(line.event.id),
            when(line.event.start, line.event.timezone),
            line.event.timezone,
            line.event.state.name,
            f"{line.event.registered_count}/{line.event.users_limit}",
            str(line.event.waitlisted_count),
            str(line.confirmed),
            line.origin.describe(),
        ]
        for line in lines
    ]
    headers = ["ID", "START", "TIMEZONE", "STATE", "REGISTERED", "WAITLISTED", "CONFIRMED", "SCHEDULE"]
    print(table(headers, rows, right={0, 4, 5, 6}))
    if total > len(lines):
        print(f"({len(lines)} of {total} events shown; see more with --limit {total})")
    return 0


# --- show --------------------------------------------------------------------------------------------


async def _show(args: argparse.Namespace, queries: OrganizerQueries, _: None) -> int:
    report = await queries.event_report(args.event_id)
    if report is None:
        _not_found(args.event_id)
    for line in _describe(report, (await _outlook(queries.pool, args.settings)).get(args.event_id)):
        print(line)
    board = await _read_board(queries.pool, args.event_id, None)
    if board is not None and board.preview is not None:
        for line in _describe_preview(board):
            print(line)
    return 0


def _describe_preview(board: Any) -> Iterator[str]:
    """The balance preview: a plan from the current registrations, as it would be made at the deadline."""
    preview = board.preview
    names = {p.user_id: p.name for p in board.people}
    yield ""
    yield "Balance preview (a plan from the current registrations)"
    yield f"  dates      {preview.dates} for {preview.participants} people"
    per_person = sorted(preview.dates_per_person.values())
    if per_person:
        yield f"  per person {per_person[0]} to {per_person[-1]} dates"
    sit_outs = ", ".join(f"{gender} {n}" for gender, n in sorted(preview.sit_outs.items())) or "none"
    yield f"  sit-outs   {sit_outs} (rounds without a date, by gender)"
    if preview.match_nobody:
        nobody = ", ".join(f"{names.get(u, '?')} ({u})" for u in preview.match_nobody)
        yield f"  no match   {nobody}"


# --- board -------------------------------------------------------------------------------------------


async def _read_board(pool: asyncpg.Pool, event_id: int, live: Any) -> Any:
    """The board of ``organizer_show_event`` (None: no such event), read the way datemaker answers it."""
    from datemaker.adapters.postgres.console import PostgresConsole
    from datemaker.adapters.postgres.store import PostgresStore
    from datemaker.service.organizer import event_board

    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        console = PostgresConsole(conn)
        data = await console.board_data(event_id, now.date())
        if data is None:
            return None
        return await event_board(PostgresStore(conn), console, data, now, live)


def _board_lines(board: Any) -> Iterator[str]:
    event, summary = board.event, board.summary
    yield f"Event {event.event_id}: {event.state}, {event.starts_at} {event.timezone}"
    if summary.round is None:
        yield "no round is running"
    else:
        yield (
            f"round {summary.round}: {summary.dates_running} dates running, {summary.waiting_for_link} waiting for a "
            f"link, {summary.alone_in_call} people alone in a call"
        )

    def mark(value: bool | None) -> str:
        return "?" if value is None else ("yes" if value else "-")

    rows = [
        [
            str(p.user_id),
            p.name,
            p.status,
            mark(p.confirmed),
            mark(p.seated),
            p.partner.name if p.partner else "-",
            mark(p.link_sent),
            mark(p.in_call),
            str(p.ratings_given),
        ]
        for p in board.people
        if p.status not in ("cancelled", "declined")
    ]
    headers = ["USER", "NAME", "STATUS", "CONFIRMED", "SEATED", "PARTNER", "LINK", "IN CALL", "RATINGS"]
    yield table(headers, rows, right={0, 8}) if rows else "nobody registered"


async def _board(args: argparse.Namespace, queries: OrganizerQueries, _: None) -> int:
    import asyncio

    from datemaker.domain.events import UPCOMING, EventState
    from datemaker.service.organizer import live_calls

    live, meet = None, None
    try:
        from datemaker.adapters.meet import create_meet

        s = args.settings
        meet = create_meet(s.meet_api_endpoint, s.meet_tokens, s.meet_creds_file, s.meet_creations_per_minute)
        live = live_calls(meet)
    except Exception as exc:  # the board still shows everything else
        print(f"(who is in the call is not known: Google Meet is not usable here: {exc})", file=sys.stderr)
    terminal = sys.stdout.isatty() and not args.once
    try:
        while True:
            board = await _read_board(queries.pool, args.event_id, live)
            if board is None:
                _not_found(args.event_id)
            if terminal:
                print("\x1b[H\x1b[2J", end="")  # redraw in place
            for line in _board_lines(board):
                print(line)
            if not terminal or EventState[board.event.state] not in UPCOMING:  # over: nothing will change
                return 0
            print(f"(refreshed every {args.every} s; Ctrl-C to stop)", flush=True)
            await asyncio.sleep(args.every)
    finally:
        if meet is not None:
            await meet.close()


async def _outlook(pool: asyncpg.Pool, settings: Settings, also: Sequence[UnplannedEvent] = ()) -> dict[int, Outlook]:
    """The space pool's outlook for every event not over (all compete for the same quota); ``also``: events as they
    would be with other seats taken."""
    from datemaker.adapters.postgres.spaces import PostgresPoolDatabase
    from datemaker.service.space_pool import SpacePool

    pool_ = SpacePool(
        PostgresPoolDatabase(pool),
        _NoMeet(),
        lambda: datetime.now(UTC),
        settings.meet_quota(),
        policy=settings.meet_space_policy,
        link_lead=timedelta(seconds=settings.link_lead_seconds),
    )
    return await pool_.outlook(datetime.now(UTC), also)


class _NoMeet:
    """The CLI reads the pool; it never makes spaces."""

    async def create_space(self) -> Any:
        raise NotImplementedError

    async def end_active_conference(self, space_name: str, account: str = "") -> None:
        raise NotImplementedError

    async def attendance(self, space_name: str, account: str = "", since: Any = None, until: Any = None) -> Any:
        raise NotImplementedError


def _describe_spaces(report: EventReport, outlook: Outlook | None) -> Iterator[str]:
    """Meet spaces: how many the event needs, how many it has, whether the quota makes the rest in time; and
    the dates whose link was late or that took over their table's space."""
    from datemaker.domain.timeline import TERMINAL

    if report.event.state in TERMINAL and not report.dates:
        return
    yield ""
    yield "Meet spaces"
    if outlook is not None:
        late = (
            "every one in time"
            if not outlook.late_fresh
            else f"{outlook.late_fresh} not in time (the first in round {outlook.first_late_round})"
        )
        yield f"  fresh, one per date   {outlook.needed} more needed, {outlook.ready} ready: {late}"
        reuse = "in time" if not outlook.late_reusing else f"{outlook.late_reusing} not in time: AT RISK"
        yield f"  reusing tables        {outlook.needed_reusing} needed: {reuse}"
    ready = sum(1 for d in report.dates if d.has_space or d.held)
    if report.dates:
        yield f"  dates with a space    {ready} of {len(report.dates)}"
    reused = [d for d in report.dates if d.reused]
    if reused:
        yield f"  took over a table's   {len(reused)} dates"
    late = [d for d in report.dates if d.delayed_at is not None]
    if late:
        yield f"  link late (told)      {len(late)} dates:"
        tz = report.event.timezone
        for d in late:
            came = f"link sent {when(d.invited_at, tz)[-5:]}" if d.invited_at else "link never came"
            yield f"    round {d.round_no + 1}: {_who(report, d.user_a)} & {_who(report, d.user_b)}, {came}"


def _describe(report: EventReport, outlook: Outlook | None = None) -> Iterator[str]:
    from datemaker.domain.events import OPEN_FOR_REGISTRATION, EventState
    from datemaker.domain.schedules import describe_span as _span
    from datemaker.domain.timeline import ratings_close_at, round_ends_at, round_starts_at

    event, done = report.event, report.milestones
    tz = event.timezone
    yield f"Event {event.id}: {event.state.name}"
    yield f"  start      {when(event.start, tz)} {tz} ({event.start.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"
    yield (
        f"  settings   capacity {event.users_limit}, {event.mode}, groups of up to {event.group_size}, "
        f"up to {event.max_rounds} rounds of {_span(event.round_seconds)} with {_span(event.break_seconds)} breaks"
    )
    origin = report.origin
    if origin.schedule_id is not None:
        extra = ""
        if origin.extra_for is not None:
            extra = (
                f", the extra night for event {origin.extra_for}'s waitlist "
                f"({origin.offers} seat(s) offered, {origin.accepted} taken)"
            )
        yield f"  schedule   {origin.schedule_id}{extra}"
    if event.held_seats and event.state in OPEN_FOR_REGISTRATION:
        yield f"  held       {event.held_seats} seat(s) for waitlisted people offered one, until they answer"
    if event.min_age is not None or event.max_age is not None:
        yield f"  ages       {event.min_age or 'any'} to {event.max_age or 'any'}"
    if done.closing_reason:
        yield f"  closed     {done.closing_reason}"
    yield ""
    yield f"Timeline ({tz})"
    rounds = done.rounds_planned or event.max_rounds
    steps: list[list[str]] = [
        ["confirmations open", when(event.confirm_opens_at, tz), _done("requests sent", done.confirmations_opened_at)],
        ["confirmations close", when(event.confirm_deadline, tz), _done("planned", done.planned_at)],
        [
            "rules",
            when(event.start - timedelta(seconds=event.rules_lead_seconds), tz),
            _done("sent", done.rules_sent_at),
        ],
    ]
    if done.rounds_planned:
        for n in range(rounds):
            status = "ended" if n < done.rounds_ended else "started" if n < done.rounds_started else ""
            span = f"{when(round_starts_at(event, n), tz)}–{when(round_ends_at(event, n), tz)[-5:]}"
            steps.append([f"round {n + 1}", span, status])
    else:
        span = f"{when(event.start, tz)}–{when(round_ends_at(event, rounds - 1), tz)[-5:]}"
        every = _span(event.round_seconds + event.break_seconds)
        steps.append([f"rounds 1–{rounds}", span, f"if planned (up to {rounds}, one every {every})"])
    finished = done.finished_at if event.state == EventState.FINISHED else None
    steps.append(["finish", when(ratings_close_at(event, rounds), tz), _done("finished", finished)])
    yield from ("  " + line for line in table(["STEP", "AT", "DONE"], steps, header=False).splitlines())
    if done.finished_at and event.state in (EventState.SKIPPED, EventState.CANCELLED):
        yield f"  {event.state.name.lower()} at {when(done.finished_at, tz)}"
    yield ""
    c = report.counts
    yield (
        f"Registrations: {c.registered} registered ({c.confirmed} confirmed), {c.waitlisted} waitlisted, "
        f"{c.declined} declined, {c.cancelled} cancelled"
    )
    yield from _describe_plan(report)
    yield from _describe_spaces(report, outlook)
    yield from _describe_results(report)


def _describe_plan(report: EventReport) -> Iterator[str]:
    if not report.groups:
        yield ""
        yield "Plan: not made yet" if report.milestones.planned_at is None else "Plan: nobody could be seated"
        return
    rounds = max(g.rounds for g in report.groups)
    yield ""
    yield f"Plan: {len(report.groups)} group(s), {rounds} round(s), {len(report.dates)} dates"
    by_slot: dict[tuple[int, int], list[DateLine]] = {}
    for date in report.dates:
        by_slot.setdefault((date.group_no, date.round_no), []).append(date)
    for group in report.groups:
        yield f"  Group {group.group_no + 1} ({len(group.members)} people, {group.rounds} rounds)"
        rows: list[list[str]] = []
        for n in range(group.rounds):
            dates = by_slot.get((group.group_no, n), [])
            slot = [[f"round {n + 1}" if i == 0 else "", *_date_cells(report, d)] for i, d in enumerate(dates)]
            in_dates = {u for d in dates for u in d.people}
            out = [u for u in group.members if u not in in_dates]
            if out:
                slot.append(["" if slot else f"round {n + 1}", "sits out: " + ", ".join(_who(report, u) for u in out)])
            rows += slot
        yield from ("    " + line for line in table(["", "", ""], rows, header=False).splitlines())
    if report.unseated:
        unseated = ", ".join(f"{_who(report, u)}: {why.replace('_', ' ')}" for u, why in report.unseated.items())
        yield f"  not seated: {unseated}"


def _date_cells(report: EventReport, date: DateLine) -> list[str]:
    pair = f"{_who(report, date.user_a)} & {_who(report, date.user_b)}"
    if not date.held:
        return [pair, "not held"]
    if report.stats is not None and not date.attendees:
        return [pair, "held"]
    joined = ", ".join(dict.fromkeys(date.attendees)) or "nobody"
    return [pair, f"held, joined: {joined}"]


def _describe_results(report: EventReport) -> Iterator[str]:
    if not report.dates and report.stats is None:
        return
    held = [d for d in report.dates if d.held]
    people_in_calls = sum(min(2, len(set(d.attendees))) for d in held)
    calls_joined = sum(1 for d in held if d.attendees)
    yield ""
    yield "Results"
    yield f"  dates held       {len(held)} of {len(report.dates)} planned"
    if report.stats is not None:
        s = report.stats
        purged = s["purged_at"]
        assert isinstance(purged, datetime)
        deleted = when(purged, report.event.timezone)
        yield f"  joined calls     {s['joined_calls']} people (personal data deleted {deleted}, the counts kept)"
    elif report.milestones.results_collected_at is None:
        yield "  joined calls     not known yet (read from Google Meet after the event)"
    else:
        yield f"  joined calls     {people_in_calls} people in {calls_joined} of {len(held)} calls"
    yield (
        f"  ratings          {report.likes} likes, {report.dislikes} dislikes, {report.reports} reports; "
        f"{report.mutual_matches} mutual matches"
    )


def _who(report: EventReport, user_id: int) -> str:
    person = report.people.get(user_id)
    return f"{person.name} ({user_id})" if person else str(user_id)


# --- cancel ------------------------------------------------------------------------------------------


async def _cancel(args: argparse.Namespace, queries: OrganizerQueries, _: None) -> int:
    import asyncio

    from contracts.errors import ErrorCode
    from datemaker.adapters.postgres.lifecycle import PostgresLifecycleDatabase
    from datemaker.domain.errors import DomainError
    from datemaker.domain.timeline import TERMINAL
    from datemaker.service.lifecycle import cancel_event

    event = await queries.event(args.event_id)
    if event is None:
        _not_found(args.event_id)
    if event.state in TERMINAL:
        over = f"event {event.id} is {event.state.name} already: only an event not over can be cancelled"
        raise DomainError(ErrorCode.BAD_REQUEST, over)
    if not args.yes:
        question = (
            f"Cancel event {event.id} ({when(event.start, event.timezone)} {event.timezone}, {event.state.name}, "
            f"{event.registered_count} registered, {event.waitlisted_count} waitlisted)? Everyone registered is told. "
            "[y/N] "
        )
        try:
            answer = await asyncio.to_thread(input, question)
        except EOFError:
            answer = ""
        if not sys.stdin.isatty():  # the answer was not echoed: end the question's line
            print()
        if answer.strip().lower() not in ("y", "yes"):
            print("not cancelled", file=sys.stderr)
            return EXIT_DECLINED
    told = await cancel_event(PostgresLifecycleDatabase(queries.pool), event.id, datetime.now(UTC), args.reason)
    await log_change(queries.pool, "cancel_event", event_id=event.id, details={"reason": args.reason})
    print(
        f"cancelled event {event.id}; {told} participant(s) will be told "
        "(the messages wait in the outbox until a running datemaker sends them)"
    )
    return 0


# --- export ------------------------------------------------------------------------------------------


async def _export(args: argparse.Namespace, queries: OrganizerQueries, _: None) -> int:
    import asyncio

    event = await queries.event(args.event_id)
    if event is None:
        _not_found(args.event_id)
    registrants, dates = await queries.registrants(event.id)
    if args.output in (None, "-"):
        _write_csv(sys.stdout, event, registrants, dates, show_progress=False)
        return 0
    await asyncio.to_thread(_save_csv, args.output, event, registrants, dates)
    print(f"exported {len(registrants)} registrant(s) of event {event.id} to {args.output}", file=sys.stderr)
    return 0


def _save_csv(path: str, event: Event, registrants: list[RegistrantLine], dates: list[DateLine]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as out:
        _write_csv(out, event, registrants, dates, show_progress=True)


def _write_csv(
    out: TextIO, event: Event, registrants: list[RegistrantLine], dates: list[DateLine], *, show_progress: bool
) -> None:
    import csv

    from datemaker.domain.attendance import joined_call

    held_by: dict[int, list[DateLine]] = {}
    for date in dates:
        if date.held:
            for person in date.people:
                held_by.setdefault(person, []).append(date)
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    with _progress(len(registrants) if show_progress else 0, "exporting") as advance:
        for line in registrants:
            r, person = line.registration, line.person
            held = held_by.get(person.user_id, [])
            row = [
                person.user_id,
                person.name,
                person.username or "",
                line.status,
                _iso(event, r.registered_at),
                _iso(event, r.confirmed_at),
                _iso(event, r.declined_at),
                _iso(event, r.cancelled_at),
                "" if line.group_no is None else line.group_no + 1,
                line.unseated_reason or "",
                len(held),
                sum(1 for d in held if joined_call(person.name, d.attendees)),
                line.likes_given,
                line.likes_received,
                len(line.matched_with),
                " ".join(str(m) for m in line.matched_with),
            ]
            writer.writerow([spreadsheet_safe(cell) for cell in row])
            advance()


# --- helpers -----------------------------------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: object) -> object:
    """A text cell a spreadsheet will not run as a formula (OWASP's rule for CSV injection: a leading ``'``)."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell


def _not_found(event_id: int) -> NoReturn:
    from contracts.errors import ErrorCode
    from datemaker.domain.errors import DomainError

    hint = "see `datemaker events list`"
    raise DomainError(ErrorCode.EVENT_NOT_FOUND, f"there is no event {event_id} ({hint})")


def _iso(event: Event, moment: datetime | None) -> str:
    return "" if moment is None else event.local(moment).isoformat(timespec="seconds")


def _done(what: str, moment: datetime | None) -> str:
    return what if moment is not None else ""


@contextmanager
def _progress(total: int, description: str) -> Iterator[Callable[[], None]]:
    """A progress bar on a terminal for ``total`` steps (more than one); a no-op otherwise."""
    if total < 2 or not sys.stdout.isatty():
        yield lambda: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda: progress.advance(task)
