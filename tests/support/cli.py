"""Running ``python -m datemaker events ...`` as a real process, with the test run's environment."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    code: int
    out: str
    err: str


async def events_cli(*args: str, stdin: str | None = None, **env: str) -> Run:
    """``python -m datemaker events ARGS`` with the test run's environment (plus ``env``)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "datemaker",
        "events",
        *args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode() if stdin is not None else b""), 60)
    return Run(process.returncode, out.decode(), err.decode())
