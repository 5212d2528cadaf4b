"""Handlers of the organizer's console (the ``organizer_*`` commands, docs/protocol.md section 4).

Each is refused with ``not_an_organizer`` unless its user is in ``public.organizers``; each change is logged in
``organizer_actions`` with who made it and when, in the command's transaction.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from contracts import commands as c
from contracts.envelope import Received
from contracts.errors import ErrorCode
from datemaker.domain import notices, schedules
from datemaker.domain.board import Board, BoardDate, PersonState, board, current_round, preview
from datemaker.domain.errors import DomainError
from datemaker.domain.event_settings import DEFAULT_TIMEZONE, EventSettings, parse_start, validate, zone
from datemaker.domain.events import OPEN_FOR_REGISTRATION, Event
from datemaker.domain.profiles import UserProfile
from datemaker.domain.registrations import seat_goes_to_waitlist
from datemaker.service.commands import handles
from datemaker.service.lifecycle import cancel_in, participant
from datemaker.service.ports import BoardData, Console, LiveCalls, Meet, MeetError, Store

logger = logging.getLogger(__name__)

EVENTS_LIMIT = 50
REPORTS_LIMIT = 30
SCHEDULES_LIMIT = 50


async def _organizer(store: Store, command: Received[Any]) -> Console:
    console = store.console()
    if not await console.is_organizer(command.user_id):
        raise DomainError(ErrorCode.NOT_AN_ORGANIZER, "this command is for organizers")
    return console


def _event_line(event: Event, confirmed: int, schedule_id: int | None) -> c.OrganizerEvent:
    return c.OrganizerEvent(
        event_id=event.id,
        starts_at=event.local_iso(event.start),
        timezone=event.timezone,
        state=event.state.name,
        capacity=event.users_limit,
        registered=event.registered_count,
        waitlisted=event.waitlisted_count,
        confirmed=confirmed,
        min_age=event.min_age,
        max_age=event.max_age,
        schedule_id=schedule_id,
    )


@handles(c.OrganizerListEvents)
async def organizer_list_events(
    store: Store, command: Received[c.OrganizerListEvents], now: datetime
) -> c.OrganizerEventList:
    console = await _organizer(store, command)
    lines = await console.events(now, everything=command.args.all, limit=EVENTS_LIMIT)
    return c.OrganizerEventList(
        events=[_event_line(line.event, line.confirmed, line.origin.schedule_id) for line in lines]
    )


def _settings_given(args: c.OrganizerCreateEvent | c.OrganizerAddSchedule) -> dict[str, Any]:
    """The event settings an organizer's command gives beyond start and time zone (the rest: the defaults)."""
    changed: dict[str, Any] = {"min_age": args.min_age, "max_age": args.max_age}
    if args.capacity is not None:
        changed["users_limit"] = args.capacity
    return changed


@handles(c.OrganizerCreateEvent)
async def organizer_create_event(
    store: Store, command: Received[c.OrganizerCreateEvent], now: datetime
) -> c.CreatedEvent:
    console = await _organizer(store, command)
    args = command.args
    timezone = args.timezone or DEFAULT_TIMEZONE
    changed = _settings_given(args)
    settings = EventSettings(start=parse_start(args.start, timezone), timezone=timezone, **changed)
    validate(settings, now)
    event_id = await console.create_event(settings)
    details = {"start": settings.start.isoformat(), "timezone": timezone, **{k: v for k, v in changed.items() if v}}
    await console.log_action(command.user_id, "create_event", now, event_id=event_id, details=details)
    return c.CreatedEvent(event_id=event_id)


@handles(c.OrganizerCancelEvent)
async def organizer_cancel_event(
    store: Store, command: Received[c.OrganizerCancelEvent], now: datetime
) -> c.CancelledEvent:
    console = await _organizer(store, command)
    reason = command.args.reason or f"cancelled by organizer {command.user_id}"
    told = await cancel_in(console.lifecycle(), command.args.event_id, now, reason)
    await console.log_action(
        command.user_id, "cancel_event", now, event_id=command.args.event_id, details={"reason": reason}
    )
    return c.CancelledEvent(cancelled=True, told=told)


