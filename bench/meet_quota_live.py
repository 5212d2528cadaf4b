"""Benchmark, in real time: 25 events of 20 people created 2.5 hours ahead, under Google's Meet quota, with
time and quota compressed together (30× by default, so the case takes about 8 minutes).

It runs the quota's end-to-end case (``tests/e2e/test_meet_quota.py``: datemaker as a real process, the Meet
emulator enforcing 10 spaces a minute per account and 100 per project, everyone registering through the
broker in the first half hour and confirming when asked) at the compression asked for, and prints the
figures that case reports: how many of the 2,250 dates had their space made before their round began,
how many links went out before the round's start, the spaces made and reused, and the latest link.
Target: every date's space and link before its round.

    .venv/bin/python bench/meet_quota_live.py [--scale 30]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASE = "tests/e2e/test_meet_quota.py::test_25_events_of_20_created_two_and_a_half_hours_ahead_get_every_link_in_time"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=30, help="time and quota compression (the suite uses 150)")
    args = parser.parse_args()
    if not 1 <= args.scale <= 1000:
        parser.error("--scale must be between 1 and 1000")
    env = {**os.environ, "CHATHUB_TEST_TIME_SCALE": str(args.scale)}
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "--timeout=3600", CASE]
    began = time.monotonic()
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    took = time.monotonic() - began
    found = re.search(r"quota-figures (.*)", run.stdout)
    if found is None:
        print(run.stdout[-4000:], run.stderr[-2000:], sep="\n")
        print(f"the case reported no figures (pytest exit {run.returncode})")
        return 1
    figures = dict(pair.split("=") for pair in found.group(1).split())
    dates = int(figures["dates"])
    print(f"25 events of 20, created 2.5 h ahead, 1 Google account, time and quota compressed {args.scale}x")
    print(f"  dates:                       {dates}")
    print(f"  space made before its round: {figures['space_in_time']} ({int(figures['space_in_time']) / dates:.1%})")
    in_time = int(figures["link_before_start"])
    print(f"  link sent before its round:  {in_time} ({in_time / dates:.1%})")
    print(f"  spaces made / dates reusing: {figures['spaces_made']} / {figures['reused']}")
    print(f"  latest link vs round start:  {float(figures['latest_link_s']) * args.scale:+.0f} s of the night")
    print(f"  wall time:                   {took:.0f} s; the case {'passed' if run.returncode == 0 else 'FAILED'}")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
