"""Handlers of the commands to datemaker (docs/protocol.md section 4), one per command class.

Each handler takes the store of the command's transaction, the received command and the current time,
and returns the reply's data, or raises :class:`DomainError`. ``@handles(c.SomeCommand)`` registers it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from contracts import commands as c
from contracts import notifications as n
from contracts.commands import Verdict
from contracts.envelope import Received
from contracts.errors import ErrorCode
from contracts.profile import age_on
from datemaker.domain import notices
from datemaker.domain.errors import ConcurrentUpdate, DomainError
from datemaker.domain.events import (
    Event,
    EventState,
    check_age_admitted,
    check_cancellation_open,
    check_confirmation_open,
    check_registration_open,
)
from datemaker.domain.profiles import UserProfile, check_birthday
from datemaker.domain.ratings import RATING_WINDOW, check_rating_open, standing_verdict
from datemaker.domain.registrations import (
    Placement,
    Registration,
    may_confirm,
    placement,
    require_active,
    seat_goes_to_waitlist,
    taken,
)
from datemaker.domain.schedules import check_offer
from datemaker.domain.tonight import BookedDate, now_and_next, to_rate
from datemaker.service.ports import Store

CommandT = TypeVar("CommandT", bound=c.Command[Any])
Handler = Callable[[Store, Received[Any], datetime], Awaitable[c.Data]]
UPCOMING_LIMIT = 20
MATCHES_LIMIT = 200

HANDLERS: dict[type[c.Command[Any]], Handler] = {}
"""Command class → its handler; covers every class of ``contracts.commands.COMMANDS``."""


LIVE: set[type[c.Command[Any]]] = set()
"""Commands whose handler also reads Meet live: it takes a ``live`` keyword argument (None: no Meet here)."""


def handles(command: type[CommandT], *, live: bool = False) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``command`` (``live``: it reads Meet live)."""

    def register(handler: Handler) -> Handler:
        if command in HANDLERS:
            raise TypeError(f"{command.type} has two handlers")
        HANDLERS[command] = handler
        if live:
            LIVE.add(command)
        return handler

    return register


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
        partner_age_min=profile.partner_age_min,
        partner_age_max=profile.partner_age_max,
    )


def event_view(event: Event, registration: Registration | None, now: datetime | None = None) -> c.EventSummary:
    return c.EventSummary(
        event_id=event.id,
        starts_at=event.local_iso(event.start),
        timezone=event.timezone,
        capacity=event.users_limit,
        registered=event.registered_count,
        spots_left=event.spots_left,
        state=event.state.name,
        my_status=registration.status if registration else None,
        can_confirm=now is not None and may_confirm(event, registration, now),
        min_age=event.min_age,
        max_age=event.max_age,
    )


@handles(c.UpsertProfile)
async def upsert_profile(store: Store, command: Received[c.UpsertProfile], now: datetime) -> c.ProfileData:
    check_birthday(command.args.birthday, now.date())
    profile = await store.save_profile(command.user_id, command.args, now)
    return c.ProfileData(profile=profile_view(profile, now))


@handles(c.GetProfile)
async def get_profile(store: Store, command: Received[c.GetProfile], now: datetime) -> c.ProfileData:
    profile = await store.get_profile(command.user_id)
    if profile is None:
        raise DomainError(ErrorCode.PROFILE_REQUIRED, "you have no profile yet")
    return c.ProfileData(profile=profile_view(profile, now))


@handles(c.ListEvents)
async def list_events(store: Store, command: Received[c.ListEvents], now: datetime) -> c.EventList:
    rows = await store.upcoming_events(command.user_id, now, UPCOMING_LIMIT)
    return c.EventList(events=[event_view(event, registration, now) for event, registration in rows])


async def _event_context(
    store: Store, event_id: int, user_id: int, *, lock: bool = True
) -> tuple[Event, bool, Registration | None]:
    event, has_profile, registration = await store.registration_context(event_id, user_id, lock=lock)
    if event is None:
        raise DomainError(ErrorCode.EVENT_NOT_FOUND, f"there is no event {event_id}")
    return event, has_profile, registration


