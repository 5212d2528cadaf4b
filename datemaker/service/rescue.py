"""Rescue when a partner never joins: ``partner_absent`` (the invite's button "my partner isn't here") and the check
datemaker makes by itself a quarter of each round in, from Meet's live participants, then again every pass of the
watch until three quarters in (``rescue_window``) for the dates neither of whose people was there at the first check.

A date whose partner is missing is given up; its stranded person is re-paired with another stranded person who is
compatible and new to them, for the rest of the round, in the space the stranded person is in already (the invite
carries ``"rescue": true``); nobody is rescued twice in a round. Nobody free: the person is told so (once) and when
their next date is; a later pass may still pair them. The missing partner is
told once (``date_given_up``) not to join that call, and when their next date is. Every no-show is counted, a date
where neither came included, each date's once (by the button before the quarter-round check, else by the check; later
passes count nothing); two in a row and the person is asked to confirm again for their next events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from contracts import commands as c
from contracts.envelope import Received
from contracts.errors import ErrorCode
from datemaker.domain import notices
from datemaker.domain.errors import DomainError
from datemaker.domain.events import Event, EventState
from datemaker.domain.rescue import (
    absent_from,
    looked_again,
    must_reconfirm,
    no_shows,
    rescue_pairs,
    rescue_pass,
    round_running,
    streaks_after,
)
from datemaker.domain.timeline import round_starts_at
from datemaker.service.commands import handles
from datemaker.service.lifecycle import participant
from datemaker.service.ports import Database, LiveCalls, MeetError, Store

logger = logging.getLogger(__name__)


async def rescue_stranded(store: Store, event: Event, round_no: int, now: datetime) -> dict[int, bool]:
    """Pair the round's stranded people where possible: each stranded person → re-paired or not. Those left alone
    are told (once a round) when their next date is."""
    rescue = store.rescue()
    stranded = dict(await rescue.stranded(event.id, round_no))  # person → the given-up date they are in
    if not stranded:
        return {}
    profiles = await store.profiles(stranded)
    people = [participant(profiles[u]) for u in stranded if u in profiles]
    met, blocked = await rescue.met_and_blocked(event.id, list(stranded))
    pairs, alone = rescue_pairs(people, met, blocked, event.mode, event.local(event.start).date())
    for a, b in pairs:
        await rescue.add_rescue_date(event.id, round_no, a, b, stranded[a], now)
    told = set(await rescue.tell_alone([stranded[u] for u in alone], now))
    for user in alone:
        if stranded[user] not in told:
            continue
        following = await rescue.next_round_of(event.id, user, round_no)
        starts = round_starts_at(event, following) if following is not None else None
        await store.enqueue(notices.no_partner_free(event, round_no, profiles[user], following, starts))
    outcome = dict.fromkeys(alone, False)
    outcome.update({u: True for pair in pairs for u in pair})
    return outcome


async def _give_up(store: Store, event: Event, round_no: int, date_id: int, absent: int, now: datetime) -> bool:
    """Give the date up, ``absent`` never having joined: they are told not to join its call (the stranded person's
    rescue date may be held in it) and when their next date is. False (and nothing sent) when it was given up
    already."""
    rescue = store.rescue()
    if not await rescue.abandon(date_id, absent, now):
        return False
    profiles = await store.profiles({absent})
    if absent in profiles:
        following = await rescue.next_round_of(event.id, absent, round_no)
        starts = round_starts_at(event, following) if following is not None else None
        await store.enqueue(notices.date_given_up(event, round_no, profiles[absent], following, starts))
    return True


async def _attendance(store: Store, event: Event, came: list[int], missed: list[int], now: datetime) -> None:
    """Count no-shows (the rule: ``streaks_after``); whoever reaches the threshold is asked to confirm again for
    their next events."""
    rescue = store.rescue()
    after = streaks_after(await rescue.no_show_streaks([*came, *missed]), came, missed)
    await rescue.set_no_show_streaks(after)
    for user in missed:
        if user in after and must_reconfirm(after[user]):
            events = await rescue.ask_to_reconfirm(user, event.id, now)
            logger.info("user %d missed %d dates in a row: asked to reconfirm for events %s", user, after[user], events)


@handles(c.PartnerAbsent, live=True)
async def partner_absent(
    store: Store, command: Received[c.PartnerAbsent], now: datetime, live: LiveCalls | None = None
) -> c.PartnerAbsentResult:
    args, user = command.args, command.user_id
    event, _, _ = await store.registration_context(args.event_id, user, lock=False)
    if event is None:
        raise DomainError(ErrorCode.EVENT_NOT_FOUND, f"there is no event {args.event_id}")
    round_no = args.round - 1
    if event.state != EventState.RUNNING or not round_running(event, round_no, now):
        raise DomainError(ErrorCode.BAD_REQUEST, f"round {args.round} of event {event.id} is not running now")
    rescue = store.rescue()
    mine = next((d for d in await rescue.round_dates(event.id, round_no) if user in d.people), None)
    if mine is not None:
        partner = mine.partner_of(user)
        if live is not None and mine.invited and mine.space_name:  # their word, checked against Meet's
            names = await store.profiles(set(mine.people))
            try:
                seen = await live([mine.board_date(round_no)], {u: p.name for u, p in names.items()})
            except MeetError as exc:
                logger.warning("live participants of date %d unknown: %s", mine.date_id, exc)
                seen = {}
            if partner in seen.get(mine.date_id, set()):
                return c.PartnerAbsentResult(status="partner_joined")
        if await _give_up(store, event, round_no, mine.date_id, partner, now):
            # Once the round is checked, its no-shows are counted: the partner's (missing then too) already.
            checked = await rescue.round_checked(event.id, round_no)
            await _attendance(store, event, [user], [] if checked else [partner], now)
    elif user not in dict(await rescue.stranded(event.id, round_no)):
        raise DomainError(ErrorCode.NOT_YOUR_PARTNER, f"you have no date in round {args.round} of event {event.id}")
    outcome = await rescue_stranded(store, event, round_no, now)
    if outcome.get(user):
        return c.PartnerAbsentResult(status="rematched")
    following = await rescue.next_round_of(event.id, user, round_no)
    return c.PartnerAbsentResult(
        status="no_one_free",
        next_round=None if following is None else following + 1,
        next_starts_at=None if following is None else event.local_iso(round_starts_at(event, following)),
    )


class RescueWatch:
    """From a quarter to three quarters of each round in, looks at the dates' calls: a date with one person in it and
    the other missing is given up, and the stranded are re-paired. The first check looks at every date and counts
    the no-shows; later passes (one a period, ``every`` seconds) only at the dates nobody had come to by then. Each
    pass is made once, whichever instance gets to it."""

    def __init__(self, database: Database, live: LiveCalls, clock: Callable[[], datetime], every: float = 2.0) -> None:
        self._database = database
        self._live = live
        self._clock = clock
        self._every = every

    async def check(self) -> int:
        """Make the passes that are due; how many stranded people were re-paired or left alone."""
        now = self._clock()
        rescued = 0
        async with self._database.session() as session:
            async with session.transaction() as store:
                running = await store.rescue().running_events()
            for event, started, checked, last_pass in running:
                round_no = started - 1
                due = rescue_pass(event, round_no, checked, last_pass, now, self._every)
                if due is None:
                    continue
                async with session.transaction() as store:
                    # A rescue date is not looked at: its people came, and one of them may be on the way to the call.
                    dates = [
                        d
                        for d in await store.rescue().round_dates(event.id, round_no)
                        if d.invited and d.space_name and not d.rescue and looked_again(due.first, d.empty_at_check)
                    ]
                    names = {u: p.name for u, p in (await store.profiles({u for d in dates for u in d.people})).items()}
                if not dates and not due.first:
                    continue
                try:
                    seen = await self._live([d.board_date(round_no) for d in dates], names)
                except MeetError as exc:
                    logger.warning("event %d round %d not checked for absent partners: %s", event.id, round_no + 1, exc)
                    continue
                async with session.transaction() as store:
                    # Claimed only now: a round whose calls could not be read is looked at again on the next pass,
                    # and of two instances reading it, one writes.
                    if not await store.rescue().claim_check(event.id, round_no, due.number, due.first):
                        continue
                    still = {d.date_id for d in await store.rescue().round_dates(event.id, round_no)}
                    came, missed, empty, given_up = [], [], [], 0
                    for d in dates:
                        if d.date_id not in still:  # given up meanwhile (partner_absent), its no-show counted then
                            continue
                        in_call = seen.get(d.date_id, set())
                        came += [u for u in d.people if u in in_call]
                        missed += no_shows(d.people, in_call)
                        if not in_call & set(d.people):
                            empty.append(d.date_id)
                        absent = absent_from(d.people, in_call)
                        if absent is not None:
                            given_up += await _give_up(store, event, round_no, d.date_id, absent, now)
                    if due.first:  # each date's no-shows are counted once: by the first check
                        await _attendance(store, event, came, missed, now)
                        await store.rescue().mark_empty(empty)
                    elif came:  # at a date nobody had come to by the first check: late, but they came
                        await _attendance(store, event, came, [], now)
                    outcome = await rescue_stranded(store, event, round_no, now)
                    rescued += len(outcome)
                if (due.first and missed) or given_up:
                    logger.info(
                        "event %d round %d pass %d: %d people absent, %d dates given up, %d people re-paired",
                        event.id,
                        round_no + 1,
                        due.number,
                        len(missed),
                        given_up,
                        sum(outcome.values()),
                    )
        return rescued
