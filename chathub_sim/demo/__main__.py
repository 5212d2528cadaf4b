"""``python -m chathub_sim.demo [options]``: run a whole speed-dating event for real (the emulators, datemaker,
the bot, simulated people), then check it.

Exit codes: 0 every check holds, 1 a check failed, 2 the demo could not run the event, 3 PostgreSQL or RabbitMQ
is not reachable, 130 Ctrl-C, 143 SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from chathub_common.cli import exit_code
from chathub_common.logs import setup_logging
from datemaker.config import Settings

if TYPE_CHECKING:
    from chathub_sim.demo.options import DemoOptions


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m chathub_sim.demo",
        description=(
            "Recreates a demo database, starts the Meet and Bot API emulators, datemaker and the bot as processes, "
            "drives simulated participants through the bot, shows a live timeline, then a summary and the checks of "
            "a real event. Exits 0 only when every check holds; 3 when PostgreSQL or RabbitMQ is not reachable."
        ),
    )
    parser.add_argument("--fast", action="store_true", help="a small, quick event (8 people, 3 short rounds)")
    parser.add_argument("--participants", type=int, metavar="N", help="how many people (default 40)")
    parser.add_argument("--women", type=int, metavar="K", help="how many of them are women (default 17)")
    parser.add_argument("--silent", type=int, metavar="N", help="people who never confirm (default 3)")
    parser.add_argument("--rounds", type=int, metavar="N", help="the event's max_rounds (default 4)")
    parser.add_argument("--round-seconds", type=int, metavar="S", help="length of a round (default 8)")
    parser.add_argument("--break-seconds", type=int, metavar="S", help="length of a break (default 6)")
    parser.add_argument(
        "--registration-seconds", type=int, metavar="S", help="from the event's creation to the confirmation deadline"
    )
    parser.add_argument("--seed", type=int, help="seed of the people's names and choices")
    parser.add_argument("--env", metavar="NAME", help="CHATHUB_ENV of the demo: its queue names (default demo)")
    parser.add_argument("--database", metavar="NAME", help="the demo's database, recreated (default chathub_demo)")
    parser.add_argument("--log-dir", metavar="DIR", help="where the processes' logs go (default: a new temp dir)")
    parser.add_argument("--report-json", metavar="FILE", help="also write the summary and the checks as JSON here")
    parser.add_argument("--cleanup", action="store_true", help="drop the database and delete the queues at the end")
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="after the summary, keep the services up (for /metrics) until Ctrl-C",
    )
    return parser


def options_from(args: argparse.Namespace) -> DemoOptions:
    """The options of a run: the default (or --fast) profile, with what the command line changes. A different
    number of participants keeps the default profile's proportions of women and of people who never confirm."""
    from chathub_sim.demo.options import DemoOptions

    base = DemoOptions.fast() if args.fast else DemoOptions.default()
    women, silent = args.women, args.silent
    if args.participants is not None:
        if women is None:
            women = max(1, round(args.participants * base.women / base.participants))
        if silent is None:
            silent = round(args.participants * base.silent / base.participants)
    return base.with_overrides(
        participants=args.participants,
        women=women,
        silent=silent,
        rounds=args.rounds,
        round_seconds=args.round_seconds,
        break_seconds=args.break_seconds,
        registration_seconds=args.registration_seconds,
        seed=args.seed,
        env=args.env,
        database=args.database,
        log_dir=args.log_dir,
        report_json=args.report_json,
        cleanup=args.cleanup or None,
        keep_running=args.keep_running or None,
    )


def main(argv: list[str] | None = None) -> int:
    """The demo's exit code (see the module's docstring)."""
    args = build_parser().parse_args(argv)
    from chathub_sim.demo import runner  # the heavy imports: after parsing, so that --help is instant

    settings = Settings()
    setup_logging(settings.debug)
    return exit_code("demo", lambda: runner.run_demo(options_from(args), settings))


if __name__ == "__main__":
    sys.exit(main())
