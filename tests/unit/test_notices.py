"""What each step says, to whom: pure message composition."""

from datetime import UTC, date, datetime

from contracts.notifications import Priority
from datemaker.domain import notices
from datemaker.domain.events import Event, EventState
from datemaker.domain.notices import PlannedDate
from datemaker.domain.profiles import UserProfile

START = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
EVENT = Event(id=7, start=START, timezone="Europe/Moscow", users_limit=10, state=EventState.RUNNING,
              round_seconds=300, break_seconds=60)  # fmt: skip
TODAY = date(2026, 12, 31)


def person(user_id, name, gender="F", language="en"):
    return UserProfile(user_id=user_id, chat_id=user_id + 1000, name=name, gender=gender,
                       birthday=date(1995, 6, 1), city="msk", language=language, username=f"u{user_id}")  # fmt: skip


PEOPLE = {1: person(1, "Ann"), 2: person(2, "Bob", "M", None), 3: person(3, "Cat"), 4: person(4, "Dan", "M")}


def test_round_start_invites_both_people_of_each_ready_date_and_tells_sit_outs_when_they_play():
    dates = [PlannedDate(11, 1, 1, 2, "https://meet.google.com/aaa-bbbb-ccc"), PlannedDate(12, 1, 3, 4, None)]
    rounds_of = {1: [0, 1], 2: [1], 3: [1, 2], 4: [1], 5: [0, 2]}
    sent = notices.round_start(EVENT, 1, dates, [5], rounds_of, {**PEOPLE, 5: person(5, "Eve")}, TODAY)
    invites = [m for m in sent if m.type == "invite_to_meeting"]
    assert [m.user_id for m in invites] == [1, 2]  # the date without a space waits for it
    ann = invites[0]
    assert ann.body.partner.name == "Bob" and ann.body.partner.age == 31
    assert ann.body.round == 2 and ann.body.starts_at == "2026-12-31T19:06:00+03:00"
    assert ann.body.ends_at == "2026-12-31T19:11:00+03:00"
    assert ann.priority == Priority.URGENT < Priority.ROUND
    assert ann.chat_id == 1001 and ann.headers == {"user_id": 1, "chat_id": 1001, "event_id": 7, "language": "en"}
    assert "language" not in invites[1].headers
    [sit_out] = [m for m in sent if m.type == "send_break_message"]
    assert sit_out.user_id == 5 and sit_out.body.sitting_out
    assert (sit_out.body.next_round, sit_out.body.next_round_starts_at) == (3, "2026-12-31T19:12:00+03:00")


def test_message_ids_are_deterministic_and_distinct_per_round_and_person():
    dates = [PlannedDate(11, 0, 1, 2, "https://meet.google.com/x")]
    first = notices.round_start(EVENT, 0, dates, [], {}, PEOPLE, TODAY)
    again = notices.round_start(EVENT, 0, dates, [], {}, PEOPLE, TODAY)
    later = notices.round_start(EVENT, 1, dates, [], {}, PEOPLE, TODAY)
    assert [m.message_id for m in first] == [m.message_id for m in again]
    assert len({m.message_id for m in first + later}) == 4
    assert first[0].message_id == "chathub.e7.invite.r0.u1"


def test_round_end_asks_both_to_rate_each_other_and_says_when_they_play_next():
    sent = notices.round_end(EVENT, 0, [PlannedDate(11, 0, 1, 2, "u", True)], {1: [0, 2], 2: [0]}, PEOPLE, TODAY)
    assert [(m.user_id, m.type) for m in sent] == [
        (1, "send_break_message"), (1, "send_partner_rating_request"),
        (2, "send_break_message"), (2, "send_partner_rating_request"),
    ]  # fmt: skip
    assert sent[0].body.next_round == 3 and sent[2].body.next_round is None
    assert sent[1].body.partner.user_id == 2 and sent[3].body.partner.user_id == 1


def test_round_end_without_a_link_says_when_the_next_round_starts_and_asks_no_rating():
    never_linked = PlannedDate(12, 0, 1, 2, None, invited=False, delayed=True)
    sent = notices.round_end(EVENT, 0, [never_linked], {1: [0, 2], 2: [0]}, PEOPLE, TODAY)
    assert [(m.user_id, m.type) for m in sent] == [(1, "send_break_message"), (2, "send_break_message")]
    assert sent[0].body.next_round == 3


def test_confirmation_request_is_asked_afresh_after_a_new_registration():
    first = notices.confirmation_requests(EVENT, [(PEOPLE[1], START)])
    again = notices.confirmation_requests(EVENT, [(PEOPLE[1], START.replace(minute=5))])
    assert first[0].message_id != again[0].message_id
    assert first[0].body.deadline == "2026-12-31T18:00:00+03:00"


def test_finale_gives_each_person_their_matches_with_contacts():
    sent = notices.finale(EVENT, {1: 2, 2: 1, 3: 1}, {1: [PEOPLE[2]], 2: [PEOPLE[1]]}, PEOPLE)
    matches = {m.user_id: m.body.matches for m in sent if m.type == "send_match_message"}
    assert [(c.user_id, c.username) for c in matches[1]] == [(2, "u2")]
    assert matches[3] == []
    finals = [m for m in sent if m.type == "send_final_dating_message"]
    assert {(m.user_id, m.body.dates) for m in finals} == {(1, 2), (2, 1), (3, 1)}


def test_a_ban_and_its_lifting_tell_the_person_each_time():
    ann = PEOPLE[1]
    first = notices.banned(ann, [7], START)
    [unbanned] = notices.unbanned(ann, START.replace(minute=5))
    [again] = notices.banned(ann, [], START.replace(minute=10))
    assert [m.type for m in first] == ["user_banned"] and unbanned.type == "user_unbanned"
    assert (unbanned.event_id, unbanned.user_id, unbanned.chat_id, unbanned.language) == (0, 1, 1001, "en")
    ids = {first[0].message_id, unbanned.message_id, again.message_id}
    assert len(ids) == 3  # banned again after the ban was lifted: told again, not taken for a repeat
    assert notices.banned(ann, [7], START)[0].message_id == first[0].message_id  # the same ban: the same message
