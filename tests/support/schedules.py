"""Schedules for tests: added as the organizer's command line adds them, and a keeper on a clock the test moves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from datemaker.adapters.postgres.schedules import PostgresScheduleDatabase, ScheduleQueries
from datemaker.domain.schedules import Demand, Rule, Schedule, parse_days, parse_time, template
from datemaker.service.schedules import ScheduleKeeper


async def add_schedule(
    pool: asyncpg.Pool,
    days: str = "daily",
    at: str = "19:00",
    timezone: str = "Europe/Moscow",
    *,
    horizon: int = 3,
    demand: Demand | None = None,
    **settings: Any,
) -> int:
    """A new active schedule (``settings`` by ``EventSettings`` field); its id. No alerts unless ``demand`` says."""
    schedule = Schedule(
        id=0,
        rule=Rule(parse_days(days), parse_time(at), timezone),
        template=template(timezone, **settings),
        horizon=horizon,
        demand=demand or Demand(alert_below_percent=None),
    )
    return await ScheduleQueries(pool).add(schedule)


class Granted:
    """Leases that are always granted: the database alone must keep two keepers from doing anything twice."""

    def __init__(self) -> None:
        self._held: set[int] = set()

    async def try_acquire(self, key: int) -> bool:
        self._held.add(key)
        return True

    async def release(self, key: int) -> None:
        self._held.discard(key)

    @property
    def held(self) -> frozenset[int]:
        return frozenset(self._held)

    async def close(self) -> None:
        self._held.clear()


@dataclass
class Clock:
    """A clock the test sets."""

    now: datetime
    woken: list[int] = field(default_factory=list)

    def __call__(self) -> datetime:
        return self.now


def keeper(pool: asyncpg.Pool, clock: Clock) -> ScheduleKeeper:
    """A schedule keeper on ``pool`` whose leases are always granted, at ``clock``'s time."""
    return ScheduleKeeper(PostgresScheduleDatabase(pool), Granted(), clock, on_messages=lambda: clock.woken.append(1))
