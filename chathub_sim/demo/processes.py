"""The demo's child processes: started in process groups of their own, always stopped.

Each child runs in its own process group, so the demo decides the order of shutdown (the bot before
datemaker before the emulators) instead of a terminal's Ctrl-C hitting them all at once; on Linux each one
also gets SIGTERM from the kernel if the demo itself dies without cleaning up (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
ROOT = Path(__file__).resolve().parents[2]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ChildProcess:
    """``python -m <module> <args>``: stdout to ``<name>.out``, stderr to ``<name>.log`` in ``log_dir``."""

    def __init__(self, name: str, module: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = [sys.executable, "-m", module, *args]
        self.env = env
        self.out_path = log_dir / f"{name}.out"
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.stop_seconds: float | None = None
        """How long the last :meth:`stop` took."""

    def start(self) -> ChildProcess:
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        with self.out_path.open("wb") as out, self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=log,
                process_group=0,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.process.poll() if self.process else None

    def output(self) -> str:
        try:
            return self.out_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def wait_output(self, ready: Callable[[str], bool], timeout: float) -> str:
        """Wait until the child's stdout satisfies ``ready``; its stdout. Raises if it exits or times out."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.output()
            if ready(text):
                return text
            if not self.running:
                raise ChildFailed(self, f"exited with code {self.returncode} before it was ready")
            if time.monotonic() > deadline:
                raise ChildFailed(self, f"not ready after {timeout:.0f} s")
            await asyncio.sleep(0.05)

    async def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM to its process group, then SIGKILL after ``timeout``; its exit code."""
        if self.process is None:
            return None
        began = time.monotonic()
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.process.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110 (polling a child)
                await asyncio.sleep(0.05)
        if self.process.poll() is None:
            logger.warning("%s did not stop in %.0f s; killing it", self.name, timeout)
            self.kill()
        self.stop_seconds = time.monotonic() - began
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL its process group now and reap it."""
        if self.process is None:
            return
        self._signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)

    def _signal(self, sig: int) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)


class ChildFailed(RuntimeError):
    def __init__(self, child: ChildProcess, what: str) -> None:
        super().__init__(f"{child.name} {what}")
        self.child = child


class Children:
    """Every child the demo started, in start order."""

    def __init__(self) -> None:
        self.started: list[ChildProcess] = []

    def start(self, child: ChildProcess) -> ChildProcess:
        self.started.append(child.start())
        return child

    def dead(self) -> list[ChildProcess]:
        return [child for child in self.started if not child.running]

    async def stop_all(self, phases: list[list[str]] | None = None) -> dict[str, int | None]:
        """Stop every child, phase after phase (the children named in a phase together; the unnamed last);
        name → exit code."""
        named = {name for phase in phases or [] for name in phase}
        steps = [[c for c in self.started if c.name in phase] for phase in phases or []]
        steps.append([c for c in self.started if c.name not in named])
        codes: dict[str, int | None] = {}
        for step in steps:
            for child, code in zip(step, await asyncio.gather(*(c.stop() for c in step)), strict=True):
                codes[child.name] = code
        return codes

    def kill_all(self) -> None:
        """Last resort, synchronous: SIGKILL whatever still runs."""
        for child in self.started:
            if child.running:
                child.kill()
