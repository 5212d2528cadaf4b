"""What the command lines share (datemaker's, the bot's, and the demo's): how a run ends in an exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable


def exit_code(program: str, run: Callable[[], int]) -> int:
    """``run()``'s exit code; 130 on Ctrl-C, and 1, with the reason on stderr, when the network or the
    system fails (a service that cannot be reached, a port that cannot be bound)."""
    try:
        return run()
    except KeyboardInterrupt:
        return 130
    except (ConnectionError, OSError) as exc:
        print(f"{program}: {exc}", file=sys.stderr)
        return 1