@handles(c.RegisterEvent)
async def register_event(store: Store, command: Received[c.RegisterEvent], now: datetime) -> c.RegisterResult:
    # Optimistic: read without locking the event, so that registrations for one event do not queue
    # behind each other; the write re-checks what the decision was based on.
    event, has_profile, registration = await _event_context(store, command.args.event_id, command.user_id, lock=False)
    if not has_profile:
        raise DomainError(ErrorCode.PROFILE_REQUIRED, "fill in your profile before registering")
    if registration is not None and registration.active:
        return c.RegisterResult(status="already_registered", event=event_view(event, registration, now))
    if await store.is_banned(command.user_id):
        raise DomainError(ErrorCode.BANNED, "an organizer has closed your access to events")
    check_registration_open(event, now)
    if event.min_age is not None or event.max_age is not None:
        profile = await _require_profile(store, command.user_id)
        check_age_admitted(event, profile.birthday, now.date())
    status = placement(event)
    if not await store.claim_place(event, command.user_id, now, waitlisted=status == "waitlisted"):
        raise ConcurrentUpdate(f"event {event.id} changed while registering user {command.user_id}")
    return placed(event, command.user_id, status, now)


def placed(event: Event, user_id: int, status: Placement, now: datetime) -> c.RegisterResult:
    """The reply to a new registration: its status, and the event as the registration left it."""
    registration = Registration(event.id, user_id, now, waitlisted=status == "waitlisted")
    return c.RegisterResult(status=status, event=event_view(taken(event, status), registration))


async def _end_registration(store: Store, event: Event, registration: Registration, now: datetime, how: str) -> None:
    """Cancel or decline; a freed seat goes to the longest-waiting person while the event is not planned."""
    await store.end_registration(event.id, registration.user_id, now, how)
    if seat_goes_to_waitlist(event, registration):
        await store.promote_waitlisted(event.id)


@handles(c.CancelRegistration)
async def cancel_registration(store: Store, command: Received[c.CancelRegistration], now: datetime) -> c.CancelResult:
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


@handles(c.ConfirmRegistration)
async def confirm_registration(
    store: Store, command: Received[c.ConfirmRegistration], now: datetime
) -> c.ConfirmResult:
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


@handles(c.RatePartner)
async def rate_partner(store: Store, command: Received[c.RatePartner], now: datetime) -> c.RateResult:
    args, user = command.args, command.user_id
    context = await store.rating_context(args.event_id, user, args.partner_id)
    if context is None:
        raise DomainError(ErrorCode.EVENT_NOT_FOUND, f"there is no event {args.event_id}")
    if args.partner_id == user or not context.had_date:
        raise DomainError(ErrorCode.NOT_YOUR_PARTNER, "you had no date with this person at this event")
    if not context.has_profile:  # erased: a verdict would be personal data again
        raise DomainError(ErrorCode.PROFILE_REQUIRED, "you have no profile any more")
    check_rating_open(args.event_id, context.finished_at, now)
    verdict = standing_verdict(context.previous, args.verdict)
    if verdict != args.verdict:
        return c.RateResult(recorded=False, verdict=verdict)
    await store.record_rating(args.event_id, user, args.partner_id, verdict, args.reason, now)
    if verdict is Verdict.LIKE and context.liked_back and context.event.state == EventState.FINISHED:
        # The finale told everyone their matches already: this one is told to both now, unless one of them is
        # banned (nobody banned is anybody's match).
        people = await store.profiles({user, args.partner_id})
        banned = await store.is_banned(user) or await store.is_banned(args.partner_id)
        if len(people) == 2 and not banned:
            await store.enqueue(notices.late_match(context.event, people[user], people[args.partner_id]))
    return c.RateResult(recorded=True, verdict=verdict)


@handles(c.DeleteMyData)
async def delete_my_data(store: Store, command: Received[c.DeleteMyData], now: datetime) -> c.DeletedResult:
    """Erasure: registrations for events not over are cancelled (freed seats go to the waitlist as usual),
    then every personal detail goes; pseudonymous records (dates, verdicts, reports) stay."""
    for event_id in await store.registrations_not_over(command.user_id):
        event, _, registration = await _event_context(store, event_id, command.user_id)
        if registration is not None and registration.active:
            await _end_registration(store, event, registration, now, "cancelled")
    await store.erase_profile(command.user_id, now)
    return c.DeletedResult(deleted=True)