@handles(c.OrganizerListReports)
async def organizer_list_reports(
    store: Store, command: Received[c.OrganizerListReports], now: datetime
) -> c.ReportList:
    console = await _organizer(store, command)
    lines = await console.reports(open_only=command.args.open, limit=REPORTS_LIMIT)
    return c.ReportList(
        reports=[
            c.Report(
                report_id=r.report_id,
                event_id=r.event_id,
                reporter=r.reporter,
                reported=r.reported,
                reporter_name=r.reporter_name,
                reported_name=r.reported_name,
                reason=r.reason,
                at=r.at.isoformat(),
                reported_before=r.reported_before,
                reporter_reported=r.reporter_reported,
                reported_banned=r.banned,
                resolved_at=None if r.resolved_at is None else r.resolved_at.isoformat(),
                resolved_by=r.resolved_by,
            )
            for r in lines
        ]
    )


@handles(c.OrganizerBanUser)
async def organizer_ban_user(store: Store, command: Received[c.OrganizerBanUser], now: datetime) -> c.BanResult:
    """The user is banned: refused at registration from now on, taken out of every event not started yet (a
    freed seat goes to the waitlist; in a planned event their dates not held yet are dropped), and told."""
    console = await _organizer(store, command)
    user = command.args.user_id
    if user == command.user_id:
        raise DomainError(ErrorCode.BAD_REQUEST, "an organizer cannot ban themself")
    if await console.is_organizer(user):
        raise DomainError(ErrorCode.BAD_REQUEST, f"user {user} is an organizer: remove them from the organizers first")
    if not await console.ban(user, command.args.reason, command.user_id, now):
        return c.BanResult(banned=True)  # banned already: nothing more to do
    removed = []
    for event, planned in await console.events_to_leave(user):
        _, _, registration = await store.registration_context(event.id, user, lock=False)
        if registration is None or not registration.active:
            continue
        if planned:
            await console.leave_plan(event.id, user, now)
        else:
            await store.end_registration(event.id, user, now, "cancelled")
            if seat_goes_to_waitlist(event, registration):
                await store.promote_waitlisted(event.id)
        removed.append(event.id)
    profile = await store.get_profile(user)
    if profile is not None:
        await store.enqueue(notices.banned(profile, removed, now))
    await console.log_action(
        command.user_id, "ban_user", now, user_id=user, details={"reason": command.args.reason, "removed_from": removed}
    )
    return c.BanResult(banned=True, removed_from=removed)


@handles(c.OrganizerDismissReport)
async def organizer_dismiss_report(
    store: Store, command: Received[c.OrganizerDismissReport], now: datetime
) -> c.DismissedReport:
    """The report is resolved: no longer open. Nobody is told; the report still keeps its two people apart."""
    console = await _organizer(store, command)
    report_id = command.args.report_id
    resolved = await console.resolve_report(report_id, command.user_id, now)
    if resolved is None:
        raise DomainError(ErrorCode.BAD_REQUEST, f"there is no report {report_id}")
    if not resolved.already:
        await console.log_action(
            command.user_id,
            "dismiss_report",
            now,
            event_id=resolved.event_id,
            user_id=resolved.reported,
            details={"report_id": report_id, "reporter": resolved.reporter},
        )
    return c.DismissedReport(dismissed=True, already=resolved.already)


@handles(c.OrganizerUnbanUser)
async def organizer_unban_user(store: Store, command: Received[c.OrganizerUnbanUser], now: datetime) -> c.UnbanResult:
    """The user's ban is lifted: they may register again (they are not put back into the events the ban took them
    out of), and are told. Someone not banned: nothing changes."""
    console = await _organizer(store, command)
    user = command.args.user_id
    ban = await console.unban(user)
    if ban is None:
        return c.UnbanResult(unbanned=False)
    profile = await store.get_profile(user)
    if profile is not None:
        await store.enqueue(notices.unbanned(profile, now))
    details = {"ban_reason": ban["reason"], "banned_by": ban["banned_by"], "banned_at": ban["banned_at"].isoformat()}
    await console.log_action(command.user_id, "unban_user", now, user_id=user, details=details)
    return c.UnbanResult(unbanned=True)


# --- schedules: the CLI's queries and rules (datemaker/adapters/postgres/schedules.py, domain/schedules.py) -----

_SCHEDULE_TARGETS = {
    "pause": schedules.ScheduleState.PAUSED,
    "resume": schedules.ScheduleState.ACTIVE,
    "end": schedules.ScheduleState.ENDED,
}


