"""``events``: the organizer's command line: create (one event or a series), list, show, cancel, export.

Bad input gets one line on stderr and exit status 2, never a traceback. The rules an event's settings
must meet live in :mod:`datemaker.domain.event_settings`; this module parses, calls and prints.
"""

from __future__ import annotations

import argparse
import sys
import types
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from datemaker.config import Settings

if TYPE_CHECKING:
    import asyncpg

    from datemaker.adapters.postgres.organizer import DateLine, EventReport, OrganizerQueries, RegistrantLine
    from datemaker.domain.event_settings import EventSettings
    from datemaker.domain.events import Event

EXIT_BAD_INPUT = 2
EXIT_DECLINED = 1
MAX_EVENT_ID = 2**63 - 1
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


class _Parser(argparse.ArgumentParser):
    """An action's parser: reports a usage error, unknown arguments included, in one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see --help)\n")

    def parse_known_args(  # type: ignore[override]
        self, args: list[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def _duration(text: str) -> int:
    from datemaker.domain.event_settings import InvalidEventSettings, parse_duration

    try:
        return parse_duration(text)
    except InvalidEventSettings as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _event_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an event id (a positive whole number)") from None
    if not 1 <= value <= MAX_EVENT_ID:
        raise argparse.ArgumentTypeError(f"{text!r} is not an event id (a positive whole number)")
    return value


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "events",
        help="organize events: create (one or a series), list, show, cancel, export",
        description="The organizer's tools. Times are shown in each event's own timezone.",
    )
    parser.error = types.MethodType(_Parser.error, parser)  # type: ignore[method-assign]
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)

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
    create.add_argument("--timezone", metavar="ZONE", help="IANA timezone of the event (default Europe/Moscow)")
    create.add_argument("--capacity", type=_count, metavar="N", help="seats (default 20)")
    create.add_argument("--round", type=_duration, metavar="SECONDS", help="length of a date (default 300)")
    create.add_argument("--break", type=_duration, metavar="SECONDS", help="break between rounds (default 60)")
    create.add_argument(
        "--rules-lead", type=_duration, metavar="SECONDS", help="rules go out this long before the start (default 300)"
    )
    create.add_argument(
        "--confirm-open",
        type=_duration,
        metavar="SECONDS",
        help="confirmation requests go out this long before the start (default 86400)",
    )
    create.add_argument(
        "--confirm-deadline",
        type=_duration,
        metavar="SECONDS",
        help="confirmations (and registration) close this long before the start (default 3600)",
    )
    create.add_argument("--max-rounds", type=_count, metavar="N", help="at most this many rounds (default 10)")
    create.add_argument("--group-size", type=_count, metavar="N", help="people per group at most (default 20)")
    create.add_argument("--mode", choices=("bipartite", "open"), help="who may meet whom (default bipartite)")
    create.add_argument("--repeat", choices=("weekly", "daily"), help="create a series, at the same local time")
    create.add_argument("--count", type=_count, metavar="N", help="how many events the series has")
    create.set_defaults(handler=_create)

    listing = actions.add_parser("list", help="upcoming and recent events as a table")
    listing.add_argument(
        "--all",
        action="store_true",
        help="every event, however old (default: not over, or started in the last 14 days)",
    )
    listing.add_argument("--limit", type=_count, default=50, metavar="N", help="at most N events (default 50)")
    listing.set_defaults(handler=_list)

    show = actions.add_parser("show", help="an event's state, timeline, registrations, plan and results")
    show.add_argument("event_id", type=_event_id, metavar="ID")
    show.set_defaults(handler=_show)

    cancel = actions.add_parser("cancel", help="cancel an event; everyone registered is told")
    cancel.add_argument("event_id", type=_event_id, metavar="ID")
    cancel.add_argument("--reason", metavar="TEXT", help="why (kept with the event)")
    cancel.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    cancel.set_defaults(handler=_cancel)

    export = actions.add_parser("export", help="registrations and results of an event as CSV")
    export.add_argument("event_id", type=_event_id, metavar="ID")
    export.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of standard output")
    export.set_defaults(handler=_export)

    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out the action; one line on stderr and status 2 on bad input or an unusable database."""
    import asyncio

    import asyncpg

    from datemaker.adapters.postgres.organizer import DatabaseUnavailable
    from datemaker.domain.errors import DomainError

    try:
        return asyncio.run(_with_database(args, settings))
    except (DomainError, DatabaseUnavailable) as exc:
        return _fail(args, str(exc))
    except OSError as exc:  # the export's output file
        return _fail(args, f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
    except asyncpg.PostgresError as exc:
        _fail(args, f"database error: {' '.join(str(exc).split())}")
        return 1


def _fail(args: argparse.Namespace, message: str) -> int:
    print(f"datemaker events {args.action}: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


async def _with_database(args: argparse.Namespace, settings: Settings) -> int:
    from datemaker.adapters.postgres.organizer import OrganizerQueries, open_pool

    prepared = _prepare(args)  # bad input is refused before connecting
    pool = await open_pool(
        settings.postgres_dsn(),
        server=f"{settings.postgres_host}:{settings.postgres_port}",
        database=settings.postgres_db,
    )
    try:
        return await args.handler(args, OrganizerQueries(pool), pool, prepared)
    finally:
        await pool.close()


def _prepare(args: argparse.Namespace) -> Any:
    """What can be checked without the database: the settings of the events to create."""
    if args.action != "create":
        if args.action == "list" and args.limit < 1:
            from datemaker.domain.event_settings import InvalidEventSettings

            raise InvalidEventSettings(f"--limit must be positive, not {args.limit}")
        return None
    from datemaker.domain.event_settings import DEFAULT_TIMEZONE, EventSettings, parse_start, series, validate_series

    timezone = args.timezone if args.timezone is not None else DEFAULT_TIMEZONE
    given = {
        "users_limit": args.capacity,
        "round_seconds": args.round,
        "break_seconds": getattr(args, "break"),
        "rules_lead_seconds": args.rules_lead,
        "confirm_open_seconds": args.confirm_open,
        "confirm_deadline_seconds": args.confirm_deadline,
        "max_rounds": args.max_rounds,
        "group_size": args.group_size,
        "mode": args.mode,
    }
    first = EventSettings(
        start=parse_start(args.start, timezone),
        timezone=timezone,
        **{name: value for name, value in given.items() if value is not None},
    )
    events = series(first, args.repeat, args.count)
    validate_series(events, datetime.now(UTC))
    return events


# --- create ----------------------------------------------------------------------------------------


async def _create(
    args: argparse.Namespace, queries: OrganizerQueries, pool: asyncpg.Pool, events: list[EventSettings]
) -> int:
    with _progress(len(events), "creating events") as advance:
        ids = await queries.create_events(events, lambda _: advance())
    if len(ids) > 1:
        print(f"created {len(ids)} events ({args.repeat}):")
    for event_id, event in zip(ids, events, strict=True):
        print(f"created event {event_id}: {_when(event.start, event.timezone)} {event.timezone}")
    return 0


# --- list --------------------------------------------------------------------------------------------


async def _list(args: argparse.Namespace, queries: OrganizerQueries, pool: asyncpg.Pool, _: None) -> int:
    lines, total = await queries.list_events(datetime.now(UTC), everything=args.all, limit=args.limit)
    if not lines:
        scope = "" if args.all else " upcoming or recent"
        print(f"no{scope} events (create one with `python -m datemaker events create --start 'YYYY-MM-DD HH:MM'`)")
        return 0
    rows = [
        [
            str(line.event.id),
            _when(line.event.start, line.event.timezone),
            line.event.timezone,
            line.event.state.name,
            f"{line.event.registered_count}/{line.event.users_limit}",
            str(line.event.waitlisted_count),
            str(line.confirmed),
        ]
        for line in lines
    ]
    headers = ["ID", "START", "TIMEZONE", "STATE", "REGISTERED", "WAITLISTED", "CONFIRMED"]
    print(_table(headers, rows, right={0, 4, 5, 6}))
    if total > len(lines):
        print(f"({len(lines)} of {total} events shown; see more with --limit {total})")
    return 0


# --- show --------------------------------------------------------------------------------------------


async def _show(args: argparse.Namespace, queries: OrganizerQueries, pool: asyncpg.Pool, _: None) -> int:
    report = await queries.event_report(args.event_id)
    if report is None:
        _not_found(args.event_id)
    for line in _describe(report):
        print(line)
    return 0


def _describe(report: EventReport) -> Iterator[str]:
    from datemaker.domain.timeline import ratings_close_at, round_ends_at, round_starts_at

    event, done = report.event, report.milestones
    tz = event.timezone
    yield f"Event {event.id}: {event.state.name}"
    yield f"  start      {_when(event.start, tz)} {tz} ({event.start.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"
    yield (
        f"  settings   capacity {event.users_limit}, {event.mode}, groups of up to {event.group_size}, "
        f"up to {event.max_rounds} rounds of {_span(event.round_seconds)} with {_span(event.break_seconds)} breaks"
    )
    if done.closing_reason:
        yield f"  closed     {done.closing_reason}"
    yield ""
    yield f"Timeline ({tz})"
    rounds = done.rounds_planned or event.max_rounds
    steps: list[list[str]] = [
        ["confirmations open", _when(event.confirm_opens_at, tz), _done("requests sent", done.confirmations_opened_at)],
        ["confirmations close", _when(event.confirm_deadline, tz), _done("planned", done.planned_at)],
        [
            "rules",
            _when(event.start - timedelta(seconds=event.rules_lead_seconds), tz),
            _done("sent", done.rules_sent_at),
        ],
    ]
    if done.rounds_planned:
        for n in range(rounds):
            status = "ended" if n < done.rounds_ended else "started" if n < done.rounds_started else ""
            span = f"{_when(round_starts_at(event, n), tz)}–{_when(round_ends_at(event, n), tz)[-5:]}"
            steps.append([f"round {n + 1}", span, status])
    else:
        span = f"{_when(event.start, tz)}–{_when(round_ends_at(event, rounds - 1), tz)[-5:]}"
        every = _span(event.round_seconds + event.break_seconds)
        steps.append([f"rounds 1–{rounds}", span, f"if planned (up to {rounds}, one every {every})"])
    finished = done.finished_at if event.state.name == "FINISHED" else None
    steps.append(["finish", _when(ratings_close_at(event, rounds), tz), _done("finished", finished)])
    yield from ("  " + line for line in _table(["STEP", "AT", "DONE"], steps, header=False).splitlines())
    if done.finished_at and event.state.name in ("SKIPPED", "CANCELLED"):
        yield f"  {event.state.name.lower()} at {_when(done.finished_at, tz)}"
    yield ""
    c = report.counts
    yield (
        f"Registrations: {c.registered} registered ({c.confirmed} confirmed), {c.waitlisted} waitlisted, "
        f"{c.declined} declined, {c.cancelled} cancelled"
    )
    yield from _describe_plan(report)
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
        yield from ("    " + line for line in _table(["", "", ""], rows, header=False).splitlines())
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
        when = _when(purged, report.event.timezone)
        yield f"  joined calls     {s['joined_calls']} people (personal data deleted {when}, the counts kept)"
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


async def _cancel(args: argparse.Namespace, queries: OrganizerQueries, pool: asyncpg.Pool, _: None) -> int:
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
            f"Cancel event {event.id} ({_when(event.start, event.timezone)} {event.timezone}, {event.state.name}, "
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
    told = await cancel_event(PostgresLifecycleDatabase(pool), event.id, datetime.now(UTC), args.reason)
    print(
        f"cancelled event {event.id}; {told} participant(s) will be told "
        "(the messages wait in the outbox until a running datemaker sends them)"
    )
    return 0


# --- export ------------------------------------------------------------------------------------------


async def _export(args: argparse.Namespace, queries: OrganizerQueries, pool: asyncpg.Pool, _: None) -> int:
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
            writer.writerow(
                [
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
            )
            advance()


# --- helpers -----------------------------------------------------------------------------------------


def _not_found(event_id: int) -> NoReturn:
    from contracts.errors import ErrorCode
    from datemaker.domain.errors import DomainError

    hint = "see `python -m datemaker events list`"
    raise DomainError(ErrorCode.EVENT_NOT_FOUND, f"there is no event {event_id} ({hint})")


def _when(moment: datetime, timezone: str) -> str:
    """``Sat 2026-12-05 19:00`` in the timezone (UTC when the name is unknown)."""
    from zoneinfo import ZoneInfo

    try:
        local = moment.astimezone(ZoneInfo(timezone))
    except (KeyError, ValueError, OSError):
        local = moment.astimezone(UTC)
    return f"{local:%a %Y-%m-%d %H:%M}"


def _iso(event: Event, moment: datetime | None) -> str:
    return "" if moment is None else event.local(moment).isoformat(timespec="seconds")


def _done(what: str, moment: datetime | None) -> str:
    return what if moment is not None else ""


def _span(seconds: int) -> str:
    if seconds % 3600 == 0 and seconds:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0 and seconds:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _table(headers: list[str], rows: list[list[str]], *, right: Collection[int] = (), header: bool = True) -> str:
    """Plain columns, aligned with spaces (left, or right for the columns in ``right``)."""
    width = len(headers)
    cells = [list(map(str, row)) + [""] * (width - len(row)) for row in rows]
    all_rows = ([headers] if header else []) + cells
    widths = [max(len(row[i]) for row in all_rows) for i in range(width)]
    lines = []
    for row in all_rows:
        parts = [row[i].rjust(widths[i]) if i in right else row[i].ljust(widths[i]) for i in range(width)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


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
