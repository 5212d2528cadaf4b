"""Attendance from conference-record participants: one row per person, over all of a space's calls."""

from datetime import UTC, datetime, timedelta

from google.apps import meet_v2

from datemaker.adapters.meet.client import merge_attendance, participant_identity
from datemaker.service.ports import Attendance

T0 = datetime(2026, 5, 1, 19, 0, tzinfo=UTC)
SPACE = "spaces/abc"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def anonymous(name: str, start: float, end: float | None) -> meet_v2.Participant:
    p = meet_v2.Participant(anonymous_user=meet_v2.AnonymousUser(display_name=name), earliest_start_time=at(start))
    if end is not None:
        p.latest_end_time = at(end)
    return p


def signed_in(user: str, name: str, start: float, end: float | None) -> meet_v2.Participant:
    p = meet_v2.Participant(
        signedin_user=meet_v2.SignedinUser(user=user, display_name=name), earliest_start_time=at(start)
    )
    if end is not None:
        p.latest_end_time = at(end)
    return p


def phone(name: str, start: float, end: float | None) -> meet_v2.Participant:
    p = meet_v2.Participant(phone_user=meet_v2.PhoneUser(display_name=name), earliest_start_time=at(start))
    if end is not None:
        p.latest_end_time = at(end)
    return p


def test_each_kind_of_participant_gives_its_display_name():
    rows = merge_attendance(
        SPACE, [phone("+7 *** 12", 2, 3), signed_in("users/1", "Bob", 1, 4), anonymous("Alice", 0, 5)]
    )
    assert rows == [
        Attendance(SPACE, "Alice", at(0), at(5)),
        Attendance(SPACE, "Bob", at(1), at(4)),
        Attendance(SPACE, "+7 *** 12", at(2), at(3)),
    ]
    assert all(type(r.joined_at) is datetime and r.joined_at.tzinfo is not None for r in rows)


def test_the_same_person_in_two_conferences_is_merged():
    rows = merge_attendance(SPACE, [anonymous("Alice", 10, 12), anonymous("Alice", 0, 5)])
    assert rows == [Attendance(SPACE, "Alice", at(0), at(12))]


def test_still_in_a_call_means_no_leaving_time():
    rows = merge_attendance(SPACE, [anonymous("Alice", 0, 5), anonymous("Alice", 7, None)])
    assert rows == [Attendance(SPACE, "Alice", at(0), None)]
    rows = merge_attendance(SPACE, [anonymous("Alice", 7, None), anonymous("Alice", 0, 5)])
    assert rows == [Attendance(SPACE, "Alice", at(0), None)]


def test_signed_in_users_are_told_apart_by_id_not_name():
    rows = merge_attendance(SPACE, [signed_in("users/1", "Sam", 0, 1), signed_in("users/2", "Sam", 2, 3)])
    assert [(r.display_name, r.joined_at) for r in rows] == [("Sam", at(0)), ("Sam", at(2))]


def test_an_anonymous_and_a_signed_in_namesake_are_two_people():
    rows = merge_attendance(SPACE, [anonymous("Sam", 0, 1), signed_in("users/9", "Sam", 0.5, 2)])
    assert len(rows) == 2


def test_a_participant_without_a_start_time_is_skipped():
    assert merge_attendance(SPACE, [meet_v2.Participant(anonymous_user=meet_v2.AnonymousUser(display_name="X"))]) == []


def test_identity_keys():
    assert participant_identity(signed_in("users/1", "Bob", 0, 1)) == (("signedin", "users/1"), "Bob")
    assert participant_identity(anonymous("Alice", 0, 1)) == (("anonymous", "Alice"), "Alice")
    assert participant_identity(phone("+1", 0, 1)) == (("phone", "+1"), "+1")
