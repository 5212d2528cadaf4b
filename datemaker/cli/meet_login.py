"""``meet-login``: authorize datemaker, once, to create Google Meet spaces as a Google user.

Runs Google's installed-app OAuth flow with the client secrets in ``MEET_CREDS_FILE`` and stores the
user's token in ``MEET_TOKEN_FILE``; datemaker refreshes it from then on. ``--add`` authorizes one more
Google account (each adds its own 10 spaces a minute, up to the project's 100): its token goes to a new file
beside the others, and the command prints the ``MEET_TOKEN_FILES`` to set.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from datemaker.config import Settings

logger = logging.getLogger(__name__)


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "meet-login",
        help="authorize datemaker to create Google Meet spaces (stores MEET_TOKEN_FILE)",
        description=(
            "Opens Google's consent page for the OAuth client in MEET_CREDS_FILE and stores the token in "
            "MEET_TOKEN_FILE. On a machine without a browser, use --no-browser, open the printed link elsewhere "
            "and forward the redirect port (e.g. ssh -L PORT:localhost:PORT) with a fixed --port."
        ),
    )
    parser.add_argument("--port", type=int, default=0, help="local port for Google's redirect (0 = any free port)")
    parser.add_argument("--no-browser", action="store_true", help="print the consent link instead of opening it")
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--add",
        action="store_true",
        help="authorize one more Google account: a new token file beside the others (token-2.json, ...)",
    )
    target.add_argument("--token-file", metavar="PATH", help="store the token here instead of MEET_TOKEN_FILE")
    parser.set_defaults(run=run)


def next_token_file(existing: Sequence[str]) -> str:
    """A token file for one more account: ``token-N.json`` beside the first, N the smallest number free."""
    first = Path(existing[0])
    taken = {Path(name).resolve() for name in existing}
    number = 2
    while True:
        candidate = first.with_name(f"{first.stem}-{number}{first.suffix or '.json'}")
        if candidate.resolve() not in taken and not candidate.exists():
            return str(candidate)
        number += 1


def run(args: argparse.Namespace, settings: Settings) -> int:
    from datemaker.adapters.meet.credentials import SCOPES, TESTING_STATUS_WARNING, login
    from datemaker.service.ports import MeetError

    tokens = settings.meet_tokens
    token_file = args.token_file or (next_token_file(tokens) if args.add else tokens[0])
    print(f"Authorizing Google Meet access ({', '.join(SCOPES)}) with the OAuth client in {settings.meet_creds_file}")
    if args.add:
        print("Sign in as a Google account datemaker does not use yet: the same account twice adds no quota.")
    print(TESTING_STATUS_WARNING)
    try:
        login(settings.meet_creds_file, token_file, port=args.port, open_browser=not args.no_browser)
    except MeetError as exc:
        print(f"meet-login: {exc}", file=sys.stderr)
        return 2
    print(f"Stored the Google Meet token in {token_file}")
    if token_file not in tokens:
        print(f"Set MEET_TOKEN_FILES={','.join([*tokens, token_file])} and restart datemaker to use it.")
    return 0
