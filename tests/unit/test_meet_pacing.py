"""The creation pacer (a token bucket, GCRA form) and the back-off arithmetic, with an injected clock."""

import asyncio

import pytest

from datemaker.adapters.meet.pacing import RateLimiter, backoff_delay


class FakeTime:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def limiter(self, rate: float, burst: int = 1) -> RateLimiter:
        return RateLimiter(rate, burst, clock=self.clock, sleep=self.sleep)


async def test_first_call_passes_then_calls_are_spaced_by_the_interval():
    time = FakeTime()
    limiter = time.limiter(rate=10 / 60)  # Meet's 10 creations per minute
    waited = [await limiter.acquire() for _ in range(4)]
    assert waited == [0.0, pytest.approx(6.0), pytest.approx(6.0), pytest.approx(6.0)]
    assert time.sleeps == [pytest.approx(6.0)] * 3


async def test_burst_lets_that_many_through_at_once():
    time = FakeTime()
    limiter = time.limiter(rate=2.0, burst=3)
    waited = [await limiter.acquire() for _ in range(5)]
    assert waited == [0.0, 0.0, 0.0, pytest.approx(0.5), pytest.approx(0.5)]


async def test_idle_time_refills_the_bucket_but_never_beyond_the_burst():
    time = FakeTime()
    limiter = time.limiter(rate=1.0, burst=2)
    assert [await limiter.acquire() for _ in range(2)] == [0.0, 0.0]
    time.now += 100.0
    waited = [await limiter.acquire() for _ in range(3)]
    assert waited == [0.0, 0.0, pytest.approx(1.0)]


async def test_calls_spaced_apart_by_themselves_never_wait():
    time = FakeTime()
    limiter = time.limiter(rate=1.0)
    for _ in range(5):
        assert await limiter.acquire() == 0.0
        time.now += 1.0
    assert time.sleeps == []


def test_concurrent_reservations_queue_in_call_order():
    time = FakeTime()
    limiter = time.limiter(rate=4.0)
    assert [limiter.reserve() for _ in range(4)] == [0.0, 0.25, 0.5, 0.75]


async def test_concurrent_acquirers_are_each_given_their_own_slot():
    time = FakeTime()
    woken: list[float] = []

    async def sleep(seconds: float) -> None:  # the clock stands still while they all wait
        woken.append(time.now + seconds)
        await asyncio.sleep(0)

    limiter = RateLimiter(4.0, clock=time.clock, sleep=sleep)
    waited = await asyncio.gather(*(limiter.acquire() for _ in range(3)))
    assert waited == [0.0, 0.25, 0.5]
    assert woken == [time.now + 0.25, time.now + 0.5]


async def test_a_waiter_cancelled_gives_its_slot_back_unless_someone_reserved_after_it():
    time = FakeTime()

    async def forever(seconds: float) -> None:
        await asyncio.Event().wait()

    limiter = RateLimiter(10 / 60, clock=time.clock, sleep=forever)
    assert await limiter.acquire() == 0.0
    for _ in range(5):  # the space pool's fill rounds: each waits 2 s for the next slot, 6 s away, and gives up
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await limiter.acquire()
        assert limiter.next_free_in() == pytest.approx(6.0), "the next slot did not move"
    first = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    assert limiter.reserve() == pytest.approx(12.0)  # reserved behind the first waiter
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert limiter.next_free_in() == pytest.approx(18.0), "a slot others queue behind is not handed out twice"


async def test_a_deferred_limiter_keeps_the_server_s_wait_when_a_waiter_is_cancelled():
    time = FakeTime()

    async def forever(seconds: float) -> None:
        await asyncio.Event().wait()

    limiter = RateLimiter(1.0, clock=time.clock, sleep=forever)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    limiter.defer(30.0)  # a 429 meanwhile
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limiter.next_free_in() == pytest.approx(30.0)


def test_defer_holds_every_call_back():
    time = FakeTime()
    limiter = time.limiter(rate=1.0, burst=3)
    limiter.defer(5.0)
    assert limiter.next_free_in() == pytest.approx(5.0)
    assert limiter.reserve() == pytest.approx(5.0)
    assert limiter.reserve() == pytest.approx(6.0)  # spaced after the pause, no burst


def test_defer_never_shortens_a_longer_wait():
    time = FakeTime()
    limiter = time.limiter(rate=0.1)
    limiter.reserve()
    limiter.defer(1.0)
    assert limiter.next_free_in() == pytest.approx(10.0)


def test_next_free_in_is_zero_when_idle():
    assert FakeTime().limiter(rate=1.0).next_free_in() == 0.0


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_rejects_nonsense(rate, burst):
    with pytest.raises(ValueError):
        RateLimiter(rate, burst)


def test_backoff_doubles_with_equal_jitter_and_is_capped():
    low = [backoff_delay(n, initial=1.0, maximum=10.0, rand=lambda: 0.0) for n in range(1, 7)]
    high = [backoff_delay(n, initial=1.0, maximum=10.0, rand=lambda: 1.0) for n in range(1, 7)]
    assert low == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert high == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_backoff_honours_the_server_hint_up_to_the_cap():
    assert backoff_delay(1, initial=1.0, maximum=60.0, server_hint=7.5, rand=lambda: 0.0) == 7.5
    assert backoff_delay(3, initial=1.0, maximum=60.0, server_hint=0.1, rand=lambda: 1.0) == 4.0
    assert backoff_delay(1, initial=1.0, maximum=30.0, server_hint=90.0) == 30.0