def _schedule_line(line: Any) -> c.OrganizerSchedule:
    """A ``ScheduleLine`` (the CLI's ``schedules list`` row) as the console lists it."""
    schedule: schedules.Schedule = line.schedule
    rule, settings = schedule.rule, schedule.template
    next_start = None if line.next_start is None else line.next_start.astimezone(zone(rule.timezone)).isoformat()
    return c.OrganizerSchedule(
        schedule_id=schedule.id,
        weekdays=[schedules.WEEKDAYS[day - 1] for day in sorted(rule.weekdays)],  # type: ignore[misc]
        local_time=f"{rule.at:%H:%M}",
        timezone=rule.timezone,
        capacity=settings.users_limit,
        horizon=schedule.horizon,
        state=schedule.state.value,  # type: ignore[arg-type]
        upcoming=line.upcoming,
        next_starts_at=next_start,
        min_age=settings.min_age,
        max_age=settings.max_age,
    )


@handles(c.OrganizerListSchedules)
async def organizer_list_schedules(
    store: Store, command: Received[c.OrganizerListSchedules], now: datetime
) -> c.OrganizerScheduleList:
    console = await _organizer(store, command)
    lines = await console.schedules().lines(now, everything=command.args.all)
    return c.OrganizerScheduleList(schedules=[_schedule_line(line) for line in lines[:SCHEDULES_LIMIT]])


@handles(c.OrganizerShowSchedule)
async def organizer_show_schedule(
    store: Store, command: Received[c.OrganizerShowSchedule], now: datetime
) -> c.ScheduleDetails:
    """The schedule and its events, as ``datemaker schedules show`` reads them."""
    console = await _organizer(store, command)
    found = await console.schedules().line(command.args.schedule_id, now)
    if found is None:
        raise DomainError(ErrorCode.BAD_REQUEST, f"there is no schedule {command.args.schedule_id}")
    line, lines = found
    demand = line.schedule.demand
    return c.ScheduleDetails(
        schedule=_schedule_line(line),
        extra_when_waitlist=demand.extra_when_waitlist,
        alert_below_percent=demand.alert_below_percent,
        events=[
            c.ScheduledEvent(
                event_id=item.event.id,
                starts_at=item.event.local_iso(item.event.start),
                state=item.event.state.name,
                capacity=item.event.users_limit,
                registered=item.event.registered_count,
                waitlisted=item.event.waitlisted_count,
                extra_for=item.extra_for,
                offers=item.offers,
                accepted=item.accepted,
            )
            for item in lines[:EVENTS_LIMIT]
        ],
    )


@handles(c.OrganizerAddSchedule)
async def organizer_add_schedule(
    store: Store, command: Received[c.OrganizerAddSchedule], now: datetime
) -> c.CreatedSchedule:
    """A new schedule, checked as ``datemaker schedules add`` checks it (``bad_request`` naming every problem)."""
    console = await _organizer(store, command)
    args = command.args
    timezone = args.timezone or DEFAULT_TIMEZONE
    changed = _settings_given(args)
    schedule = schedules.Schedule(
        id=0,
        rule=schedules.Rule(schedules.parse_days(args.days), schedules.parse_time(args.time), timezone),
        template=schedules.template(timezone, **changed),
    )
    if args.horizon is not None:
        schedule = replace(schedule, horizon=args.horizon)
    schedules.validate(schedule, now)
    schedule_id = await console.schedules().add(schedule)
    details = {
        "schedule_id": schedule_id,
        "rule": schedule.rule.describe(),
        "capacity": schedule.template.users_limit,
        "horizon": schedule.horizon,
        **{k: v for k, v in changed.items() if v},
    }
    await console.log_action(command.user_id, "add_schedule", now, details=details)
    where = zone(timezone)
    first = [start.astimezone(where).isoformat() for start in schedules.horizon_slots(schedule, now)]
    return c.CreatedSchedule(schedule_id=schedule_id, first_starts=first)


@handles(c.OrganizerSetScheduleState)
async def organizer_set_schedule_state(
    store: Store, command: Received[c.OrganizerSetScheduleState], now: datetime
) -> c.ScheduleStateChange:
    """Pause, resume or end the schedule; asking for the state it is in already changes nothing (and logs nothing).
    An ended schedule stays ended (``bad_request``)."""
    console = await _organizer(store, command)
    schedule_id, action = command.args.schedule_id, command.args.action
    queries = console.schedules()
    if not await queries.lines(now, everything=True, only=schedule_id):
        raise DomainError(ErrorCode.BAD_REQUEST, f"there is no schedule {schedule_id}")
    target = _SCHEDULE_TARGETS[action]
    before = await queries.set_state(schedule_id, target, now, again_is_harmless=True)
    already = before.state == target
    if not already:
        await console.log_action(
            command.user_id,
            f"{action}_schedule",
            now,
            details={"schedule_id": schedule_id, "was": before.state.value},
        )
    return c.ScheduleStateChange(schedule_id=schedule_id, state=target.value, already=already)  # type: ignore[arg-type]


