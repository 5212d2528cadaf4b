"""Rescue when a partner never joins (pure): who is stranded, re-pairing the stranded, the no-show rule."""

from datetime import UTC, date, datetime, timedelta

from datemaker.domain.events import Event, EventState
from datemaker.domain.planning import Participant
from datemaker.domain.rescue import (
    RECONFIRM_AFTER,
    RescuePass,
    absent_from,
    looked_again,
    must_reconfirm,
    no_show_streak,
    no_shows,
    rescue_due_at,
    rescue_pairs,
    rescue_pass,
    rescue_window,
    round_running,
    streaks_after,
)

ON = date(2026, 12, 20)


def person(pid, gender, born=1995, **kwargs):
    return Participant(id=pid, gender=gender, birthday=date(born, 6, 1), city="msk", **kwargs)


def test_absent_is_the_one_missing_while_the_other_is_there():
    assert absent_from((1, 2), {1}) == 2
    assert absent_from((1, 2), {2}) == 1
    assert absent_from((1, 2), {1, 2}) is None  # both came
    assert absent_from((1, 2), set()) is None  # nobody is stranded in an empty call
    assert absent_from((1, 2), {3}) is None


def test_two_stranded_compatible_strangers_are_paired():
    pairs, alone = rescue_pairs([person(1, "F"), person(2, "M")], met=[], blocked=[], mode="bipartite", on=ON)
    assert (pairs, alone) == ([(1, 2)], [])


def test_nobody_meets_twice_nor_someone_they_reported_nor_an_incompatible_person():
    stranded = [person(1, "F"), person(2, "M"), person(3, "M"), person(4, "F"), person(5, "F")]
    pairs, alone = rescue_pairs(stranded, met=[(2, 1)], blocked=[(3, 1)], mode="bipartite", on=ON)
    assert 1 in alone and (1, 2) not in pairs and (1, 3) not in pairs
    assert sorted(pairs) == pairs and len(pairs) == 2
    for a, b in pairs:
        assert {stranded[a - 1].gender, stranded[b - 1].gender} == {"F", "M"}


def test_age_ranges_and_seeking_hold_in_a_rescue():
    picky = person(1, "F", 1996, age_range=(25, 32))  # 30
    older = person(2, "M", 1980)  # 46
    pairs, alone = rescue_pairs([picky, older], [], [], "bipartite", ON)
    assert pairs == [] and alone == [1, 2]
    woman_for_women = person(3, "F", seeking=frozenset({"F"}))
    pairs, _ = rescue_pairs([woman_for_women, person(4, "F", seeking=frozenset({"F"})), older], [], [], "open", ON)
    assert pairs == [(3, 4)]


def test_the_most_constrained_choose_first_so_more_people_are_rescued():
    # 1 may meet only 10; 2 may meet 10 or 11: greedy by fewest options seats both.
    stranded = [person(1, "F"), person(2, "F"), person(10, "M"), person(11, "M")]
    pairs, alone = rescue_pairs(stranded, met=[(1, 11)], blocked=[], mode="bipartite", on=ON)
    assert pairs == [(1, 10), (2, 11)] and alone == []


def test_no_show_streak_and_reconfirmation():
    streak = 0
    for came in (False, True, False):
        streak = no_show_streak(streak, came)
    assert streak == 1 and not must_reconfirm(streak)
    streak = no_show_streak(streak, False)
    assert streak == RECONFIRM_AFTER == 2 and must_reconfirm(streak)


def test_everyone_missing_from_the_call_is_a_no_show_even_when_neither_came():
    assert no_shows((1, 2), {1}) == [2]
    assert no_shows((1, 2), set()) == [1, 2]  # neither came: both counted, though nobody is stranded
    assert no_shows((1, 2), {1, 2}) == []


def test_streaks_after_a_date_follow_the_one_rule():
    after = streaks_after({1: 3, 2: 1, 3: 0}, came=[1], missed=[2, 3, 99])
    assert after == {1: 0, 2: 2, 3: 1}  # 99 has no row: left out
    assert after == {u: no_show_streak(s, u == 1) for u, s in {1: 3, 2: 1, 3: 0}.items()}
    assert [u for u in (2, 3) if must_reconfirm(after[u])] == [2]
    assert streaks_after({1: 0}, came=[], missed=[]) == {}


