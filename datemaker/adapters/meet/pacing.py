"""Pacing and back-off for Meet API calls: pure arithmetic, with the clock and sleep injected."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


class RateLimiter:
    """Lets calls through at ``rate`` per second on average, at most ``burst`` of them back to back.

    A token bucket in its "theoretical arrival time" form (GCRA): each ``acquire`` reserves the next
    free slot at once (so concurrent callers queue fairly, in call order) and then sleeps until it.
    A cancelled waiter gives its slot back when nobody reserved one after it: a caller that waits for a slot
    a bounded time only (the space pool's fill rounds) would otherwise push the next free slot further out
    at every try, and at Meet's 10 a minute with 2-second tries make no call at all. A slot with later
    reservations behind it is lost, which errs on the side of fewer calls.
    """

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if not rate > 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.interval = 1.0 / rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tat = -math.inf
        """Theoretical arrival time of the next call, were the bucket drained one call per interval."""

    def reserve(self) -> float:
        """Take the next slot; how many seconds to wait before using it."""
        now = self._clock()
        tat = max(self._tat, now)
        wait = max(0.0, tat - (self.burst - 1) * self.interval - now)
        self._tat = tat + self.interval
        return wait

    async def acquire(self) -> float:
        """Wait for the next slot; the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            reserved = self._tat
            try:
                await self._sleep(wait)
            except asyncio.CancelledError:
                if self._tat == reserved:  # the last slot taken, and not deferred since: free again
                    self._tat -= self.interval
                raise
        return wait

    def defer(self, seconds: float) -> None:
        """Let no call through for ``seconds`` from now (the server asked us to slow down)."""
        now = self._clock()
        self._tat = max(self._tat, now + seconds + (self.burst - 1) * self.interval)

    def next_free_in(self) -> float:
        """Seconds until a call would be let through without waiting (0 when one would be now)."""
        return max(0.0, self._tat - (self.burst - 1) * self.interval - self._clock())


def backoff_delay(
    attempt: int,
    initial: float,
    maximum: float,
    server_hint: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    Exponential (``initial * 2**(attempt-1)``) with "equal jitter" (between half and all of it), never
    shorter than the server's ``RetryInfo`` hint, never longer than ``maximum``.
    """
    base = min(maximum, initial * 2 ** max(attempt - 1, 0))
    delay = base * (0.5 + 0.5 * rand())
    if server_hint is not None:
        delay = max(delay, server_hint)
    return min(delay, maximum)
