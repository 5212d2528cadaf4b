"""``plan``: read a planning request (docs/protocol.md section 7) as JSON and print the plan as JSON."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from datemaker.config import Settings

EXIT_BAD_INPUT = 2
EXAMPLE = """\
input (docs/protocol.md, section 7):
  {"participants": [
     {"id": 1, "gender": "F", "birthday": "1996-04-01", "city": "msk", "manual_score": 2, "rating": 0.0},
     {"id": 2, "gender": "M", "birthday": "1993-11-20", "city": "msk", "seeking": ["F"]},
     {"id": 7, "gender": "M", "birthday": "1990-02-14", "city": "spb"}],
   "blocked": [[1, 7]], "met_before": [],
   "group_size": 20, "max_rounds": 10, "mode": "bipartite", "seed": 0}

  mode: bipartite (women meet men) or open (anyone whose "seeking" admits the other); seeking, manual_score
  and rating are optional; blocked pairs never meet, met_before pairs only if nothing else fits.

output: {"groups": [{"group", "members", "rounds": [{"round", "pairs", "sitting_out"}]}],
         "unseated": [{"id", "reason"}], "stats": {"participants", "seated", "dates", "score"}}

example:
  echo '{"participants": [{"id": 1, "gender": "F", "birthday": "1996-04-01", "city": "msk"},
                          {"id": 2, "gender": "M", "birthday": "1993-11-20", "city": "msk"}]}' \\
    | datemaker plan --input -
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "plan",
        help="plan groups and rounds from a JSON request (docs/protocol.md, section 7)",
        description="Read a planning request as JSON and print the plan as JSON on standard output.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--input", required=True, metavar="FILE", help="the request as JSON; '-' reads standard input")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the plan on stdout; on bad input print one line on stderr and return 2."""
    import json

    from datemaker.domain.planning import PlanningError, PlanRequest, plan_event

    try:
        text = _read(args.input)
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise PlanningError(f"malformed JSON: {_one_line(str(exc))}") from None
        plan = plan_event(PlanRequest.from_json(data, today=date.today()))
    except PlanningError as exc:
        print(f"datemaker plan: {_one_line(exc.message)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    sys.stdout.write(json.dumps(plan.to_json(), separators=(",", ":")) + "\n")
    return 0


def _read(path: str) -> str:
    from datemaker.domain.planning import PlanningError

    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError as exc:
        raise PlanningError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise PlanningError(f"{path}: {exc.strerror or exc}") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())
