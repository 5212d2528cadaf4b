"""What the organizer's command lines (``events``, ``schedules``, ``organizers``) share: one-line errors and exit
codes, argument types, the settings of events, running an action against the database, and plain tables.

Bad input gets one line on stderr (``datemaker GROUP ACTION: what is wrong``) and exit status 2, never a
traceback; heavy imports stay inside functions so that ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import sys
import types
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

from datemaker.config import Settings

if TYPE_CHECKING:
    import asyncpg

EXIT_BAD_INPUT = 2
EXIT_DECLINED = 1
MAX_ID = 2**63 - 1


class ActionParser(argparse.ArgumentParser):
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


def action_group(
    commands: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace, Settings], int],
    **kwargs: Any,
) -> argparse._SubParsersAction:
    """The parser of a group of actions (``events``, ``schedules``...) that ``run`` carries out, its usage errors in
    one line; its actions, to add."""
    parser = commands.add_parser(name, **kwargs)
    parser.error = types.MethodType(ActionParser.error, parser)  # type: ignore[method-assign]
    parser.set_defaults(run=run)
    return parser.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=ActionParser)


def duration(text: str) -> int:
    """Seconds, or e.g. 90s, 5m, 1h30m, 1d (an argparse type)."""
    from datemaker.domain.event_settings import InvalidEventSettings, parse_duration

    try:
        return parse_duration(text)
    except InvalidEventSettings as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number") from None


def identifier(what: str) -> Callable[[str], int]:
    """An argparse type for the id of a ``what`` (``event``, ``schedule``...): a positive 64-bit whole number."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if not 1 <= value <= MAX_ID:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not {what} id (a positive whole number)")
        return value

    return parse


def add_event_settings(parser: argparse.ArgumentParser) -> None:
    """The options of an event's settings (all but its start): left out, they take the table's defaults."""
    parser.add_argument("--timezone", metavar="ZONE", help="IANA timezone of the event (default Europe/Moscow)")
    parser.add_argument("--capacity", type=whole_number, metavar="N", help="seats (default 20)")
    parser.add_argument("--round", type=duration, metavar="SECONDS", help="length of a date (default 300)")
    parser.add_argument("--break", type=duration, metavar="SECONDS", help="break between rounds (default 60)")
    parser.add_argument(
        "--rules-lead", type=duration, metavar="SECONDS", help="rules go out this long before the start (default 300)"
    )
    parser.add_argument(
        "--confirm-open",
        type=duration,
        metavar="SECONDS",
        help="confirmation requests go out this long before the start (default 86400)",
    )
    parser.add_argument(
        "--confirm-deadline",
        type=duration,
        metavar="SECONDS",
        help="confirmations (and registration) close this long before the start (default 3600)",
    )
    parser.add_argument("--max-rounds", type=whole_number, metavar="N", help="at most this many rounds (default 10)")
    parser.add_argument("--group-size", type=whole_number, metavar="N", help="people per group at most (default 20)")
    parser.add_argument("--mode", choices=("bipartite", "open"), help="who may meet whom (default bipartite)")
    parser.add_argument("--min-age", type=whole_number, metavar="N", help="youngest age admitted (default: no limit)")
    parser.add_argument("--max-age", type=whole_number, metavar="N", help="oldest age admitted (default: no limit)")
    parser.add_argument(
        "--time-left-warning",
        type=duration,
        metavar="SECONDS",
        help="people in a date are told this long before the round ends (default 60; 0: never)",
    )


def event_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line, by ``EventSettings`` field (besides start and timezone)."""
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
        "min_age": args.min_age,
        "max_age": args.max_age,
        "time_left_warning_seconds": args.time_left_warning,
    }
    return {name: value for name, value in given.items() if value is not None}


def run_action(
    group: str,
    args: argparse.Namespace,
    settings: Settings,
    prepare: Callable[[argparse.Namespace], Any],
    queries: Callable[[asyncpg.Pool], Any],
) -> int:
    """Check the input (``prepare``, before connecting), then carry out the action: ``args.handler(args,
    queries(pool), prepared)`` on a pool of the database. One line on stderr and status 2 on bad input or an
    unusable database, 1 on a database error."""
    import asyncio

    import asyncpg

    from datemaker.adapters.postgres.organizer import DatabaseUnavailable
    from datemaker.domain.errors import DomainError

    async def with_database() -> int:
        from datemaker.adapters.postgres.organizer import open_pool

        prepared = prepare(args)  # bad input is refused before connecting
        args.settings = settings
        pool = await open_pool(
            settings.postgres_dsn(),
            server=f"{settings.postgres_host}:{settings.postgres_port}",
            database=settings.postgres_db,
        )
        try:
            handler: Callable[..., Awaitable[int]] = args.handler
            return await handler(args, queries(pool), prepared)
        finally:
            await pool.close()

    try:
        return asyncio.run(with_database())
    except (DomainError, DatabaseUnavailable) as exc:
        return fail(group, args, str(exc))
    except OSError as exc:  # an output file
        return fail(group, args, f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
    except asyncpg.PostgresError as exc:
        fail(group, args, f"database error: {' '.join(str(exc).split())}")
        return 1


COMMAND_LINE = 0
"""``organizer_actions.organizer_id`` of a change made at the command line (no Telegram user made it)."""


async def log_change(
    pool: asyncpg.Pool,
    action: str,
    *,
    event_id: int | None = None,
    user_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Keep a change made at the command line in ``organizer_actions``, under the console's action names: by
    ``COMMAND_LINE``, with the operating system's user in ``details``."""
    import getpass

    from datemaker.adapters.postgres.console import PostgresConsole

    try:
        who = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a bare container)
        who = "unknown"
    details = {"via": "command line", "os_user": who, **(details or {})}
    async with pool.acquire() as conn:
        await PostgresConsole(conn).log_action(
            COMMAND_LINE, action, datetime.now(UTC), event_id=event_id, user_id=user_id, details=details
        )


def fail(group: str, args: argparse.Namespace, message: str) -> int:
    print(f"datemaker {group} {args.action}: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def when(moment: datetime, timezone: str) -> str:
    """``Sat 2026-12-05 19:00`` in the timezone (UTC when the name is unknown)."""
    from zoneinfo import ZoneInfo

    try:
        local = moment.astimezone(ZoneInfo(timezone))
    except (KeyError, ValueError, OSError):
        local = moment.astimezone(UTC)
    return f"{local:%a %Y-%m-%d %H:%M}"


def table(headers: list[str], rows: list[list[str]], *, right: Collection[int] = (), header: bool = True) -> str:
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
