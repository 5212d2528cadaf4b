"""A change signal for long polls: the emulator's waiters and the demo's chats wait on it."""

from __future__ import annotations

import asyncio
import contextlib


class Signal:
    """Wakes every waiter each time it fires (waiters re-check their own condition)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Until the next :meth:`fire` or ``timeout`` seconds, whichever comes first (no error on timeout)."""
        event = self._event
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await event.wait()
