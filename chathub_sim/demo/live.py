"""The live view: a timeline of what happens (printed as it happens) above a progress bar with the current
phase, and a status line with messages per second and the people's progress. Without a terminal (a pipe, a
test) the bar is left out and the status line is printed now and then instead."""

from __future__ import annotations

import time

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

STATUS_EVERY = 10.0
"""Seconds between status lines when there is no terminal for the bar."""


class LiveView:
    def __init__(self, console: Console, started: float) -> None:
        self.console = console
        self.started = started
        self.interactive = console.is_terminal
        self._live: Live | None = None
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._status = Text("", no_wrap=True, overflow="ellipsis", style="dim")
        self._last_status = 0.0

    def start(self, total: float) -> None:
        """Show the bar; ``total`` is the expected run time in seconds."""
        if not self.interactive:
            return
        self._progress = Progress(
            TextColumn("[bold]{task.description:<16}"),
            BarColumn(bar_width=None),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=self.console,
        )
        self._task = self._progress.add_task("starting", total=total)
        self._live = Live(
            Group(self._progress, self._status), console=self.console, transient=True, refresh_per_second=8
        )
        self._live.start()

    def line(self, text: str) -> None:
        """A line of the timeline, stamped with the time since the demo started."""
        elapsed = time.monotonic() - self.started
        self.console.print(f"[dim]{int(elapsed // 60):02d}:{elapsed % 60:04.1f}[/dim]  {text}", highlight=False)

    def update(self, phase: str, done: float, status: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=phase, completed=done)
            self._status.plain = status
        elif time.monotonic() - self._last_status >= STATUS_EVERY:
            self._last_status = time.monotonic()
            self.line(f"[dim]… {phase}: {status}[/dim]")

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
            self._progress = None
