"""Event steps go before commands: a meeting link is due at a set time, a command can wait a moment."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class TimelineFirst:
    """While an event's step runs, commands wait for it to finish, but never longer than ``patience``."""

    def __init__(self, patience: float = 2.0) -> None:
        self.patience = patience
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        """Mark the block as an event's steps being carried out."""
        self._running += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._running -= 1
            if self._running == 0:
                self._idle.set()

    async def wait(self) -> None:
        """Return once no step runs, or after ``patience`` seconds."""
        if self._idle.is_set():  # the common case, without a timer
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.patience):
                await self._idle.wait()
