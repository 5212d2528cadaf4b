"""Schedules, pure: a rule's occurrences over a table of dates (DST changes, time zones), the horizon, the
demand rules, offers and the checks of a new schedule."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from contracts.errors import ErrorCode
from datemaker.domain.errors import DomainError
from datemaker.domain.event_settings import InvalidEventSettings
from datemaker.domain.events import Event, EventState
from datemaker.domain.schedules import (
    Demand,
    Rule,
    Schedule,
    ScheduleState,
    SeatOffer,
    check_offer,
    check_transition,
    describe_days,
    extra_slot,
    horizon_slots,
    missing_slots,
    occurrences,
    parse_days,
    parse_time,
    schedule_problems,
    seats_to_offer,
    template,
    underfilled,
    validate,
    wall_clock,
    wants_extra,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


OCCURRENCES = {
    # rule (days, local time, zone), after, expected starts in UTC
    "two days a week, no DST (Moscow)": (
        ("mon,fri", "19:00", "Europe/Moscow"),
        "2026-01-07T12:00+03:00",
        ["2026-01-09 16:00", "2026-01-12 16:00", "2026-01-16 16:00"],
    ),
    "an occurrence exactly at `after` is not after it": (
        ("mon", "19:00", "Europe/Moscow"),
        "2026-01-12T16:00+00:00",
        ["2026-01-19 16:00"],
    ),
    "Berlin: 02:30 does not exist on 31 March 2024, moved forward by the gap to 03:30 CEST": (
        ("sun", "02:30", "Europe/Berlin"),
        "2024-03-24T12:00+00:00",
        ["2024-03-31 01:30", "2024-04-07 00:30"],
    ),
    "Berlin: 02:30 happens twice on 27 October 2024, the first (CEST) is meant; then CET": (
        ("sun", "02:30", "Europe/Berlin"),
        "2024-10-20T12:00+00:00",
        ["2024-10-27 00:30", "2024-11-03 01:30"],
    ),
    "New York: 02:30 does not exist on 10 March 2024, 03:30 EDT instead": (
        ("sun", "02:30", "America/New_York"),
        "2024-03-03T12:00+00:00",
        ["2024-03-10 07:30", "2024-03-17 06:30"],
    ),
    "New York: 01:30 happens twice on 3 November 2024, the first (EDT) is meant; then EST": (
        ("sun", "01:30", "America/New_York"),
        "2024-10-27T12:00+00:00",
        ["2024-11-03 05:30", "2024-11-10 06:30"],
    ),
    "London, daily: the local time stays 19:00 across the change, UTC moves": (
        ("daily", "19:00", "Europe/London"),
        "2024-03-30T12:00+00:00",
        ["2024-03-30 19:00", "2024-03-31 18:00"],
    ),
    "Samoa skipped 30 December 2011: that day and the next fall on one instant, made once": (
        ("daily", "19:00", "Pacific/Apia"),
        "2011-12-29T00:00+00:00",
        ["2011-12-29 05:00", "2011-12-30 05:00", "2011-12-31 05:00", "2012-01-01 05:00"],
    ),
    "Kathmandu, a quarter-hour offset (+05:45)": (
        ("daily", "09:00", "Asia/Kathmandu"),
        "2024-01-01T00:00+00:00",
        ["2024-01-01 03:15"],
    ),
    "Lord Howe's half-hour DST: 02:15 does not exist on 6 October 2024, 02:45 instead": (
        ("sun", "02:15", "Australia/Lord_Howe"),
        "2024-10-01T00:00+00:00",
        ["2024-10-05 15:45"],
    ),
    "a day of the week is the local one (Tokyo's Monday 08:00 is Sunday in UTC)": (
        ("mon", "08:00", "Asia/Tokyo"),
        "2026-03-01T00:00+00:00",
        ["2026-03-01 23:00"],
    ),
    "after given in another zone: same instant": (
        ("fri", "19:00", "America/New_York"),
        "2026-05-08T02:00+03:00",
        ["2026-05-08 23:00"],
    ),
}


@pytest.mark.parametrize(("rule", "after", "expected"), OCCURRENCES.values(), ids=OCCURRENCES.keys())
def test_occurrences(rule, after, expected):
    days, clock, zone = rule
    starts = occurrences(Rule(parse_days(days), parse_time(clock), zone), at(after), len(expected))
    assert [f"{s.astimezone(UTC):%Y-%m-%d %H:%M}" for s in starts] == expected
    assert all(s.tzinfo is not None for s in starts)


def test_a_year_of_weekly_starts_keeps_the_local_time_across_both_changes():
    rule = Rule(parse_days("wed"), time(19, 0), "Europe/Berlin")
    starts = occurrences(rule, utc("2024-01-01 00:00"), 52)
    local = [s.astimezone(rule_zone("Europe/Berlin")) for s in starts]
    assert {f"{s:%a %H:%M}" for s in local} == {"Wed 19:00"}
    assert [(b - a).days for a, b in itertools.pairwise(local)] == [7] * 51
    assert {s.utcoffset() for s in local} == {timedelta(hours=1), timedelta(hours=2)}


def rule_zone(name):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def test_wall_clock_of_a_gap_and_of_a_fold():
    assert wall_clock(at("2024-03-31").date(), time(2, 30), "Europe/Berlin") == utc("2024-03-31 01:30")
    assert wall_clock(at("2024-10-27").date(), time(2, 30), "Europe/Berlin") == utc("2024-10-27 00:30")


@pytest.mark.parametrize(
    ("text", "days"),
    [("mon,fri", {1, 5}), ("Mon, FRI", {1, 5}), ("sun sat", {6, 7}), ("daily", set(range(1, 8))), ("wed", {3})],
)
def test_parse_days(text, days):
    assert parse_days(text) == days


@pytest.mark.parametrize("text", ["", ",", "monday", "mon,xyz", "daily,mon", "1,2", "пн"])
def test_parse_days_refuses_what_is_not_a_day(text):
    with pytest.raises(InvalidEventSettings, match="mon,tue,wed,thu,fri,sat,sun"):
        parse_days(text)


@pytest.mark.parametrize(("text", "value"), [("19:00", time(19)), ("7:05", time(7, 5)), (" 00:00 ", time(0))])
def test_parse_time(text, value):
    assert parse_time(text) == value


@pytest.mark.parametrize("text", ["24:00", "19:60", "19", "7pm", "19:00:00", "-1:00", "1" * 400 + ":00"])
def test_parse_time_refuses_what_is_not_a_time_of_day(text):
    with pytest.raises(InvalidEventSettings, match="not a time of day") as info:
        parse_time(text)
    assert len(info.value.message) < 100


def test_describe_days():
    assert describe_days({1, 5}) == "Mon, Fri"
    assert describe_days(set(range(1, 8))) == "daily"


# --- the horizon ------------------------------------------------------------------------------------------

NOW = utc("2026-03-02 09:00")  # a Monday
WEEKLY = Schedule(
    id=7,
    rule=Rule(parse_days("mon,thu"), time(19, 0), "Europe/Moscow"),
    template=template("Europe/Moscow", users_limit=4),
    horizon=3,
)


def test_the_horizon_is_the_next_occurrences_still_taking_registrations():
    assert horizon_slots(WEEKLY, NOW) == [utc("2026-03-02 16:00"), utc("2026-03-05 16:00"), utc("2026-03-09 16:00")]
    # An hour before tonight's start registration closes: tonight is no longer made, the horizon moves on.
    late = utc("2026-03-02 15:30")
    assert horizon_slots(WEEKLY, late)[0] == utc("2026-03-05 16:00")


def test_missing_slots_leave_made_and_cancelled_slots_alone_and_nothing_for_a_paused_schedule():
    slots = horizon_slots(WEEKLY, NOW)
    assert missing_slots(WEEKLY, NOW, set()) == slots
    assert missing_slots(WEEKLY, NOW, {slots[1]}) == [slots[0], slots[2]]
    assert missing_slots(WEEKLY, NOW, set(slots)) == []
    for state in (ScheduleState.PAUSED, ScheduleState.ENDED):
        assert missing_slots(replace(WEEKLY, state=state), NOW, set()) == []


def test_event_settings_of_a_slot():
    event = WEEKLY.event_at(utc("2026-03-02 16:00"))
    assert (event.start, event.timezone, event.users_limit) == (utc("2026-03-02 16:00"), "Europe/Moscow", 4)


# --- demand --------------------------------------------------------------------------------------------


def event(**fields) -> Event:
    values = {"id": 11, "start": utc("2026-03-05 16:00"), "timezone": "Europe/Moscow", "state": EventState.NOT_STARTED}
    values.update(fields)
    return Event(**values)


EXTRA = replace(WEEKLY, demand=Demand(extra_when_waitlist=3))


@pytest.mark.parametrize(
    ("case", "schedule", "full", "has_extra", "now", "wanted"),
    [
        ("the waitlist reached the threshold", EXTRA, event(waitlisted_count=3), False, NOW, True),
        ("beyond it", EXTRA, event(waitlisted_count=4), False, NOW, True),
        ("below it", EXTRA, event(waitlisted_count=2), False, NOW, False),
        ("the rule is off", WEEKLY, event(waitlisted_count=4), False, NOW, False),
        ("it has its extra night already", EXTRA, event(waitlisted_count=4), True, NOW, False),
        ("paused", replace(EXTRA, state=ScheduleState.PAUSED), event(waitlisted_count=4), False, NOW, False),
        ("registration closed", EXTRA, event(waitlisted_count=4), False, utc("2026-03-05 15:00"), False),
        ("planned", EXTRA, event(waitlisted_count=4, state=EventState.READY), False, NOW, False),
        ("cancelled", EXTRA, event(waitlisted_count=4, state=EventState.CANCELLED), False, NOW, False),
    ],
)
def test_an_extra_night_is_wanted(case, schedule, full, has_extra, now, wanted):
    assert wants_extra(schedule, full, has_extra, now) is wanted, case


def test_the_extra_night_takes_the_next_free_slot():
    full = event(start=utc("2026-03-05 16:00"))
    taken = {utc("2026-03-02 16:00"), utc("2026-03-05 16:00"), utc("2026-03-09 16:00")}
    assert extra_slot(EXTRA, full, NOW, taken) == utc("2026-03-12 16:00")
    assert extra_slot(EXTRA, full, NOW, set()) == utc("2026-03-09 16:00")


def test_the_extra_night_at_an_offset_keeps_the_local_time_across_a_dst_change():
    berlin = replace(
        EXTRA,
        rule=Rule(parse_days("sat"), time(19, 0), "Europe/Berlin"),
        demand=Demand(extra_when_waitlist=3, extra_offset_seconds=86400),
    )
    full = event(start=utc("2026-03-28 18:00"), timezone="Europe/Berlin")  # Saturday 19:00 CET
    assert extra_slot(berlin, full, utc("2026-03-20 12:00"), set()) == utc("2026-03-29 17:00")  # Sunday 19:00 CEST


def test_an_extra_night_at_an_offset_that_is_taken_or_too_late_goes_to_the_next_free_slot():
    offset = replace(EXTRA, demand=Demand(extra_when_waitlist=3, extra_offset_seconds=3 * 86400))
    full = event(start=utc("2026-03-05 16:00"))  # Thursday; +3 days is Sunday 19:00, not a slot of the rule
    assert extra_slot(offset, full, NOW, set()) == utc("2026-03-08 16:00")
    taken = {utc("2026-03-08 16:00"), utc("2026-03-09 16:00")}
    assert extra_slot(offset, full, NOW, taken) == utc("2026-03-12 16:00")
    soon = replace(offset, demand=Demand(extra_when_waitlist=3, extra_offset_seconds=1800))
    assert extra_slot(soon, full, utc("2026-03-05 15:10"), set()) == utc("2026-03-05 16:30")
    assert extra_slot(soon, full, utc("2026-03-05 15:40"), set()) == utc("2026-03-09 16:00")  # 16:30 would be closed


def test_seats_to_offer_are_the_free_ones_while_registration_is_open():
    extra = event(users_limit=10, registered_count=3, held_seats=4)
    assert seats_to_offer(extra, NOW) == 3
    assert seats_to_offer(replace(extra, registered_count=6), NOW) == 0
    assert seats_to_offer(extra, utc("2026-03-05 15:00")) == 0
    assert seats_to_offer(replace(extra, state=EventState.CANCELLED), NOW) == 0


def test_held_seats_are_not_free_to_anyone_else():
    extra = event(users_limit=4, registered_count=1, held_seats=3)
    assert extra.spots_left == 0
    from datemaker.domain.registrations import placement

    assert placement(extra) == "waitlisted"


ALERT = replace(WEEKLY, demand=Demand(alert_below_percent=50, alert_lead_seconds=86400))


@pytest.mark.parametrize(
    ("case", "schedule", "target", "now", "told"),
    [
        # The event starts Thursday 16:00 UTC: confirmations open Wednesday 16:00, the alert a day before that.
        ("too early", ALERT, event(users_limit=10, registered_count=2), utc("2026-03-03 15:59"), False),
        ("from the alert's lead", ALERT, event(users_limit=10, registered_count=2), utc("2026-03-03 16:00"), True),
        ("4 of 10 is under 50 %", ALERT, event(users_limit=10, registered_count=4), utc("2026-03-04 12:00"), True),
        ("5 of 10 is not", ALERT, event(users_limit=10, registered_count=5), utc("2026-03-04 12:00"), False),
        (
            "seats held for offers count",
            ALERT,
            event(users_limit=10, registered_count=2, held_seats=3),
            utc("2026-03-04 12:00"),
            False,
        ),
        ("registration closed", ALERT, event(users_limit=10), utc("2026-03-05 15:00"), False),
        ("the rule is off", replace(ALERT, demand=Demand(alert_below_percent=None)), event(), NOW, False),
        ("paused", replace(ALERT, state=ScheduleState.PAUSED), event(users_limit=10), utc("2026-03-04 12:00"), False),
    ],
)
def test_organizers_are_told_about_an_event_far_from_full_in_time_to_act(case, schedule, target, now, told):
    assert underfilled(schedule, target, now) is told, case


def test_the_default_demand_tells_organizers_under_half_full_two_days_before_the_start():
    assert Demand() == Demand(extra_when_waitlist=None, alert_below_percent=50, alert_lead_seconds=86400)


# --- a new schedule's checks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"horizon": 0}, "horizon must be between 1 and 52 events, not 0"),
        ({"horizon": 10**12}, "horizon must be between 1 and 52"),
        ({"demand": Demand(extra_when_waitlist=0)}, "waitlist threshold must be between 1 and the capacity (4"),
        ({"demand": Demand(extra_when_waitlist=5)}, "waitlist threshold must be between 1 and the capacity (4"),
        ({"demand": Demand(extra_when_waitlist=1, extra_offset_seconds=-60)}, "offset must be positive"),
        ({"demand": Demand(extra_when_waitlist=1, extra_offset_seconds=10**9)}, "at most 30 days"),
        ({"demand": Demand(alert_below_percent=0)}, "alert percentage must be between 1 and 100, not 0"),
        ({"demand": Demand(alert_below_percent=101)}, "between 1 and 100, not 101"),
        ({"demand": Demand(alert_lead_seconds=-1)}, "alert's lead must be between 0 and 30 days"),
        ({"template": template("Europe/Moscow", users_limit=0)}, "capacity must be positive, not 0"),
        ({"template": template("Europe/Moscow", users_limit=10**20)}, "capacity is too large"),
        ({"template": template("Europe/Moscow", min_age=17)}, "minimum age must be between 18 and 120, not 17"),
        ({"template": template("Europe/Moscow", min_age=40, max_age=30)}, "minimum age (40) is above the maximum"),
        ({"rule": Rule(frozenset({1}), time(19), "Mars/Olympus")}, "unknown timezone 'Mars/Olympus'"),
        ({"rule": Rule(frozenset(), time(19), "Europe/Moscow")}, "needs days of the week"),
    ],
)
def test_a_schedule_with_bad_settings_is_refused_naming_the_problem(change, message):
    schedule = replace(WEEKLY, **change)
    assert any(message in problem for problem in schedule_problems(schedule, NOW)), schedule_problems(schedule, NOW)
    with pytest.raises(InvalidEventSettings):
        validate(schedule, NOW)


def test_a_good_schedule_passes():
    validate(replace(WEEKLY, demand=Demand(extra_when_waitlist=4, extra_offset_seconds=86400)), NOW)
    validate(replace(WEEKLY, template=template("Europe/Moscow", min_age=25, max_age=35)), NOW)


@pytest.mark.parametrize(
    ("current", "target", "message"),
    [
        (ScheduleState.PAUSED, ScheduleState.PAUSED, "schedule 7 is paused already"),
        (ScheduleState.ACTIVE, ScheduleState.ACTIVE, "schedule 7 is active already"),
        (ScheduleState.ENDED, ScheduleState.ACTIVE, "has ended: an ended schedule stays ended"),
        (ScheduleState.ENDED, ScheduleState.PAUSED, "has ended"),
    ],
)
def test_schedule_transitions(current, target, message):
    with pytest.raises(DomainError, match=message):
        check_transition(7, current, target)
    for allowed in [(ScheduleState.ACTIVE, ScheduleState.PAUSED), (ScheduleState.PAUSED, ScheduleState.ACTIVE)]:
        check_transition(7, *allowed)
    check_transition(7, ScheduleState.PAUSED, ScheduleState.ENDED)


# --- offers ---------------------------------------------------------------------------------------------------

OFFER = SeatOffer(event_id=11, user_id=5, from_event_id=10, offered_at=NOW)


@pytest.mark.parametrize(
    ("case", "offer", "extra", "now", "code", "fragment"),
    [
        ("no offer", None, event(), NOW, ErrorCode.OFFER_NOT_FOUND, "no offer"),
        ("no such event", OFFER, None, NOW, ErrorCode.OFFER_NOT_FOUND, "no offer"),
        ("accepted", replace(OFFER, accepted_at=NOW), event(), NOW, ErrorCode.OFFER_ALREADY_ACCEPTED, "already"),
        ("withdrawn", replace(OFFER, withdrawn_at=NOW), event(), NOW, ErrorCode.OFFER_EXPIRED, "waiting for a seat"),
        ("closed", OFFER, event(), utc("2026-03-05 15:00"), ErrorCode.OFFER_EXPIRED, "closed at 2026-03-05T18:00"),
        ("cancelled", OFFER, event(state=EventState.CANCELLED), NOW, ErrorCode.OFFER_EXPIRED, "takes no registr"),
    ],
)
def test_an_offer_that_cannot_be_taken_says_why(case, offer, extra, now, code, fragment):
    with pytest.raises(DomainError) as info:
        check_offer(offer, extra, now)
    assert info.value.code == code, case
    assert fragment in info.value.message, info.value.message


def test_an_offer_standing_and_open_is_taken():
    assert check_offer(OFFER, event(), NOW) is OFFER