@handles(c.SetReady)
async def set_ready(store: Store, command: Received[c.SetReady], now: datetime) -> c.ReadyResult:
    event, _, registration = await _event_context(store, command.args.event_id, command.user_id)
    registration = require_active(registration, event.id)
    if registration.ready_at is None:
        await store.mark_ready(event.id, command.user_id, now)
    return c.ReadyResult(ready=True)


@handles(c.AcceptExtraSeat)
async def accept_extra_seat(store: Store, command: Received[c.AcceptExtraSeat], now: datetime) -> c.AcceptOfferResult:
    """The seat held for the user at an extra night becomes theirs; they leave the full event's waitlist."""
    event_id, user = command.args.event_id, command.user_id
    event, has_profile, registration = await store.registration_context(event_id, user)
    offer = check_offer(await store.seat_offer(event_id, user) if event is not None else None, event, now)
    assert event is not None
    if not has_profile:
        raise DomainError(ErrorCode.PROFILE_REQUIRED, "you have no profile any more")
    await store.accept_offer(event_id, user, now)  # its held seat is free: for this user, in this transaction
    status: Literal["registered", "already_registered"] = "registered"
    if registration is not None and registration.active:
        status = "already_registered"
        if registration.waitlisted:
            await store.seat_waitlisted(event_id, user)
    elif not await store.claim_place(event, user, now, waitlisted=False):
        raise ConcurrentUpdate(f"event {event_id} changed while user {user} accepted a seat")
    full, _, waiting = await store.registration_context(offer.from_event_id, user, lock=False)
    left = None
    if full is not None and waiting is not None and waiting.status == "waitlisted":
        await _end_registration(store, full, waiting, now, "cancelled")
        left = full.id
    event, _, registration = await store.registration_context(event_id, user, lock=False)
    assert event is not None
    return c.AcceptOfferResult(status=status, event=event_view(event, registration), left_waitlist_of=left)


async def _require_profile(store: Store, user_id: int) -> UserProfile:
    profile = await store.get_profile(user_id)
    if profile is None:
        raise DomainError(ErrorCode.PROFILE_REQUIRED, "you have no profile yet")
    return profile


@handles(c.ListMatches)
async def list_matches(store: Store, command: Received[c.ListMatches], now: datetime) -> c.MatchList:
    await _require_profile(store, command.user_id)
    matches = await store.matches_of(command.user_id, MATCHES_LIMIT)
    return c.MatchList(matches=[c.Match(event_id=event_id, **_contact(p)) for event_id, p in matches])


def _contact(person: UserProfile) -> dict[str, object]:
    return {"user_id": person.user_id, "name": person.name, "username": person.username}


@handles(c.GetCurrentDate)
async def get_current_date(store: Store, command: Received[c.GetCurrentDate], now: datetime) -> c.Tonight:
    await _require_profile(store, command.user_id)
    booked = await store.dates_of(command.user_id, now - RATING_WINDOW)
    people = await store.profiles({d.partner_id for d in booked})
    booked = [d for d in booked if d.partner_id in people]  # an erased partner is nobody's date any more
    today = now.date()

    def card(d: BookedDate) -> n.PartnerCard:
        return notices.partner_card(people[d.partner_id], today)

    current, following = now_and_next(booked, now)
    date = None
    if current is not None:
        event = current.event
        date = c.CurrentDate(
            event_id=event.id,
            round=current.round_no + 1,
            url=current.url,
            starts_at=event.local_iso(current.starts_at),
            ends_at=event.local_iso(current.ends_at),
            partner=card(current),
            timezone=event.timezone,
            rounds=current.rounds,
            next=None
            if following is None
            else c.NextDate(
                round=following.round_no + 1,
                starts_at=following.event.local_iso(following.starts_at),
                ends_at=following.event.local_iso(following.ends_at),
                partner=card(following),
            ),
        )
    rate = [c.DateToRate(event_id=d.event.id, round=d.round_no + 1, partner=card(d)) for d in to_rate(booked, now)]
    return c.Tonight(date=date, now=now.astimezone(UTC).isoformat(), to_rate=rate)


# The organizer's console registers its handlers in HANDLERS too (it builds on this module, so it comes last).
from datemaker.service import organizer as _organizer  # noqa: E402, F401
from datemaker.service import rescue as _rescue  # noqa: E402, F401
