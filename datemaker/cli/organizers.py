"""``organizers``: the people who run events from Telegram (the bot's organizer console, the ``organizer_*``
commands) and whom datemaker tells about events far from full (``public.organizers``): add, remove, list. Bad input
gets one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from datemaker.cli.common import action_group, identifier, log_change, run_action, table, when
from datemaker.config import Settings

if TYPE_CHECKING:
    from datemaker.adapters.postgres.organizer import OrganizerQueries, Person

_user_id = identifier("a Telegram user")


def register(commands: argparse._SubParsersAction) -> None:
    actions = action_group(
        commands,
        "organizers",
        run,
        help="who organizes: add, remove, list (organizers run events from the bot and are told about events far "
        "from full)",
        description="Organizers are Telegram users (by their numeric id). In the bot they get /events, /event N, /new, "
        "/cancel N, /board N and /reports (in their chat's menu after /start), and the bot tells them about events "
        "far from full. They must have started the bot to receive its messages.",
    )
    add = actions.add_parser("add", help="make a Telegram user an organizer")
    add.add_argument("user_id", type=_user_id, metavar="USER_ID")
    add.set_defaults(handler=_add)
    remove = actions.add_parser("remove", help="an organizer no longer")
    remove.add_argument("user_id", type=_user_id, metavar="USER_ID")
    remove.set_defaults(handler=_remove)
    actions.add_parser("list", help="the organizers").set_defaults(handler=_list)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out the action; one line on stderr and status 2 on bad input or an unusable database."""
    from datemaker.adapters.postgres.organizer import OrganizerQueries

    return run_action("organizers", args, settings, lambda _: None, OrganizerQueries)


def _who(user_id: int, person: Person | None) -> str:
    if person is None:
        return f"{user_id} (no profile yet: they get the bot's messages once they have started it)"
    username = f", @{person.username}" if person.username else ""
    return f"{user_id} ({person.name}{username})"


async def _add(args: argparse.Namespace, queries: OrganizerQueries, _: None) -> int:
    added, person = await queries.add_organizer(args.user_id)
    if added:
        await log_change(queries.pool, "add_organizer", user_id=args.user_id)
    print(f"{'added organizer' if added else 'already an organizer:'} {_who(args.user_id, person)}")
    return 0


async def _remove(args: argparse.Namespace, queries: OrganizerQueries, _: None) -> int:
    from contracts.errors import ErrorCode
    from datemaker.domain.errors import DomainError

    if not await queries.remove_organizer(args.user_id):
        hint = "see `datemaker organizers list`"
        raise DomainError(ErrorCode.BAD_REQUEST, f"user {args.user_id} is not an organizer ({hint})")
    await log_change(queries.pool, "remove_organizer", user_id=args.user_id)
    print(f"removed organizer {args.user_id}")
    return 0


async def _list(args: argparse.Namespace, queries: OrganizerQueries, _: None) -> int:
    lines = await queries.organizers()
    if not lines:
        print("no organizers (add one with `datemaker organizers add USER_ID`)")
        return 0
    rows = [
        [
            str(line.user_id),
            line.person.name if line.person else "(no profile yet)",
            f"@{line.person.username}" if line.person and line.person.username else "",
            when(line.added_at, "UTC") + " UTC",
        ]
        for line in lines
    ]
    print(table(["USER_ID", "NAME", "USERNAME", "ADDED"], rows, right={0}))
    return 0
