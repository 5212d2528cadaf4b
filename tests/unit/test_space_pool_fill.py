"""The space pool's fill rounds against a quota: short rounds still use every slot the quota gives.

A fake pool database (a count) and a fake Meet paced by the adapter's own rate limiter, at Google's ratio
of slot to round (a slot every 6 s, rounds of 2 s) compressed 20×: a slot every 0.3 s, rounds of 0.1 s (the
shortest the pool waits).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from datemaker.adapters.meet.pacing import RateLimiter
from datemaker.domain.spaces import Quota
from datemaker.service.ports import MeetError, MeetSpace
from datemaker.service.space_pool import SpacePool

SLOT = 0.3
ROUND = SLOT / 3


class Pool:
    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.spaces: list[MeetSpace] = []

    async def free_spaces(self) -> int:
        return len(self.spaces) - self.wanted  # the events want ``wanted`` spaces beyond those

    async def unspaced_dates(self) -> list:
        return []

    async def unplanned_events(self) -> list:
        return []

    async def spaces_held(self) -> dict[int, int]:
        return {}

    async def assign(self, date_ids: list[int]) -> list[tuple[int, int]]:
        return []

    async def add_space(self, space: MeetSpace, now: datetime) -> None:
        self.spaces.append(space)


class PacedMeet:
    def __init__(self, failing: bool = False) -> None:
        self.limiter = RateLimiter(1 / SLOT)
        self.failing = failing
        self.made = 0

    async def create_space(self) -> MeetSpace:
        await self.limiter.acquire()
        if self.failing:
            raise MeetError("refused")
        self.made += 1
        return MeetSpace(f"spaces/{self.made}", f"https://meet.google.com/x-{self.made}", f"x-{self.made}")

    async def end_active_conference(self, space_name: str, account: str = "") -> None: ...

    async def attendance(self, space_name: str, account: str = "", since=None, until=None) -> list:
        return []


def pool_of(meet: PacedMeet, db: Pool) -> SpacePool:
    return SpacePool(db, meet, lambda: datetime.now(UTC), Quota(1, 60 / SLOT, 600 / SLOT))


async def rounds(pool: SpacePool, seconds: float) -> int:
    """Fill rounds as the scheduler runs them, for ``seconds``; how many rounds were idle."""
    loop = asyncio.get_running_loop()
    end, idle = loop.time() + seconds, 0
    while loop.time() < end:
        report = await pool.fill(budget=ROUND)
        if report.idle:
            idle += 1
            await asyncio.sleep(ROUND)
    await pool.stop()
    return idle


async def test_rounds_shorter_than_the_quota_s_slot_still_make_a_space_at_every_slot():
    meet, db = PacedMeet(), Pool(wanted=1000)
    idle = await rounds(pool_of(meet, db), 12 * SLOT)
    # the quota gives 13 slots in the time (the first at once); cancelled, each round's wait gave up one: 2 made
    assert len(db.spaces) >= 10, f"{len(db.spaces)} spaces made where the quota gives 13"
    assert idle == 0, "a round cut short by the quota is not idle"


async def test_a_creation_waiting_when_the_pool_stops_is_given_up():
    meet, db = PacedMeet(), Pool(wanted=1000)
    pool = pool_of(meet, db)
    await pool.fill(budget=ROUND)  # one made at once; the next waits for its slot
    assert meet.made == len(db.spaces) == 1
    await pool.stop()
    await asyncio.sleep(2 * SLOT)
    assert meet.made == 1, "the creation given up made nothing"


async def test_meet_refusing_makes_the_round_idle_and_the_pool_has_what_it_wants_too():
    refused = await pool_of(PacedMeet(failing=True), Pool(wanted=5)).fill(budget=ROUND)
    assert refused.failed and refused.idle and refused.created == 0
    meet, db = PacedMeet(), Pool(wanted=1)
    report = await pool_of(meet, db).fill(budget=ROUND)
    assert report.created == 1 and report.idle
