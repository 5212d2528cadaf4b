"""The demo's checks over fabricated facts: a correct event passes every check, and each way of breaking one
makes exactly that check fail."""

from __future__ import annotations

import dataclasses

import pytest

from chathub_sim.demo import checks
from chathub_sim.demo.facts import EventFacts, Invite, PersonFacts, Rating, RecordedDate

START, ROUND, BREAK = 1000.0, 10, 5
R2 = START + ROUND + BREAK
FINISHED = R2 + ROUND + BREAK
LINK = {(1, 1): "https://meet.google.com/aaa-aaaa-aaa", (1, 2): "https://meet.google.com/bbb-bbbb-bbb"}
LINK |= {(2, 1): "https://meet.google.com/ccc-cccc-ccc", (2, 2): "https://meet.google.com/ddd-dddd-ddd"}
# round 1: Ann & Carl, Bea & Dan; round 2: Ann & Dan, Bea & Carl. Eve never confirms.
PAIRS = {1: [(1, 3), (2, 4)], 2: [(1, 4), (2, 3)]}


def person(user_id: int, name: str, gender: str, **fields) -> PersonFacts:
    base = PersonFacts(user_id, name, gender, "en", confirms=True)
    done = dict(profile_saved=True, registered=True, asked_to_confirm=True, confirmed=True, taking_part=True)
    return dataclasses.replace(base, **{**done, **fields})


def correct_event() -> tuple[EventFacts, dict[int, PersonFacts]]:
    dates = []
    people = {
        1: person(1, "Ann", "F"),
        2: person(2, "Bea", "F"),
        3: person(3, "Carl", "M"),
        4: person(4, "Dan", "M"),
        5: person(5, "Eve", "F", confirms=False, confirmed=False, taking_part=False, not_taking_part=True),
    }
    for round_no, pairs in PAIRS.items():
        starts = START + (round_no - 1) * (ROUND + BREAK)
        for index, (a, b) in enumerate(pairs, start=1):
            url = LINK[(index, round_no)]
            dates.append(RecordedDate(round_no, (a, b), url))
            for user in (a, b):
                people[user].invites.append(Invite(round_no, url, starts - 3.0))
                people[user].joined_rounds.append(round_no)
    likes = {(1, 3): "like", (3, 1): "like", (2, 4): "like", (4, 2): "dislike"}
    likes |= {(1, 4): "dislike", (4, 1): "like", (2, 3): "like", (3, 2): "like"}
    for (rater, partner), verdict in likes.items():
        people[rater].ratings.append(Rating(partner, verdict, True, START + 20))
    matches = {1: (3,), 2: (3,), 3: (1, 2), 4: ()}
    for user, found in matches.items():
        people[user].final = True
        people[user].matches = found
    event = EventFacts(1, START, ROUND, BREAK, 2, "FINISHED", FINISHED, tuple(dates))
    return event, people


def failing(results: list) -> list[str]:
    return [r.name for r in results if not r.passed]


def test_a_correct_event_passes_every_check():
    event, people = correct_event()
    results = checks.run_checks(event, list(people.values()))
    assert failing(results) == []
    assert len(results) == len(checks.CHECKS)
    assert all(r.detail for r in results)


def only_failure(event, people) -> str:
    names = failing(checks.run_checks(event, list(people.values())))
    assert len(names) == 1, names
    return names[0]


def test_someone_stuck_in_the_dialog():
    event, people = correct_event()
    people[5].registered = False
    people[5].problems.append("no answer to /date in 30 s")
    assert only_failure(event, people) == "everyone got through the bot's dialogs"
    detail = checks.everyone_through_the_bot(event, list(people.values())).detail
    assert "Eve" in detail and "no answer to /date" in detail


def test_someone_who_meant_to_confirm_but_could_not():
    event, people = correct_event()
    people[5].confirms = True
    assert only_failure(event, people) == "everyone got through the bot's dialogs"


@pytest.mark.parametrize(
    "change",
    [
        {"taking_part": False},  # told nothing at all
        {"not_taking_part": True},  # told both
    ],
)
def test_a_confirmed_person_not_told(change):
    event, people = correct_event()
    for key, value in change.items():
        setattr(people[2], key, value)
    result = checks.confirmed_seated_or_told(event, list(people.values()))
    assert not result.passed and "Bea" in result.detail


def test_told_they_take_part_but_no_link_came():
    event, people = correct_event()
    people[2].invites.clear()
    result = checks.confirmed_seated_or_told(event, list(people.values()))
    assert not result.passed and "got no link" in result.detail


def test_an_unconfirmed_person_needs_no_seat():
    event, people = correct_event()
    people[5].not_taking_part = False
    assert checks.confirmed_seated_or_told(event, list(people.values())).passed


def test_a_link_shared_by_three():
    event, people = correct_event()
    people[4].invites[0] = Invite(1, LINK[(1, 1)], START - 3)
    result = checks.one_pair_per_link(event, list(people.values()))
    assert not result.passed and "went to 3" in result.detail


def test_two_links_for_one_round():
    event, people = correct_event()
    people[5].invites += [Invite(1, "https://meet.google.com/x", START - 1), Invite(1, "https://meet.google.com/y", 1)]
    result = checks.one_pair_per_link(event, list(people.values()))
    assert not result.passed and "Eve: two links for round 1" in result.detail


def met_twice() -> tuple[EventFacts, dict[int, PersonFacts]]:
    """Round 2 repeats round 1's pairs (in the links and in the plan)."""
    event, people = correct_event()
    for p in people.values():
        p.invites = [i for i in p.invites if i.round == 1]
        p.invites += [Invite(2, i.url + "-2", R2 - 3) for i in p.invites]
    dates = [d for d in event.dates if d.round == 1]
    dates += [RecordedDate(2, d.people, f"{d.url}-2") for d in dates]
    return dataclasses.replace(event, dates=tuple(dates)), people