@handles(c.OrganizerShowEvent, live=True)
async def organizer_show_event(
    store: Store, command: Received[c.OrganizerShowEvent], now: datetime, live: LiveCalls | None = None
) -> c.EventBoard:
    console = await _organizer(store, command)
    data = await console.board_data(command.args.event_id, now.date())
    if data is None:
        raise DomainError(ErrorCode.EVENT_NOT_FOUND, f"there is no event {command.args.event_id}")
    return await event_board(store, console, data, now, live)


async def event_board(
    store: Store, console: Console, data: BoardData, now: datetime, live: LiveCalls | None = None
) -> c.EventBoard:
    """The board of ``data``'s event: per person their state tonight (live from Meet while a round runs), or,
    before the event is planned, a preview of the plan from the current registrations."""
    event = data.event
    round_no = current_round(event, data.rounds_started, data.rounds_planned, now)
    names = {r.registration.user_id: r.name for r in data.registrants}
    in_call = None
    if round_no is not None and live is not None:
        running = [d for d in data.dates if d.round_no == round_no and d.invited and d.space_name]
        try:
            in_call = await live(running, names)
        except MeetError as exc:  # the board still shows the rest
            logger.warning("live participants of event %d unknown: %s", event.id, exc)
    state = board(data.registrants, data.dates, round_no, in_call)
    people_cards = await store.profiles({p.partner_id for p in state.people if p.partner_id is not None})
    counts: dict[str, int] = {}
    for r in data.registrants:
        counts[r.registration.status] = counts.get(r.registration.status, 0) + 1
    balance = None
    if data.rounds_planned == 0 and event.state in OPEN_FOR_REGISTRATION:
        profiles, blocked, met = await console.seated_for_preview(event.id)
        p = preview(event, [participant(x) for x in profiles], blocked, met)
        balance = c.BalancePreview(
            participants=p.participants,
            dates=p.dates,
            dates_per_person={str(k): v for k, v in p.dates_per_person.items()},
            sit_outs=p.sit_outs,
            match_nobody=p.match_nobody,
        )
    return c.EventBoard(
        event=_event_line(event, data.confirmed, data.schedule_id),
        counts=counts,
        people=[_person(s, people_cards, now) for s in state.people],
        summary=_summary(state),
        preview=balance,
        rounds_planned=data.rounds_planned,
    )


def _person(state: PersonState, cards: dict[int, UserProfile], now: datetime) -> c.BoardPerson:
    r = state.registrant
    partner = cards.get(state.partner_id) if state.partner_id is not None else None
    return c.BoardPerson(
        user_id=r.registration.user_id,
        name=r.name,
        gender=r.gender,
        age=r.age,
        status=r.registration.status,
        confirmed=r.registration.confirmed_at is not None,
        seated=state.seated,
        partner=notices.partner_card(partner, now.date()) if partner is not None else None,
        link_sent=state.link_sent,
        in_call=state.in_call,
        ratings_given=r.ratings_given,
        reason=r.unseated_reason,
    )


def _summary(state: Board) -> c.BoardSummary:
    s = state.summary
    return c.BoardSummary(
        round=None if s.round_no is None else s.round_no + 1,
        dates_running=s.dates_running,
        waiting_for_link=s.waiting_for_link,
        alone_in_call=s.alone_in_call,
    )


def live_calls(meet: Meet) -> LiveCalls:
    """Who is in each date's call right now, from Meet's conference records (a participant without a leave
    time is still there), matched to the date's people by their display name."""
    from datemaker.domain.attendance import joined_call

    async def read(dates: list[BoardDate], names: dict[int, str]) -> dict[int, set[int]]:
        seen: dict[int, set[int]] = {}
        for d in dates:
            assert d.space_name is not None
            present = [a.display_name for a in await meet.attendance(d.space_name, d.account) if a.left_at is None]
            seen[d.date_id] = {u for u in (d.user_a, d.user_b) if joined_call(names.get(u, ""), present)}
        return seen

    return read
