"""What each step of the timeline tells whom: the commands to the bot (PROTOCOL.md section 5), pure.

Every message has a key unique within its event and recipient, so its message id is deterministic and
a step that runs twice cannot send anything twice. Round numbers in messages count from 1, as people
do; the plan counts from 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from contracts import notifications as n
from datemaker.domain.events import Event
from datemaker.domain.profiles import UserProfile, age_on
from datemaker.domain.timeline import round_ends_at, round_starts_at

LINK_PRIORITY = 0
"""Meeting links go out before anything else."""
ROUND_PRIORITY = 2
NOTICE_PRIORITY = 5


@dataclass(frozen=True)
class Outgoing:
    """One command to the bot for one person."""

    event_id: int
    user_id: int
    chat_id: int
    language: str | None
    type: str
    body: n.Notification
    key: str
    priority: int = NOTICE_PRIORITY

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

    def partner_of(self, user_id: int) -> int:
        return self.user_b if user_id == self.user_a else self.user_a

    @property
    def people(self) -> tuple[int, int]:
        return (self.user_a, self.user_b)


def _to(event: Event, person: UserProfile, type_: str, body: n.Notification, key: str, priority: int) -> Outgoing:
    return Outgoing(event.id, person.user_id, person.chat_id, person.language, type_, body, key, priority)


def partner_card(profile: UserProfile, today: date) -> n.PartnerCard:
    return n.PartnerCard(
        user_id=profile.user_id,
        name=profile.name,
        age=age_on(profile.birthday, today),
        city=profile.city,
        bio=profile.bio,
        photo_file_id=profile.photo_file_id,
    )


def confirmation_requests(event: Event, people: Iterable[tuple[UserProfile, datetime]]) -> list[Outgoing]:
    """Ask each (person, registered_at) to confirm; a fresh registration is asked afresh."""
    body = n.ConfirmRegistrationRequest(
        event_id=event.id,
        starts_at=event.local_iso(event.start),
        timezone=event.timezone,
        deadline=event.local_iso(event.confirm_deadline),
    )
    return [
        _to(event, person, "confirm_registration", body, f"confirm.{registered_at.timestamp():.6f}", NOTICE_PRIORITY)
        for person, registered_at in people
    ]


def plan_outcome(
    event: Event, seated: Mapping[int, int], not_taking_part: Mapping[int, str], people: Mapping[int, UserProfile]
) -> list[Outgoing]:
    """Tell each seated person (user id → their number of dates) and each one left out (user id → reason)."""
    starts_at = event.local_iso(event.start)
    messages = [
        _to(
            event,
            people[user_id],
            "send_user_will_take_part_in_event",
            n.SendUserWillTakePartInEvent(event_id=event.id, starts_at=starts_at, rounds=dates),
            "take-part",
            NOTICE_PRIORITY,
        )
        for user_id, dates in seated.items()
    ]
    messages += [
        _to(
            event,
            people[user_id],
            "send_user_will_not_take_part_in_event",
            n.SendUserWillNotTakePartInEvent(event_id=event.id, reason=reason),
            "not-take-part",
            NOTICE_PRIORITY,
        )
        for user_id, reason in not_taking_part.items()
    ]
    return messages


def rules(event: Event, rounds: int, people: Iterable[UserProfile]) -> list[Outgoing]:
    body = n.SendRules(
        event_id=event.id,
        starts_at=event.local_iso(event.start),
        rounds=rounds,
        round_seconds=event.round_seconds,
        break_seconds=event.break_seconds,
    )
    return [_to(event, person, "send_rules", body, "rules", NOTICE_PRIORITY) for person in people]


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


def round_start(
    event: Event,
    round_no: int,
    dates: Sequence[PlannedDate],
    sitting_out: Iterable[int],
    rounds_of: Mapping[int, Sequence[int]],
    people: Mapping[int, UserProfile],
    today: date,
) -> list[Outgoing]:
    """Each person of a ready date gets their link and partner; each person sitting out, when they play next."""
    starts_at = event.local_iso(round_starts_at(event, round_no))
    ends_at = event.local_iso(round_ends_at(event, round_no))
    messages = [
        _to(
            event,
            people[user_id],
            "invite_to_meeting",
            n.InviteToMeeting(
                event_id=event.id,
                round=round_no + 1,
                url=date_.meeting_uri,
                starts_at=starts_at,
                ends_at=ends_at,
                partner=partner_card(people[date_.partner_of(user_id)], today),
            ),
            f"invite.r{round_no}",
            LINK_PRIORITY,
        )
        for date_ in dates
        if date_.meeting_uri
        for user_id in date_.people
    ]
    for user_id in sitting_out:
        body = _break(event, round_no, user_id, rounds_of, sitting_out=True)
        messages.append(_to(event, people[user_id], "send_break_message", body, f"sit-out.r{round_no}", ROUND_PRIORITY))
    return messages


def round_end(
    event: Event,
    round_no: int,
    dates: Sequence[PlannedDate],
    rounds_of: Mapping[int, Sequence[int]],
    people: Mapping[int, UserProfile],
    today: date,
) -> list[Outgoing]:
    """After a round: a break message (with the person's next round) and a request to rate the partner."""
    messages = []
    for date_ in dates:
        for user_id in date_.people:
            person = people[user_id]
            breather = _break(event, round_no, user_id, rounds_of, sitting_out=False)
            rating = n.SendPartnerRatingRequest(
                event_id=event.id, round=round_no + 1, partner=partner_card(people[date_.partner_of(user_id)], today)
            )
            messages.append(_to(event, person, "send_break_message", breather, f"break.r{round_no}", ROUND_PRIORITY))
            messages.append(
                _to(event, person, "send_partner_rating_request", rating, f"rate.r{round_no}", ROUND_PRIORITY)
            )
    return messages


def finale(
    event: Event,
    dates_of: Mapping[int, int],
    matches_of: Mapping[int, Sequence[UserProfile]],
    people: Mapping[int, UserProfile],
) -> list[Outgoing]:
    """The final message to everyone who had dates, then their mutual matches (maybe none) with contacts."""
    messages = []
    for user_id, dates in dates_of.items():
        person = people[user_id]
        messages.append(
            _to(
                event,
                person,
                "send_final_dating_message",
                n.SendFinalDatingMessage(event_id=event.id, dates=dates),
                "final",
                NOTICE_PRIORITY,
            )
        )
        contacts = [
            n.MatchContact(user_id=m.user_id, name=m.name, username=m.username) for m in matches_of.get(user_id, ())
        ]
        messages.append(
            _to(
                event,
                person,
                "send_match_message",
                n.SendMatchMessage(event_id=event.id, matches=contacts),
                "matches",
                NOTICE_PRIORITY,
            )
        )
    return messages


def cancellation(event: Event, people: Iterable[UserProfile]) -> list[Outgoing]:
    body = n.EventCancelled(event_id=event.id, starts_at=event.local_iso(event.start))
    return [_to(event, person, "event_cancelled", body, "cancelled", NOTICE_PRIORITY) for person in people]
