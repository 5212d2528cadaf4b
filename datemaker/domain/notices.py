"""What each step of the timeline tells whom: the commands to the bot (docs/protocol.md section 5), pure.

Every message has a key unique within its event and recipient, so its message id is deterministic and
a step that runs twice cannot send anything twice. Round numbers in messages count from 1, as people
do; the plan counts from 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from contracts import notifications as n
from contracts.profile import age_on
from datemaker.domain.events import Event
from datemaker.domain.profiles import UserProfile
from datemaker.domain.timeline import round_ends_at, round_starts_at


@dataclass(frozen=True)
class Notice:
    """One notification for one person; its class says its name and priority."""

    event_id: int
    user_id: int
    chat_id: int
    language: str | None
    body: n.Notification
    key: str

    @property
    def type(self) -> str:
        return self.body.type

    @property
    def priority(self) -> n.Priority:
        return self.body.priority

    @property
    def message_id(self) -> str:
        return f"chathub.e{self.event_id}.{self.key}.u{self.user_id}"

    @property
    def headers(self) -> dict[str, object]:
        headers: dict[str, object] = {"user_id": self.user_id, "chat_id": self.chat_id, "event_id": self.event_id}
        if self.language:
            headers["language"] = self.language
        return headers


@dataclass(frozen=True)
class PlannedDate:
    """A pair meeting in a round, and where."""

    date_id: int
    round_no: int
    user_a: int
    user_b: int
    meeting_uri: str | None = None
    invited: bool = False
    delayed: bool = False
    """Its people were told their link is late."""
    space_busy: bool = False
    """Its space (its table's, taken over) still serves the round before's call."""
    rescue: bool = False
    """A rescue date: its people's first partners never joined."""

    @property
    def ready(self) -> bool:
        """Its link can go out now."""
        return bool(self.meeting_uri) and not self.invited and not self.space_busy

    def partner_of(self, user_id: int) -> int:
        return self.user_b if user_id == self.user_a else self.user_a

    @property
    def people(self) -> tuple[int, int]:
        return (self.user_a, self.user_b)


def _to(event: Event, person: UserProfile, body: n.Notification, key: str) -> Notice:
    return Notice(event.id, person.user_id, person.chat_id, person.language, body, key)


def partner_card(profile: UserProfile, today: date) -> n.PartnerCard:
    return n.PartnerCard(
        user_id=profile.user_id,
        name=profile.name,
        age=age_on(profile.birthday, today),
        city=profile.city,
        bio=profile.bio,
        photo_file_id=profile.photo_file_id,
    )


def confirmation_requests(event: Event, people: Iterable[tuple[UserProfile, datetime]]) -> list[Notice]:
    """Ask each (person, when they were to be asked afresh: their registration, or a request to confirm again after
    no-shows) to confirm; a fresh registration or such a request is asked by a new message."""
    body = n.ConfirmRegistrationRequest(
        event_id=event.id,
        starts_at=event.local_iso(event.start),
        timezone=event.timezone,
        deadline=event.local_iso(event.confirm_deadline),
    )
    return [_to(event, person, body, f"confirm.{registered_at.timestamp():.6f}") for person, registered_at in people]


def plan_outcome(
    event: Event, seated: Mapping[int, int], not_taking_part: Mapping[int, str], people: Mapping[int, UserProfile]
) -> list[Notice]:
    """Tell each seated person (user id → their number of dates) and each one left out (user id → reason)."""
    starts_at = event.local_iso(event.start)
    messages = [
        _to(
            event,
            people[user_id],
            n.SendUserWillTakePartInEvent(event_id=event.id, starts_at=starts_at, rounds=dates),
            "take-part",
        )
        for user_id, dates in seated.items()
    ]
    messages += [
        _to(
            event,
            people[user_id],
            n.SendUserWillNotTakePartInEvent(event_id=event.id, reason=reason),
            "not-take-part",
        )
        for user_id, reason in not_taking_part.items()
    ]
    return messages


def rules(event: Event, rounds: int, people: Iterable[UserProfile]) -> list[Notice]:
    body = n.SendRules(
        event_id=event.id,
        starts_at=event.local_iso(event.start),
        rounds=rounds,
        round_seconds=event.round_seconds,
        break_seconds=event.break_seconds,
    )
    return [_to(event, person, body, "rules") for person in people]


def _break(
    event: Event, round_no: int, user_id: int, rounds_of: Mapping[int, Sequence[int]], sitting_out: bool
) -> n.SendBreakMessage:
    """A break (or a sit-out) in ``round_no``, saying when the person plays next, if they do."""
    upcoming = next((r for r in rounds_of.get(user_id, ()) if r > round_no), None)
    return n.SendBreakMessage(
        event_id=event.id,
        round=round_no + 1,
        sitting_out=sitting_out,
        next_round=None if upcoming is None else upcoming + 1,
        next_round_starts_at=None if upcoming is None else event.local_iso(round_starts_at(event, upcoming)),
    )


def starter(event_id: int, round_no: int, rescue: bool) -> int:
    """The conversation starter of a date: each round of an event has its own, and a rescue date in a round another
    one again (half the list further on), so nobody gets the same one twice in an event of up to
    ``CONVERSATION_STARTERS`` / 2 rounds (10), and nobody without a rescue in one of up to ``CONVERSATION_STARTERS``
    rounds (20)."""
    return (event_id + round_no + (n.CONVERSATION_STARTERS // 2 if rescue else 0)) % n.CONVERSATION_STARTERS


def round_start(
    event: Event,
    round_no: int,
    dates: Sequence[PlannedDate],
    sitting_out: Iterable[int],
    rounds_of: Mapping[int, Sequence[int]],
    people: Mapping[int, UserProfile],
    today: date,
) -> list[Notice]:
    """Each person of a ready date gets their link and partner; each person sitting out, when they play next."""
    starts_at = event.local_iso(round_starts_at(event, round_no))
    ends_at = event.local_iso(round_ends_at(event, round_no))
    messages = [
        _to(
            event,
            people[user_id],
            n.InviteToMeeting(
                event_id=event.id,
                round=round_no + 1,
                url=date_.meeting_uri,
                starts_at=starts_at,
                ends_at=ends_at,
                partner=partner_card(people[date_.partner_of(user_id)], today),
                expires_at=ends_at,  # a link is worthless after its round
                rescue=date_.rescue,
                starter=starter(event.id, round_no, date_.rescue),
            ),
            f"invite.r{round_no}.d{date_.date_id}" if date_.rescue else f"invite.r{round_no}",
        )
        for date_ in dates
        if date_.meeting_uri
        for user_id in date_.people
    ]
    for user_id in sitting_out:
        body = _break(event, round_no, user_id, rounds_of, sitting_out=True)
        messages.append(_to(event, people[user_id], body, f"sit-out.r{round_no}"))
    return messages


def link_delayed(
    event: Event, round_no: int, dates: Sequence[PlannedDate], people: Mapping[int, UserProfile], today: date
) -> list[Notice]:
    """The round has begun and these dates have no link yet: both people are told it follows."""
    ends_at = event.local_iso(round_ends_at(event, round_no))
    return [
        _to(
            event,
            people[user_id],
            n.LinkDelayed(
                event_id=event.id,
                round=round_no + 1,
                partner=partner_card(people[date_.partner_of(user_id)], today),
                expires_at=ends_at,
            ),
            f"delayed.r{round_no}",
        )
        for date_ in dates
        for user_id in date_.people
        if user_id in people and date_.partner_of(user_id) in people
    ]


def time_left(
    event: Event, round_no: int, dates: Sequence[PlannedDate], people: Mapping[int, UserProfile], seconds: int
) -> list[Notice]:
    """Each person in a date of the round: the call ends in ``seconds``."""
    body = n.SendTimeLeft(
        event_id=event.id,
        round=round_no + 1,
        seconds_left=seconds,
        expires_at=event.local_iso(round_ends_at(event, round_no)),
    )
    return [
        _to(event, people[user_id], body, f"time-left.r{round_no}")
        for date_ in dates
        for user_id in date_.people
        if user_id in people
    ]


def round_end(
    event: Event,
    round_no: int,
    dates: Sequence[PlannedDate],
    rounds_of: Mapping[int, Sequence[int]],
    people: Mapping[int, UserProfile],
    today: date,
) -> list[Notice]:
    """After a round: a break message (with the person's next round) and, where the link went out, a request to
    rate the partner. A date whose link never came (its people were told it was late) is not rated: they learn
    the round is over and when their next one starts."""
    messages = []
    for date_ in dates:
        for user_id in date_.people:
            person = people[user_id]
            breather = _break(event, round_no, user_id, rounds_of, sitting_out=False)
            messages.append(_to(event, person, breather, f"break.r{round_no}"))
            if date_.invited:
                rating = n.SendPartnerRatingRequest(
                    event_id=event.id,
                    round=round_no + 1,
                    partner=partner_card(people[date_.partner_of(user_id)], today),
                )
                messages.append(_to(event, person, rating, f"rate.r{round_no}"))
    return messages


def finale(
    event: Event,
    dates_of: Mapping[int, int],
    matches_of: Mapping[int, Sequence[UserProfile]],
    people: Mapping[int, UserProfile],
) -> list[Notice]:
    """The final message to everyone who had dates, then their mutual matches (maybe none) with contacts."""
    messages = []
    for user_id, dates in dates_of.items():
        person = people[user_id]
        messages.append(
            _to(
                event,
                person,
                n.SendFinalDatingMessage(event_id=event.id, dates=dates),
                "final",
            )
        )
        contacts = [_contact(m) for m in matches_of.get(user_id, ())]
        messages.append(
            _to(
                event,
                person,
                n.SendMatchMessage(event_id=event.id, matches=contacts),
                "matches",
            )
        )
    return messages


def late_match(event: Event, a: UserProfile, b: UserProfile) -> list[Notice]:
    """A mutual like completed after the finale: each of the two gets the other's contact."""
    return [
        _to(event, me, n.SendMatchMessage(event_id=event.id, matches=[_contact(other)]), f"match.u{other.user_id}")
        for me, other in ((a, b), (b, a))
    ]


def _contact(person: UserProfile) -> n.MatchContact:
    return n.MatchContact(user_id=person.user_id, name=person.name, username=person.username)


def cancellation(event: Event, people: Iterable[UserProfile]) -> list[Notice]:
    body = n.EventCancelled(event_id=event.id, starts_at=event.local_iso(event.start))
    return [_to(event, person, body, "cancelled") for person in people]


def extra_seat_offers(extra: Event, full: Event, people: Iterable[UserProfile]) -> list[Notice]:
    """Offer each person waiting at ``full`` a seat at its extra night, until that night's registration closes."""
    body = n.OfferExtraSeat(
        event_id=extra.id,
        from_event_id=full.id,
        from_starts_at=full.local_iso(full.start),
        starts_at=extra.local_iso(extra.start),
        timezone=extra.timezone,
        deadline=extra.local_iso(extra.confirm_deadline),
    )
    return [_to(extra, person, body, "offer") for person in people]


@dataclass(frozen=True)
class Organizer:
    """Someone in ``public.organizers``; their language when they have a profile."""

    user_id: int
    language: str | None = None


def underfilled(event: Event, schedule_id: int | None, organizers: Iterable[Organizer]) -> list[Notice]:
    """Tell every organizer that ``event`` is far from full (each organizer once per event)."""
    body = n.EventUnderfilled(
        event_id=event.id,
        starts_at=event.local_iso(event.start),
        timezone=event.timezone,
        registered=event.registered_count,
        capacity=event.users_limit,
        confirm_opens_at=event.local_iso(event.confirm_opens_at),
        schedule_id=schedule_id,
    )
    return [Notice(event.id, o.user_id, o.user_id, o.language, body, "underfilled") for o in organizers]


def banned(person: UserProfile, removed_from: list[int], at: datetime) -> list[Notice]:
    """Tell someone an organizer banned them (and which upcoming events they were taken out of). The key names the
    ban's time: someone banned again after a ban was lifted is told again."""
    body = n.UserBanned(event_id=0, removed_from=removed_from)
    return [Notice(0, person.user_id, person.chat_id, person.language, body, f"banned.{_stamp(at)}")]


def unbanned(person: UserProfile, at: datetime) -> list[Notice]:
    """Tell someone an organizer lifted their ban: they may register again."""
    body = n.UserUnbanned(event_id=0)
    return [Notice(0, person.user_id, person.chat_id, person.language, body, f"unbanned.{_stamp(at)}")]


def _stamp(at: datetime) -> str:
    """A moment as part of a key: microseconds since the epoch."""
    return str(round(at.timestamp() * 1_000_000))


_RoundLost = TypeVar("_RoundLost", n.NoPartnerFree, n.DateGivenUp)


def no_partner_free(
    event: Event, round_no: int, person: UserProfile, next_round: int | None, next_starts_at: datetime | None
) -> list[Notice]:
    """Nobody is free for someone whose partner never came: told so, and when their next date is."""
    body = _round_lost(n.NoPartnerFree, event, round_no, next_round, next_starts_at)
    return [_to(event, person, body, f"no-partner.r{round_no}")]


def date_given_up(
    event: Event, round_no: int, person: UserProfile, next_round: int | None, next_starts_at: datetime | None
) -> list[Notice]:
    """Someone never joined their date's call, which was given up: told not to join it (it may hold their
    partner's rescue date now), and when their next date is. Once per person and round, whoever found the absence
    (``partner_absent`` or the quarter-round check)."""
    body = _round_lost(n.DateGivenUp, event, round_no, next_round, next_starts_at)
    return [_to(event, person, body, f"given-up.r{round_no}")]


def _round_lost(
    kind: type[_RoundLost], event: Event, round_no: int, next_round: int | None, next_starts_at: datetime | None
) -> _RoundLost:
    """A round without a date for someone: which one, and their next date (both 0-based in, 1-based out); worthless
    once the round is over."""
    return kind(
        event_id=event.id,
        round=round_no + 1,
        next_round=None if next_round is None else next_round + 1,
        next_starts_at=None if next_starts_at is None else event.local_iso(next_starts_at),
        expires_at=event.local_iso(round_ends_at(event, round_no)),
    )
