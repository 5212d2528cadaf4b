"""``meet-login``: authorize datemaker, once, to create Google Meet spaces as a Google user.

Runs Google's installed-app OAuth flow with the client secrets in ``MEET_CREDS_FILE`` and stores the
user's token in ``MEET_TOKEN_FILE``; datemaker refreshes it from then on.
"""

from __future__ import annotations

import argparse
import logging
import sys

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
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from datemaker.adapters.meet.credentials import SCOPES, TESTING_STATUS_WARNING, login
    from datemaker.service.ports import MeetError

    print(f"Authorizing Google Meet access ({', '.join(SCOPES)}) with the OAuth client in {settings.meet_creds_file}")
    print(TESTING_STATUS_WARNING)
    try:
        login(
            settings.meet_creds_file,
            settings.meet_token_file,
            port=args.port,
            open_browser=not args.no_browser,
        )
    except MeetError as exc:
        print(f"meet-login: {exc}", file=sys.stderr)
        return 2
    print(f"Stored the Google Meet token in {settings.meet_token_file}")
    return 0
