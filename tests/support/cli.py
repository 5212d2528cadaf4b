"""Running ``python -m datemaker events ...`` (or any other subcommand) as a real process, with the test run's
environment."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
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
    return await datemaker_cli("events", *args, stdin=stdin, **env)


async def datemaker_cli(*args: str, stdin: str | None = None, **env: str) -> Run:
    """``python -m datemaker ARGS`` with the test run's environment (plus ``env``)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "datemaker",
        *args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode() if stdin is not None else b""), 60)
    return Run(process.returncode, out.decode(), err.decode())


async def check_refusals(
    cases: dict[str, tuple[list[str], list[str]]],
    substitutions: dict[str, str],
    command: Callable[..., Awaitable[Run]] = datemaker_cli,
) -> None:
    """Run every case at once: its arguments (placeholders replaced by ``substitutions``; ``--env NAME=VALUE...``
    at the end sets variables); each must print nothing and exit 2 with one line on stderr holding every expected
    part, and no traceback."""

    async def attempt(args: list[str]) -> Run:
        env = dict(a.split("=", 1) for a in args[args.index("--env") + 1 :]) if "--env" in args else {}
        args = args[: args.index("--env")] if "--env" in args else args
        return await command(*(substitutions.get(a, a) for a in args), **env)

    runs = await asyncio.gather(*(attempt(args) for args, _ in cases.values()))
    for (case, (_, expected)), run in zip(cases.items(), runs, strict=True):
        assert run.code == 2, f"{case}: status {run.code}, {run.err!r}"
        assert run.out == "", f"{case}: {run.out!r}"
        assert len(run.err.strip().splitlines()) == 1 and "Traceback" not in run.err, f"{case}: {run.err!r}"
        assert all(part in run.err for part in expected), f"{case}: {run.err!r}"
