"""Benchmark: does every date get its Meet link in time under Google's quota, however many events run at once?

Run: ``.venv/bin/python bench/meet_quota.py`` (``--quick`` for fewer cases). A simulation with a virtual
clock: nothing sleeps and nothing is called over the network. What decides is datemaker's own code, with
time passed in: the pool's target (``domain.spaces.spaces_wanted``), the order dates get spaces in
(``fresh_order``), when a table takes over its space (``reuses_now``), when links go out and rounds end
(``domain.timeline``), and the creation pacing of each account and of the project (the Meet adapter's
``RateLimiter`` on a virtual clock), ticking every ``RECONCILE_SECONDS`` as the scheduler does.

The world: ``N`` events of 20 people (10 women, 10 men, one man never confirms) with the default timings
(10 rounds of 5 minutes, 1-minute breaks, planning an hour before the start), all starting at the same
moment, and Google's quota (10 spaces a minute per account, 100 per project). Two ways the events come:

- ``day ahead``: created 24 hours before the start (confirmations open then), people registering over the
  next 20 hours: a day of events, the pool filling from the first seat taken;
- ``2.5 h ahead``: created two and a half hours before, everyone registered in the first 30 minutes.

For each case it prints the share of dates whose link was ready when its round's links went out, the spaces
made, how many dates had a never-used space or reused one (their table's, or one back in the pool), how
many never had a link, and the latest a link came.
Target: every date in time in every case that the quota can serve at all (a case where even one space per
table cannot be made before the first round is marked "beyond the quota").
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from datemaker.adapters.meet.pacing import RateLimiter
from datemaker.domain.event_settings import EventSettings
from datemaker.domain.spaces import DateNeed, Quota, SpacePolicy, fresh_order, reuses_now, spaces_wanted
from datemaker.domain.timeline import LINK_LEAD, links_at, round_ends_at

START = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
WOMEN = MEN = 10
NO_SHOWS = 1  # men who register and never confirm
TICK = 2.0  # RECONCILE_SECONDS: how often the scheduler fills the pool and runs the timelines


@dataclass
class Date:
    id: int
    event: int
    round_no: int
    table: int
    deadline: datetime
    space: int | None = None
    reused: bool = False
    linked_at: datetime | None = None


@dataclass
class Event:
    id: int
    settings: EventSettings
    registrations: list[tuple[datetime, str]]
    women: int = 0
    men: int = 0
    dates: list[Date] = field(default_factory=list)
    planned: bool = False
    rounds: int = 0
    rounds_linked: int = 0
    rounds_ended: int = 0
    late: list[Date] = field(default_factory=list)
    """Dates of rounds whose links went out, still without a space."""


@dataclass
class Space:
    id: int
    uses: int = 0
    held_by: Date | None = None


@dataclass(frozen=True)
class Case:
    arrival: str
    events: int
    accounts: int
    policy: SpacePolicy


@dataclass
class Outcome:
    dates: int = 0
    in_time: int = 0
    created: int = 0
    linked: int = 0
    fresh: int = 0
    reused: int = 0
    worst_late: float = 0.0
    seconds: float = 0.0

    @property
    def share(self) -> float:
        return self.in_time / self.dates if self.dates else 1.0


class Pool:
    """Google on one side (each account's limiter and the project's), the events on the other."""

    def __init__(self, quota: Quota, policy: SpacePolicy, clock: list[float]) -> None:
        now = lambda: clock[0]  # noqa: E731 - the virtual clock the limiters read
        self.accounts = [RateLimiter(quota.per_account_per_minute / 60.0, clock=now) for _ in range(quota.accounts)]
        self.project = RateLimiter(quota.per_project_per_minute / 60.0, clock=now)
        self.policy = policy
        self.spaces: list[Space] = []
        self.free: list[Space] = []
        self.unplanned_wanted: int | None = None
        """Spaces the events not planned yet want (None: to be summed again)."""

    def create(self) -> Space:
        self.project.reserve()
        min(self.accounts, key=lambda a: a.next_free_in()).reserve()
        space = Space(len(self.spaces))
        self.spaces.append(space)
        return space


def make_events(case: Case, rng: random.Random) -> list[Event]:
    lead, window = (timedelta(hours=24), timedelta(hours=20))
    if case.arrival != "day ahead":
        lead, window = timedelta(hours=2.5), timedelta(minutes=30)
    events = []
    for n in range(case.events):
        settings = EventSettings(start=START, confirm_open_seconds=int(lead.total_seconds()))
        created = START - lead
        people = ["F"] * WOMEN + ["M"] * MEN
        registrations = sorted((created + window * rng.random(), gender) for gender in people)
        events.append(Event(n, settings, registrations))
    return events


def plan(event: Event, next_id: list[int]) -> None:
    """The planner's result for this population: every woman meets every man who confirmed, a table per man,
    one woman sitting out each round (the planner's own choice does not change how many spaces a round needs)."""
    men = event.men - NO_SHOWS
    rounds = min(event.settings.max_rounds, event.women)
    for round_no in range(rounds):
        for table in range(min(men, event.women)):
            deadline = links_at(event.settings, round_no, LINK_LEAD)
            event.dates.append(Date(next_id[0], event.id, round_no, table, deadline))
            next_id[0] += 1
    event.planned = True
    event.rounds = rounds


def simulate(case: Case, seed: int = 7) -> Outcome:
    began = time.perf_counter()
    rng = random.Random(seed)
    events = make_events(case, rng)
    t0 = min(e.registrations[0][0] for e in events)
    clock = [0.0]
    pool = Pool(Quota(case.accounts), case.policy, clock)
    outcome = Outcome()
    arrivals = [(when, e.id, gender) for e in events for when, gender in e.registrations]
    heapq.heapify(arrivals)
    due = [(e.settings.confirm_deadline, e.id) for e in events]  # when each event next has work
    heapq.heapify(due)
    by_id = {e.id: e for e in events}
    next_id = [0]
    waiting: list[Date] = []
    end = max(round_ends_at(e.settings, e.settings.max_rounds - 1) for e in events)
    now = t0
    while now <= end:
        clock[0] = (now - t0).total_seconds()
        while arrivals and arrivals[0][0] <= now:
            _, event_id, gender = heapq.heappop(arrivals)
            event = by_id[event_id]
            event.women += gender == "F"
            event.men += gender == "M"
            pool.unplanned_wanted = None
        while due and due[0][0] <= now:
            event = by_id[heapq.heappop(due)[1]]
            if not event.planned:
                plan(event, next_id)
                waiting = _fresh_order(pool, waiting + event.dates)
                pool.unplanned_wanted = None
            else:
                _run_rounds(pool, event, now, outcome)
            upcoming = _next_due(event, now)
            if upcoming is not None:
                heapq.heappush(due, (upcoming, event.id))
        waiting = [d for d in waiting if d.space is None and d.linked_at is None]
        _fill(pool, events, waiting, clock[0] + TICK, clock)
        for event in events:  # a late date gets its link the moment a space reaches it
            for date in list(event.late):
                if date.space is not None:
                    _linked(date, now, outcome)
                    event.late.remove(date)
        now += timedelta(seconds=TICK)
    outcome.created = len(pool.spaces)
    outcome.dates = sum(len(e.dates) for e in events)
    outcome.seconds = time.perf_counter() - began
    return outcome


def _fresh_order(pool: Pool, dates: list[Date]) -> list[Date]:
    by_id = {d.id: d for d in dates}
    needs = (DateNeed(d.id, d.deadline, d.round_no > 0) for d in dates)  # a later round's table had a date
    return [by_id[need.date_id] for need in fresh_order(needs, pool.policy)]


def _next_due(event: Event, now: datetime) -> datetime | None:
    """The event's next link time or round end after ``now``."""
    rounds = event.rounds
    times = [links_at(event.settings, r, LINK_LEAD) for r in range(event.rounds_linked, rounds)]
    times += [round_ends_at(event.settings, r) for r in range(event.rounds_ended, rounds)]
    later = [t for t in times if t > now]
    return min(later) if later else None


def _fill(pool: Pool, events: list[Event], waiting: list[Date], until: float, clock: list[float]) -> None:
    """``SpacePool.fill``: free spaces to waiting dates first, then spaces made, each at its quota slot, up
    to what the events want (their waiting dates, and the most dates of events not planned yet)."""
    queue = iter(waiting)
    for date in queue:
        if not pool.free:
            _make(pool, events, [date, *queue], until, clock)
            return
        _give(pool.free.pop(), date)
    _make(pool, events, [], until, clock)


def _make(pool: Pool, events: list[Event], rest: list[Date], until: float, clock: list[float]) -> None:
    if pool.unplanned_wanted is None:
        pool.unplanned_wanted = sum(
            spaces_wanted(e.women, e.men, e.settings.max_rounds, e.settings.mode, pool.policy)
            for e in events
            if not e.planned
        )
    wanted = len(rest) + pool.unplanned_wanted - len(pool.free)
    rest.reverse()
    while wanted > 0:
        slot = clock[0] + max(pool.project.next_free_in(), min(a.next_free_in() for a in pool.accounts))
        if slot > until:
            return
        clock[0] = slot
        space = pool.create()
        wanted -= 1
        if rest:
            _give(space, rest.pop())
        else:
            pool.free.append(space)


def _give(space: Space, date: Date) -> None:
    date.space = space.id
    date.reused = space.uses > 0
    space.uses += 1
    space.held_by = date


def _run_rounds(pool: Pool, event: Event, now: datetime, outcome: Outcome) -> None:
    while event.rounds_ended < event.rounds_linked and now >= round_ends_at(event.settings, event.rounds_ended):
        _end_round(pool, event, event.rounds_ended)
        event.rounds_ended += 1
    while event.rounds_linked < event.rounds and now >= links_at(event.settings, event.rounds_linked, LINK_LEAD):
        _link_round(pool, event, event.rounds_linked, now, outcome)
        event.rounds_linked += 1


def _link_round(pool: Pool, event: Event, round_no: int, now: datetime, outcome: Outcome) -> None:
    """``EventRunner._give_spaces`` then the invitations: under ``reuse`` a table first keeps its space;
    then free spaces; under ``auto`` a date still without one takes over its table's space (whose call ended
    with the round before)."""
    previous = {d.table: d for d in event.dates if d.round_no == round_no - 1}

    def take_over(date: Date) -> None:
        before = previous.get(date.table)
        if date.space is None and before is not None and before.space is not None:
            space = pool.spaces[before.space]
            if space.held_by is None and space not in pool.free:
                _give(space, date)

    for date in (d for d in event.dates if d.round_no == round_no):
        if round_no > 0 and pool.policy is SpacePolicy.REUSE:
            take_over(date)
        if date.space is None and pool.free:
            _give(pool.free.pop(), date)
        if round_no > 0 and reuses_now(pool.policy, can_reuse=True, has_fresh=date.space is not None):
            take_over(date)
        if date.space is not None:
            _linked(date, now, outcome)
        else:
            event.late.append(date)


def _linked(date: Date, now: datetime, outcome: Outcome) -> None:
    date.linked_at = now
    late = (now - date.deadline).total_seconds()
    if late < TICK:
        outcome.in_time += 1
    else:
        outcome.worst_late = max(outcome.worst_late, late)
    outcome.linked += 1
    outcome.reused += date.reused
    outcome.fresh += not date.reused


def _end_round(pool: Pool, event: Event, round_no: int) -> None:
    """Calls are ended: under ``fresh`` a used space is retired; otherwise it is free again, unless the
    table's next date waits to take it over."""
    following = {d.table: d for d in event.dates if d.round_no == round_no + 1}
    for date in (d for d in event.dates if d.round_no == round_no and d.space is not None):
        space = pool.spaces[date.space]
        space.held_by = None
        if not pool.policy.recycles:
            continue
        nxt = following.get(date.table)
        if nxt is not None and nxt.space is None:
            continue  # held for the table's next date
        pool.free.append(space)


def beyond_quota(case: Case) -> bool:
    """The quota cannot serve the case at all: under ``fresh``, a space per date cannot be made before the
    last round's links; otherwise even a space per table cannot be made before the first round's."""
    event = EventSettings(start=START)
    lead = timedelta(hours=24) if case.arrival == "day ahead" else timedelta(hours=2.5)
    tables = min(WOMEN, MEN - NO_SHOWS)
    if case.policy is SpacePolicy.FRESH:
        need, by = tables * min(event.max_rounds, WOMEN), links_at(event, event.max_rounds - 1, LINK_LEAD)
    else:
        need, by = tables, links_at(event, 0, LINK_LEAD)
    room = (by - (START - lead)).total_seconds()
    return Quota(case.accounts).creatable(room) < case.events * need


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer cases")
    parser.add_argument("--policy", choices=[p.value for p in SpacePolicy], default=SpacePolicy.AUTO.value)
    args = parser.parse_args()
    counts = (1, 25) if args.quick else (1, 25, 50, 200)
    policy = SpacePolicy(args.policy)
    print(f"Meet quota simulation: events of {WOMEN + MEN} people, default timings, policy {policy}")
    print(f"{'arrival':<12} {'events':>6} {'accounts':>8} {'dates':>7} {'in time':>8} {'created':>8} "
          f"{'fresh':>7} {'reused':>7} {'never':>6} {'worst late':>10} {'sim s':>6}")  # fmt: skip
    failures = []
    for arrival in ("day ahead", "2.5 h ahead"):
        for events in counts:
            for accounts in (1, 10):
                case = Case(arrival, events, accounts, policy)
                outcome = simulate(case)
                note = "  (beyond the quota)" if beyond_quota(case) else ""
                if outcome.share < 1 and not note:
                    failures.append(case)
                print(
                    f"{arrival:<12} {events:>6} {accounts:>8} {outcome.dates:>7} {outcome.share:>8.1%} "
                    f"{outcome.created:>8} {outcome.fresh:>7} {outcome.reused:>7} {outcome.dates - outcome.linked:>6} "
                    f"{outcome.worst_late:>9.0f}s {outcome.seconds:>6.1f}{note}"
                )
    print(
        "target: every date in time wherever the quota can serve the tables at all: "
        + ("met" if not failures else f"NOT MET in {len(failures)} case(s)")
    )


if __name__ == "__main__":
    main()
