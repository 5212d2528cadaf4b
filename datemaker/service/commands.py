"""Handlers of the commands to datemaker (PROTOCOL.md section 4).

Each handler takes the store of the command's transaction, the validated command and the current
time, and returns the reply's data, or raises :class:`DomainError`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from contracts import commands as c
from contracts.envelope import Command, Reply
from contracts.errors import ErrorCode
from datemaker.domain.errors import ConcurrentUpdate, DomainError
from datemaker.domain.events import Event, check_cancellation_open, check_confirmation_open, check_registration_open
from datemaker.domain.profiles import UserProfile, age_on, check_birthday
from datemaker.domain.registrations import Registration, placement, require_active
from datemaker.service.events import EventCache
from datemaker.service.ports import Session, Store

Handler = Callable[[Store, Command[Any], datetime], Awaitable[BaseModel]]
FastPath = Callable[[Session, Command[Any], datetime, EventCache], Awaitable[BaseModel | None]]
UPCOMING_LIMIT = 20


def profile_view(profile: UserProfile, now: datetime) -> c.Profile:
    return c.Profile(
        user_id=profile.user_id,
        name=profile.name,
        gender=profile.gender,
        birthday=profile.birthday,
        age=age_on(profile.birthday, now.date()),
        city=profile.city,
        bio=profile.bio,
        username=profile.username,
        language=profile.language,
        seeking=list(profile.seeking) if profile.seeking else None,
        photo_file_id=profile.photo_file_id,
    )


def event_view(event: Event, registration: Registration | None) -> c.EventSummary:
    return c.EventSummary(
        event_id=event.id,
        starts_at=event.local_iso(event.start),
        timezone=event.timezone,
        capacity=event.users_limit,
        registered=event.registered_count,
        spots_left=event.spots_left,
        state=event.state.name,
        my_status=registration.status if registration else None,
    )


async def upsert_profile(store: Store, command: Command[c.UpsertProfile], now: datetime) -> c.ProfileData:
    check_birthday(command.args.birthday, now.date())
    chat_id = command.headers.chat_id or command.user_id
    profile = await store.save_profile(command.user_id, chat_id, command.args, now)
    return c.ProfileData(profile=profile_view(profile, now))


async def get_profile(store: Store, command: Command[c.GetProfile], now: datetime) -> c.ProfileData:
    profile = await store.get_profile(command.user_id)
    if profile is None:
        raise DomainError(ErrorCode.PROFILE_REQUIRED, "you have no profile yet")
    return c.ProfileData(profile=profile_view(profile, now))


async def list_events(store: Store, command: Command[c.ListEvents], now: datetime) -> c.EventList:
    rows = await store.upcoming_events(command.user_id, now, UPCOMING_LIMIT)
    return c.EventList(events=[event_view(event, registration) for event, registration in rows])


async def _event_context(
    store: Store, event_id: int, user_id: int, *, lock: bool = True
) -> tuple[Event, bool, Registration | None]:
    event, has_profile, registration = await store.registration_context(event_id, user_id, lock=lock)
    if event is None:
        raise DomainError(ErrorCode.EVENT_NOT_FOUND, f"there is no event {event_id}")
    return event, has_profile, registration


async def register_event(store: Store, command: Command[c.RegisterEvent], now: datetime) -> c.RegisterResult:
    # Optimistic: read without locking the event, so that registrations for one event do not queue
    # behind each other; the write re-checks what the decision was based on.
    event, has_profile, registration = await _event_context(store, command.args.event_id, command.user_id, lock=False)
    if not has_profile:
        raise DomainError(ErrorCode.PROFILE_REQUIRED, "fill in your profile before registering")
    if registration is not None and registration.active:
        return c.RegisterResult(status="already_registered")
    check_registration_open(event, now)
    status = placement(event)
    waitlisted = status == "waitlisted"
    if not await store.claim_place(event, command.user_id, now, waitlisted=waitlisted):
        raise ConcurrentUpdate(f"event {event.id} changed while registering user {command.user_id}")
    return c.RegisterResult(status=status)


async def register_event_at_once(
    session: Session, command: Command[c.RegisterEvent], now: datetime, events: EventCache
) -> c.RegisterResult | None:
    """The common case in one round trip: a seat is free and the user is new to the event.

    Decided by the same rules from a recently read event; the database re-checks what may have changed
    since. None means "take the ordinary path", which gives the exact answer in every other case.
    """
    event = await events.get(session, command.args.event_id)
    if event is None:
        return None
    try:
        check_registration_open(event, now)
        if placement(event) != "registered":
            return None
    except DomainError:
        return None
    result = c.RegisterResult(status="registered")
    reply = Reply.success(result).model_dump(mode="json")
    if await session.register_at_once(event, command.user_id, now, command.message_id, reply):
        return result
    events.forget(event.id)
    return None


async def _end_registration(store: Store, event: Event, registration: Registration, now: datetime, how: str) -> None:
    """Cancel or decline; a freed seat goes to the longest-waiting person."""
    await store.end_registration(event.id, registration.user_id, now, how)
    if registration.holds_seat:
        await store.promote_waitlisted(event.id)


async def cancel_registration(store: Store, command: Command[c.CancelRegistration], now: datetime) -> c.CancelResult:
    if command.args.event_id == 0:
        event_ids = await store.active_upcoming_event_ids(command.user_id, now)
        strict = False
    else:
        event_ids = [command.args.event_id]
        strict = True
    cancelled = []
    for event_id in event_ids:
        event, _, registration = await _event_context(store, event_id, command.user_id)
        if registration is None or not registration.active:
            if strict:
                require_active(registration, event_id)
            continue
        try:
            check_cancellation_open(event, now)
        except DomainError:
            if strict:
                raise
            continue
        await _end_registration(store, event, registration, now, "cancelled")
        cancelled.append(event_id)
    return c.CancelResult(cancelled=cancelled)


async def confirm_registration(store: Store, command: Command[c.ConfirmRegistration], now: datetime) -> c.ConfirmResult:
    event, _, registration = await _event_context(store, command.args.event_id, command.user_id)
    registration = require_active(registration, event.id)
    if registration.waitlisted:
        raise DomainError(ErrorCode.NOT_REGISTERED, f"you are on the waitlist of event {event.id}, not yet seated")
    check_confirmation_open(event, now, registration.confirmation_sent_at is not None)
    if command.args.attending:
        if registration.confirmed_at is None:
            await store.confirm(event.id, command.user_id, now)
        return c.ConfirmResult(status="confirmed")
    await _end_registration(store, event, registration, now, "declined")
    return c.ConfirmResult(status="declined")


async def rate_partner(store: Store, command: Command[c.RatePartner], now: datetime) -> c.RateResult:
    args = command.args
    if not await store.event_exists(args.event_id):
        raise DomainError(ErrorCode.EVENT_NOT_FOUND, f"there is no event {args.event_id}")
    if args.partner_id == command.user_id or not await store.had_date(args.event_id, command.user_id, args.partner_id):
        raise DomainError(ErrorCode.NOT_YOUR_PARTNER, "you had no date with this person at this event")
    await store.record_rating(args.event_id, command.user_id, args.partner_id, args.verdict, args.reason, now)
    return c.RateResult(recorded=True)


async def set_ready(store: Store, command: Command[c.SetReady], now: datetime) -> c.ReadyResult:
    event, _, registration = await _event_context(store, command.args.event_id, command.user_id)
    registration = require_active(registration, event.id)
    if registration.ready_at is None:
        await store.mark_ready(event.id, command.user_id, now)
    return c.ReadyResult(ready=True)


HANDLERS: dict[str, Handler] = {
    "upsert_profile": upsert_profile,
    "get_profile": get_profile,
    "list_events": list_events,
    "register_event": register_event,
    "cancel_registration": cancel_registration,
    "confirm_registration": confirm_registration,
    "rate_partner": rate_partner,
    "set_ready": set_ready,
}
"""Command name → handler; covers every name of ``contracts.commands.DATEMAKER_COMMANDS``."""


FAST_PATHS: dict[str, FastPath] = {"register_event": register_event_at_once}
"""Single-round-trip versions of hot commands, tried first; they record their own reply atomically."""
