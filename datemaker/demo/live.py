"""The live view: a timeline of what happens (printed as it happens) under a progress bar with the current
phase, messages per second and the people's progress. Without a terminal (a pipe, a test) the bar is left
out and a status line is printed now and then instead."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

STATUS_EVERY = 10.0
"""Seconds between status lines when there is no terminal for the bar."""


class LiveView:
    def __init__(self, console: Console, started: float) -> None:
        self.console = console
        self.started = started
        self.interactive = console.is_terminal
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._last_status = 0.0
        self._status = ""

    def start(self, total: float) -> None:
        """Show the bar; ``total`` is the expected run time in seconds."""
        if not self.interactive:
            return
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=30),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
            console=self.console,
            transient=True,
            refresh_per_second=8,
        )
        self._progress.start()
        self._task = self._progress.add_task("starting", total=total, status="")

    def line(self, text: str) -> None:
        """A line of the timeline, stamped with the time since the demo started."""
        elapsed = time.monotonic() - self.started
        self.console.print(f"[dim]{int(elapsed // 60):02d}:{elapsed % 60:04.1f}[/dim]  {text}", highlight=False)

    def update(self, phase: str, done: float, status: str) -> None:
        self._status = status
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=phase, completed=done, status=status)
        elif time.monotonic() - self._last_status >= STATUS_EVERY:
            self._last_status = time.monotonic()
            self.line(f"[dim]… {phase}: {status}[/dim]")

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