def test_nobody_met_twice_fails_on_a_repeated_pair():
    event, people = met_twice()
    result = checks.nobody_met_twice(event, list(people.values()))
    assert not result.passed and "Ann & Carl met 2 times" in result.detail


def test_a_link_after_its_round_started():
    event, people = correct_event()
    people[3].invites[1] = dataclasses.replace(people[3].invites[1], seen_at=R2 + 0.5)
    assert only_failure(event, people) == "every link was delivered before its round started"
    assert (
        "Carl: round 2 link 0.50 s after the start" in checks.links_before_rounds(event, list(people.values())).detail
    )


def test_a_link_just_before_its_round_is_in_time():
    event, people = correct_event()
    people[3].invites[1] = dataclasses.replace(people[3].invites[1], seen_at=R2 - 0.01)
    assert checks.links_before_rounds(event, list(people.values())).passed


def test_a_planned_date_without_its_link():
    event, people = correct_event()
    people[4].invites = [i for i in people[4].invites if i.round != 2]
    result = checks.links_before_rounds(event, list(people.values()))
    assert not result.passed and "Dan: no link for round 2" in result.detail


def test_a_link_that_is_not_the_dates_space():
    event, people = correct_event()
    people[1].invites[0] = dataclasses.replace(people[1].invites[0], url="https://meet.google.com/zzz-zzzz-zzz")
    result = checks.links_before_rounds(event, list(people.values()))
    assert not result.passed and "is not the date's" in result.detail


def test_a_link_without_a_date_in_the_plan():
    event, people = correct_event()
    people[5].invites.append(Invite(1, "https://meet.google.com/eve-eeee-eve", START - 2))
    result = checks.links_before_rounds(event, list(people.values()))
    assert not result.passed and "Eve: a link for round 1 without a date" in result.detail


def test_no_plan_at_all():
    event, people = correct_event()
    for p in people.values():
        p.invites.clear()
    result = checks.links_before_rounds(dataclasses.replace(event, dates=()), list(people.values()))
    assert not result.passed and "no dates were planned" in result.detail


def test_a_match_with_someone_who_did_not_like_back():
    event, people = correct_event()
    people[2].matches = (3, 4)  # Bea liked Dan, Dan disliked Bea
    assert only_failure(event, people) == "every match is mutual"
    assert "Bea got Dan, who did not like them" in checks.matches_are_mutual(event, list(people.values())).detail


def test_a_match_with_someone_not_liked():
    event, people = correct_event()
    people[1].matches = (3, 4)  # Ann disliked Dan
    result = checks.matches_are_mutual(event, list(people.values()))
    assert not result.passed and "Ann got Dan without liking them" in result.detail


def test_a_like_the_bot_refused_does_not_count():
    event, people = correct_event()
    people[3].ratings = [dataclasses.replace(r, recorded=False) if r.partner_id == 1 else r for r in people[3].ratings]
    result = checks.matches_are_mutual(event, list(people.values()))
    assert not result.passed and "Ann got Carl, who did not like them" in result.detail


def test_a_mutual_like_left_out_of_the_matches():
    event, people = correct_event()
    people[3].matches = (1,)  # Carl and Bea liked each other
    assert only_failure(event, people) == "every mutual like became a match"
    assert "Carl was not told about Bea" in checks.mutual_likes_matched(event, list(people.values())).detail


def test_a_like_after_the_end_need_not_be_matched():
    event, people = correct_event()
    people[2].ratings = [dataclasses.replace(r, at=FINISHED + 1) if r.partner_id == 3 else r for r in people[2].ratings]
    people[2].matches, people[3].matches = (), (1,)
    assert checks.mutual_likes_matched(event, list(people.values())).passed


def test_an_event_that_never_finished():
    event, _ = correct_event()
    result = checks.mutual_likes_matched(dataclasses.replace(event, finished_at=None, state="RUNNING"), [])
    assert not result.passed and "RUNNING" in result.detail


@pytest.mark.parametrize(
    ("change", "detail"), [({"final": False}, "no final message"), ({"matches": None}, "no matches")]
)
def test_a_seated_person_without_the_final_message(change, detail):
    event, people = correct_event()
    for key, value in change.items():
        setattr(people[4], key, value)
    assert only_failure(event, people) == "every seated person got the final message"
    assert f"Dan: {detail}" in checks.final_to_everyone_seated(event, list(people.values())).detail


def test_long_lists_of_names_are_cut():
    event, _ = correct_event()
    many = [person(100 + i, f"P{i}", "M", registered=False) for i in range(9)]
    detail = checks.everyone_through_the_bot(event, many).detail
    assert detail.count("P") == checks.MAX_NAMES and detail.endswith("and 4 more")


def test_tally():
    event, people = correct_event()
    people[3].ratings[0] = dataclasses.replace(people[3].ratings[0], verdict="report")
    people[4].joined_rounds.remove(2)
    tally = checks.tally(event, list(people.values()))
    assert (tally.participants, tally.women, tally.men) == (5, 3, 2)
    assert (tally.registered, tally.confirmed, tally.never_confirmed) == (5, 4, 1)
    assert (tally.seated, tally.not_seated) == (4, 1)
    assert (tally.dates_planned, tally.dates_held) == (4, 3)
    assert (tally.sit_outs_min, tally.sit_outs_max) == (0, 0)
    assert (tally.likes, tally.dislikes, tally.reports) == (5, 2, 1)
    assert tally.matches == 2