def test_the_absent_partner_is_told_once_per_round_and_when_their_next_date_is():
    from contracts.notifications import DateGivenUp, Priority
    from datemaker.domain.notices import date_given_up
    from datemaker.domain.profiles import UserProfile

    start = datetime(2026, 12, 20, 16, 0, tzinfo=UTC)
    event = Event(id=5, state=EventState.RUNNING, start=start, round_seconds=300, break_seconds=60)
    absent = UserProfile(7, 1007, "Ivan", "M", date(1990, 1, 1), "msk", language="en")
    [notice] = date_given_up(event, 1, absent, 3, start + timedelta(seconds=3 * 360))
    assert isinstance(notice.body, DateGivenUp) and notice.priority == Priority.URGENT
    assert (notice.user_id, notice.chat_id, notice.body.round, notice.body.next_round) == (7, 1007, 2, 4)
    assert notice.body.next_starts_at == event.local_iso(start + timedelta(seconds=1080))
    assert notice.body.expires_at == event.local_iso(start + timedelta(seconds=360 + 300))  # the round's end
    [again] = date_given_up(event, 1, absent, None, None)  # found a second time: the same message id
    assert again.message_id == notice.message_id == "chathub.e5.given-up.r1.u7"
    assert again.body.next_round is None and again.body.next_starts_at is None
    assert date_given_up(event, 2, absent, None, None)[0].message_id != notice.message_id


def test_the_check_is_due_a_quarter_of_the_round_in():
    start = datetime(2026, 12, 20, 16, 0, tzinfo=UTC)
    event = Event(id=1, state=EventState.RUNNING, start=start, round_seconds=300, break_seconds=60)
    assert rescue_due_at(event, 0) == start + timedelta(seconds=75)
    assert rescue_due_at(event, 1) == start + timedelta(seconds=360 + 75)
    assert round_running(event, 1, start + timedelta(seconds=400))
    assert not round_running(event, 0, start + timedelta(seconds=330))  # the break


def test_the_watch_looks_from_a_quarter_to_three_quarters_of_the_round_in():
    start = datetime(2026, 12, 20, 16, 0, tzinfo=UTC)
    event = Event(id=1, state=EventState.RUNNING, start=start, round_seconds=300, break_seconds=60)
    assert rescue_window(event, 0) == (start + timedelta(seconds=75), start + timedelta(seconds=225))
    assert rescue_window(event, 1) == (start + timedelta(seconds=435), start + timedelta(seconds=585))
    assert rescue_window(event, 1)[0] == rescue_due_at(event, 1)


def test_the_first_check_then_one_pass_a_period_until_three_quarters_in():
    start = datetime(2026, 12, 20, 16, 0, tzinfo=UTC)
    event = Event(id=1, state=EventState.RUNNING, start=start, round_seconds=300, break_seconds=60)

    def at(seconds, checked=0, last=0, every=10.0, round_no=0):
        return rescue_pass(event, round_no, checked, last, start + timedelta(seconds=seconds), every)

    assert at(74) is None  # before the quarter
    assert at(75) == RescuePass(0, first=True)
    assert at(100) == RescuePass(2, first=True)  # late, but the first check: it counts the no-shows
    assert at(290) == RescuePass(21, first=True)  # even past three quarters, while the round runs
    assert at(301) is None  # the break: the round is over
    # Checked (at pass 0): one pass a period, each number once, until three quarters in.
    assert at(80, checked=1, last=0) is None  # the same period
    assert at(85, checked=1, last=0) == RescuePass(1, first=False)
    assert at(96, checked=1, last=1) == RescuePass(2, first=False)
    assert at(96, checked=1, last=2) is None  # made already (by this instance or another)
    assert at(150, checked=1, last=2) == RescuePass(7, first=False)  # passes missed are not made up
    assert at(224, checked=1, last=7) == RescuePass(14, first=False)
    assert at(225, checked=1, last=7) is None  # three quarters in: too little left of the round
    # The next round is checked first, whatever the last pass of this one was.
    assert at(435, checked=1, last=14, round_no=1) == RescuePass(0, first=True)
    assert at(445, checked=2, last=0, round_no=1) == RescuePass(1, first=False)
    assert at(445, checked=2, last=0, round_no=0) is None  # an older round is never looked at again


def test_later_passes_look_only_at_dates_nobody_had_come_to_at_the_first_check():
    assert looked_again(first=True, empty_at_check=False)
    assert looked_again(first=True, empty_at_check=True)
    assert looked_again(first=False, empty_at_check=True)
    # Both came (or one of them: that date was given up then): one leaving later is not a partner who never joined.
    assert not looked_again(first=False, empty_at_check=False)


def test_conversation_starters_differ_for_every_date_of_a_person_in_an_event():
    from chathub_bot.i18n import build_i18n
    from chathub_bot.texts import conversation_starters
    from contracts.notifications import CONVERSATION_STARTERS
    from datemaker.domain.notices import starter

    for event_id in (1, 7, 19, 20, 10**12):
        seen = [starter(event_id, r, rescue) for r in range(10) for rescue in (False, True)]
        assert len(set(seen)) == len(seen) == CONVERSATION_STARTERS
        assert all(0 <= s < CONVERSATION_STARTERS for s in seen)
        plain = [starter(event_id, r, False) for r in range(CONVERSATION_STARTERS)]  # a long night, no rescue
        assert len(set(plain)) == CONVERSATION_STARTERS
    i18n = build_i18n()
    for locale in ("en", "ru"):
        with i18n.context(), i18n.use_locale(locale):
            prompts = conversation_starters()
        assert len(prompts) == len(set(prompts)) == CONVERSATION_STARTERS
