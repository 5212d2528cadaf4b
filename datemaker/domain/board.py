"""The organizer's live board and balance preview (pure): who is where tonight, and what a plan from the current
registrations would look like."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from datemaker.domain.events import Event
from datemaker.domain.planning import Participant, Plan, PlanRequest, plan_event
from datemaker.domain.registrations import Registration
from datemaker.domain.timeline import round_ends_at, round_starts_at


@dataclass(frozen=True)
class BoardDate:
    """A date of the event's plan as the board needs it."""

    date_id: int
    round_no: int
    user_a: int
    user_b: int
    invited: bool
    """Its link went out to both."""
    space_name: str | None = None
    account: str = ""
    given_up: bool = False
    """Given up: a partner never joined (rescue)."""

    def partner_of(self, user_id: int) -> int | None:
        if user_id == self.user_a:
            return self.user_b
        if user_id == self.user_b:
            return self.user_a
        return None


@dataclass(frozen=True)
class Registrant:
    """A registrant as the board shows them."""

    registration: Registration
    name: str
    gender: str | None
    age: int | None
    ratings_given: int = 0
    unseated_reason: str | None = None


@dataclass(frozen=True)
class PersonState:
    registrant: Registrant
    seated: bool
    partner_id: int | None
    link_sent: bool
    in_call: bool | None


@dataclass(frozen=True)
class Summary:
    round_no: int | None
    """The round running now (0-based), or None."""
    dates_running: int = 0
    waiting_for_link: int = 0
    alone_in_call: int = 0


@dataclass(frozen=True)
class Board:
    people: list[PersonState]
    summary: Summary


def current_round(event: Event, rounds_started: int, rounds_planned: int, now: datetime) -> int | None:
    """The round whose time it is (0-based): started and not over; None between rounds or outside the night."""
    for round_no in range(min(rounds_started, rounds_planned)):
        if round_starts_at(event, round_no) <= now < round_ends_at(event, round_no):
            return round_no
    return None


def board(
    registrants: Sequence[Registrant],
    dates: Sequence[BoardDate],
    round_no: int | None,
    in_call: Mapping[int, set[int]] | None = None,
) -> Board:
    """Per person: seated (has dates), the partner of ``round_no`` (or of the first round when none runs), the
    link sent, in the call now (``in_call``: date id → user ids seen live; absent: not known); and the summary."""
    shown_round = round_no if round_no is not None else 0
    seated = {u for d in dates for u in (d.user_a, d.user_b)}
    this_round = {u: d for d in dates if d.round_no == shown_round and not d.given_up for u in (d.user_a, d.user_b)}
    people = []
    for registrant in registrants:
        user = registrant.registration.user_id
        date = this_round.get(user)
        live: bool | None = None
        if date is not None and round_no is not None and in_call is not None and date.date_id in in_call:
            live = user in in_call[date.date_id]
        people.append(
            PersonState(
                registrant=registrant,
                seated=user in seated,
                partner_id=date.partner_of(user) if date else None,
                link_sent=bool(date and date.invited),
                in_call=live,
            )
        )
    summary = Summary(round_no)
    if round_no is not None:
        running = [d for d in dates if d.round_no == round_no and not d.given_up]
        alone = 0
        for d in running:
            seen = (in_call or {}).get(d.date_id)
            if seen is not None and len(seen & {d.user_a, d.user_b}) == 1:
                alone += 1
        summary = Summary(
            round_no,
            dates_running=sum(1 for d in running if d.invited),
            waiting_for_link=sum(1 for d in running if not d.invited),
            alone_in_call=alone,
        )
    return Board(people, summary)


@dataclass(frozen=True)
class Preview:
    """A plan from the current registrations: how it would balance."""

    participants: int
    dates: int
    dates_per_person: dict[int, int]
    sit_outs: dict[str, int]
    """Gender → sit-out rounds in all (a seated person without a date in a round)."""
    match_nobody: list[int]
    plan: Plan | None = field(default=None, compare=False)


def preview(
    event: Event,
    participants: Sequence[Participant],
    blocked: Iterable[tuple[int, int]] = (),
    met_before: Iterable[tuple[int, int]] = (),
) -> Preview:
    """Plan the event from ``participants`` as it would be planned at its deadline."""
    if len(participants) < 2:
        return Preview(len(participants), 0, {p.id: 0 for p in participants}, {}, [p.id for p in participants])
    plan = plan_event(
        PlanRequest(
            participants=participants,
            blocked=tuple(blocked),
            met_before=tuple(met_before),
            group_size=event.group_size,
            max_rounds=event.max_rounds,
            mode=event.mode,
            seed=event.id,
            on=event.local(event.start).date(),
        )
    )
    gender = {p.id: p.gender for p in participants}
    per_person = {p.id: 0 for p in participants}
    sit_outs: dict[str, int] = {}
    for group in plan.groups:
        for round_ in group.rounds:
            for a, b in round_.pairs:
                per_person[a] += 1
                per_person[b] += 1
            for user in round_.sitting_out:
                sit_outs[gender[user]] = sit_outs.get(gender[user], 0) + 1
    nobody = sorted(u.id for u in plan.unseated)
    return Preview(len(participants), int(plan.stats.get("dates", 0)), per_person, sit_outs, nobody, plan)
