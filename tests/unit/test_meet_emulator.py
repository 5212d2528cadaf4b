"""The Meet emulator's pure parts: list filters, meetings by code or link, joining and leaving."""

from datetime import UTC, datetime, timedelta

import pytest

from chathub_sim.meet import MeetEmulator, UnknownMeeting, parse_filter
from chathub_sim.meet.server import MEETING_URI_PREFIX


def test_parse_filter_understands_the_forms_in_use():
    assert parse_filter('space.name = "spaces/abc"', ("space.name",)) == [("space.name", "spaces/abc")]
    assert parse_filter('space.meeting_code="abc-mnop-xyz"', ("space.meeting_code",)) == [
        ("space.meeting_code", "abc-mnop-xyz")
    ]
    assert parse_filter('space.name = "spaces/a" AND end_time IS NULL', ("space.name", "end_time")) == [
        ("space.name", "spaces/a"),
        ("end_time", None),
    ]
    assert parse_filter("  ", ("space.name",)) == []


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        ('space.name = "spaces/a" OR end_time IS NULL', ("space.name", "end_time")),
        ('start_time >= "2024-01-01T00:00:00Z"', ("space.name",)),
        ("space.name = spaces/a", ("space.name",)),
        ("end_time IS NULL", ("space.name",)),
    ],
)
def test_parse_filter_rejects_the_rest(text, allowed):
    with pytest.raises(ValueError):
        parse_filter(text, allowed)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 19, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


async def make_space(emulator: MeetEmulator):
    from google.apps import meet_v2

    return await emulator._create_space(meet_v2.CreateSpaceRequest())


async def test_join_starts_a_conference_and_the_last_leave_ends_it():
    clock = Clock()
    emulator = MeetEmulator(clock=clock)
    space = await make_space(emulator)
    assert space.meeting_uri == MEETING_URI_PREFIX + space.meeting_code
    emulator.join(space.meeting_uri, "Alice")
    clock.tick(1)
    emulator.join(space.meeting_code, "Bob", kind="signedin", user="users/7")
    stored = emulator.find_space(space.name)
    record = stored.active_conference.conference_record
    assert record.startswith("conferenceRecords/")
    assert emulator.stats()["active_conferences"] == 1
    clock.tick(4)
    assert emulator.leave(space.meeting_code, "Alice")
    assert not emulator.leave(space.meeting_code, "Alice")  # already gone
    assert emulator.find_space(space.name).active_conference.conference_record == record
    assert emulator.leave(space.name, "Bob", kind="signedin", user="users/7")
    assert emulator.find_space(space.name).active_conference.conference_record == ""
    assert emulator.conferences[record].end == clock.now
    assert emulator.stats()["conferences_ended"] == 0  # ended by its people, not by the API


async def test_rejoining_keeps_the_earliest_start():
    clock = Clock()
    emulator = MeetEmulator(clock=clock, end_conference_when_empty=False)
    space = await make_space(emulator)
    first = emulator.join(space.meeting_code, "Alice")
    clock.tick(2)
    emulator.leave(space.meeting_code, "Alice")
    clock.tick(1)
    assert emulator.join(space.meeting_code, "Alice") == first
    conference = next(iter(emulator.conferences.values()))
    message = conference.participants[("anonymous", "Alice")].to_message()
    assert message.earliest_start_time == Clock().now
    assert message.latest_end_time is None  # in the call again


def test_unknown_meetings_and_kinds():
    emulator = MeetEmulator()
    with pytest.raises(UnknownMeeting):
        emulator.join("abc-mnop-xyz", "Alice")
    with pytest.raises(UnknownMeeting):
        emulator.leave("https://meet.google.com/abc-mnop-xyz", "Alice")


async def test_join_rejects_an_unknown_kind():
    emulator = MeetEmulator()
    space = await make_space(emulator)
    with pytest.raises(ValueError):
        emulator.join(space.meeting_code, "Alice", kind="robot")


def test_fail_next_validates_the_code():
    emulator = MeetEmulator()
    with pytest.raises(KeyError):
        emulator.fail_next(1, "NOT_A_CODE")
    with pytest.raises(ValueError):
        emulator.fail_next(1, "OK")


async def test_meeting_codes_look_like_googles():
    emulator = MeetEmulator()
    space = await make_space(emulator)
    first, middle, last = space.meeting_code.split("-")
    assert (len(first), len(middle), len(last)) == (3, 4, 3)
    assert space.meeting_code.replace("-", "").isalpha() and space.meeting_code.islower()
    assert space.name.startswith("spaces/") and len(space.name) > len("spaces/")
