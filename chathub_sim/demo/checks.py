"""The checks of a real event, as pure functions over the facts the demo collected.

Each check looks at what the simulated people saw and did (the Bot API emulator's side) and, where it
needs the plan, at what datemaker recorded. :func:`run_checks` runs them all.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from chathub_sim.demo.facts import CheckResult, EventFacts, PersonFacts

Check = Callable[[EventFacts, Sequence[PersonFacts]], CheckResult]
MAX_NAMES = 5


def _names(people: Iterable[str]) -> str:
    listed = list(people)
    shown = ", ".join(listed[:MAX_NAMES])
    return shown + (f" and {len(listed) - MAX_NAMES} more" if len(listed) > MAX_NAMES else "")


def _result(name: str, failures: list[str], success: str) -> CheckResult:
    if failures:
        return CheckResult(name, False, _names(failures))
    return CheckResult(name, True, success)


def everyone_through_the_bot(event: EventFacts, people: Sequence[PersonFacts]) -> CheckResult:
    """Every person saved a profile and registered through the bot; everyone who meant to confirm did."""
    failures = []
    for p in people:
        missing = [
            step
            for step, done in (
                ("profile", p.profile_saved),
                ("registration", p.registered),
                ("confirmation request", p.asked_to_confirm),
                ("confirmation", p.confirmed or not p.confirms),
            )
            if not done
        ]
        if missing:
            failures.append(f"{p.name}: no {', no '.join(missing)}" + (f" ({p.problems[0]})" if p.problems else ""))
    confirmed = sum(p.confirmed for p in people)
    return _result(
        "everyone got through the bot's dialogs",
        failures,
        f"{len(people)} profiles and registrations, {confirmed} confirmations",
    )


def confirmed_seated_or_told(event: EventFacts, people: Sequence[PersonFacts]) -> CheckResult:
    """Everyone confirmed was seated (told so, and got links) or told why not."""
    failures = []
    for p in people:
        if not p.confirmed:
            continue
        if p.taking_part and p.not_taking_part:
            failures.append(f"{p.name}: told both that they take part and that they do not")
        elif p.taking_part and not p.invites:
            failures.append(f"{p.name}: told they take part, got no link")
        elif not p.taking_part and not p.not_taking_part:
            failures.append(f"{p.name}: confirmed, told nothing")
    seated = sum(p.taking_part for p in people if p.confirmed)
    told = sum(p.not_taking_part for p in people if p.confirmed)
    return _result(
        "everyone confirmed was seated or told why",
        failures,
        f"{seated} seated, {told} told why not",
    )


def _calls(people: Sequence[PersonFacts]) -> dict[tuple[int, str], set[int]]:
    """(round, link) → the people who got that link for that round."""
    calls: dict[tuple[int, str], set[int]] = defaultdict(set)
    for p in people:
        for invite in p.invites:
            calls[(invite.round, invite.url)].add(p.user_id)
    return calls


def one_pair_per_link(event: EventFacts, people: Sequence[PersonFacts]) -> CheckResult:
    """Every link went to exactly two people, and nobody got two links for one round."""
    names = {p.user_id: p.name for p in people}
    failures = [
        f"round {round_no} link {url} went to {len(ids)}: {_names(names.get(i, str(i)) for i in sorted(ids))}"
        for (round_no, url), ids in sorted(_calls(people).items())
        if len(ids) != 2
    ]
    for p in people:
        doubled = [r for r, n in Counter(i.round for i in p.invites).items() if n > 1]
        if doubled:
            failures.append(f"{p.name}: two links for round {doubled[0]}")
    return _result("every link went to exactly one pair", failures, f"{len(_calls(people))} calls, two people each")


def nobody_met_twice(event: EventFacts, people: Sequence[PersonFacts]) -> CheckResult:
    """No two people had a date twice: neither in the links they got nor in the plan."""
    names = {p.user_id: p.name for p in people}
    seen = Counter(frozenset(ids) for ids in _calls(people).values() if len(ids) == 2)
    planned = Counter(frozenset(d.people) for d in event.dates)
    failures = [
        f"{' & '.join(names.get(i, str(i)) for i in sorted(pair))} met {n} times ({source})"
        for source, counts in (("links", seen), ("plan", planned))
        for pair, n in counts.items()
        if n > 1
    ]
    return _result("nobody met anyone twice", failures, f"{len(seen)} distinct pairs")


def links_before_rounds(event: EventFacts, people: Sequence[PersonFacts]) -> CheckResult:
    """Both people of every planned date got its link, for its round, before that round started."""
    by_person = {p.user_id: p for p in people}
    failures = []
    leads = []
    planned = set()
    for date in event.dates:
        starts = event.round_start(date.round)
        for user_id in date.people:
            planned.add((user_id, date.round))
            person = by_person.get(user_id)
            name = person.name if person else str(user_id)
            invite = next((i for i in person.invites if i.round == date.round), None) if person else None
            if invite is None:
                failures.append(f"{name}: no link for round {date.round}")
            elif date.url is not None and invite.url != date.url:
                failures.append(f"{name}: round {date.round} link {invite.url} is not the date's {date.url}")
            elif invite.seen_at >= starts:
                failures.append(f"{name}: round {date.round} link {invite.seen_at - starts:.2f} s after the start")
            else:
                leads.append(starts - invite.seen_at)
    for p in people:
        failures += [
            f"{p.name}: a link for round {i.round} without a date"
            for i in p.invites
            if (p.user_id, i.round) not in planned
        ]
    if not event.dates:
        failures.append("no dates were planned")
    success = f"{len(leads)} links, each {min(leads):.1f}–{max(leads):.1f} s before its round" if leads else ""
    return _result("every link was delivered before its round started", failures, success)


def matches_are_mutual(event: EventFacts, people: Sequence[PersonFacts]) -> CheckResult:
    """Everyone in someone's matches liked them and was liked by them (as the people pressed the buttons)."""
    by_person = {p.user_id: p for p in people}
    failures = []
    pairs = set()
    for p in people:
        for other_id in p.matches or ():
            other = by_person.get(other_id)
            other_name = other.name if other else str(other_id)
            if other_id not in p.liked():
                failures.append(f"{p.name} got {other_name} without liking them")
            elif other is None or p.user_id not in other.liked():
                failures.append(f"{p.name} got {other_name}, who did not like them")
            else:
                pairs.add(frozenset((p.user_id, other_id)))
    return _result("every match is mutual", failures, f"{len(pairs)} matches, each a mutual like")


def mutual_likes_matched(event: EventFacts, people: Sequence[PersonFacts]) -> CheckResult:
    """Every two people who liked each other before the event finished got each other as a match."""
    if event.finished_at is None:
        return CheckResult("every mutual like became a match", False, f"the event did not finish ({event.state})")
    by_person = {p.user_id: p for p in people}
    failures = []
    mutual = 0
    for p in people:
        for other_id in p.liked(event.finished_at):
            other = by_person.get(other_id)
            if other is None or p.user_id not in other.liked(event.finished_at) or p.user_id > other_id:
                continue
            mutual += 1
            for a, b in ((p, other), (other, p)):
                if b.user_id not in (a.matches or ()):
                    failures.append(f"{a.name} was not told about {b.name}")
    return _result("every mutual like became a match", failures, f"{mutual} mutual likes, all told")


def final_to_everyone_seated(event: EventFacts, people: Sequence[PersonFacts]) -> CheckResult:
    """Every seated person got the final message and their matches (maybe none)."""
    failures = []
    seated = [p for p in people if p.seated]
    for p in seated:
        if not p.final:
            failures.append(f"{p.name}: no final message")
        elif p.matches is None:
            failures.append(f"{p.name}: no matches message")
    return _result("every seated person got the final message", failures, f"{len(seated)} final messages")


def mini_app_agrees_with_the_chat(event: EventFacts, people: Sequence[PersonFacts]) -> CheckResult:
    """The people using the Mini App registered and confirmed there, saw each date's link there as the chat's
    invitation gave it, and found their matches there (a like completed late may add one)."""
    failures = []
    users = [p for p in people if p.mini_app]
    for p in users:
        shown = {round_no: url for round_no, url in p.app_dates}
        for invite in p.invites:
            if shown.get(invite.round) != invite.url:
                failures.append(f"{p.name}: round {invite.round} in the Mini App {shown.get(invite.round)!r}")
        if p.matches is not None and (p.app_matches is None or not set(p.matches) <= set(p.app_matches)):
            failures.append(f"{p.name}: matches in the Mini App {p.app_matches}, in the chat {p.matches}")
    reads = sum(len(p.app_dates) for p in users)
    return _result(
        "the Mini App agreed with the chat",
        failures,
        f"{len(users)} people registered and confirmed there; {reads} dates and their matches as the chat said",
    )


CHECKS: tuple[Check, ...] = (
    everyone_through_the_bot,
    confirmed_seated_or_told,
    one_pair_per_link,
    nobody_met_twice,
    links_before_rounds,
    matches_are_mutual,
    mutual_likes_matched,
    final_to_everyone_seated,
    mini_app_agrees_with_the_chat,
)


def run_checks(event: EventFacts, people: Sequence[PersonFacts]) -> list[CheckResult]:
    return [check(event, people) for check in CHECKS]


@dataclass(frozen=True)
class Tally:
    """The figures of the summary that come from the people's side."""

    participants: int
    women: int
    men: int
    registered: int
    confirmed: int
    never_confirmed: int
    seated: int
    not_seated: int
    dates_planned: int
    dates_held: int
    """Dates whose call both people joined."""
    sit_outs_min: int
    sit_outs_max: int
    likes: int
    dislikes: int
    reports: int
    matches: int
    """Mutual matches (pairs)."""


def tally(event: EventFacts, people: Sequence[PersonFacts]) -> Tally:
    seated = [p for p in people if p.seated]
    sit_outs = [max(0, event.rounds - len(p.invites)) for p in seated] or [0]
    joined = {(p.user_id, r) for p in people for r in p.joined_rounds}
    held = sum(all((u, d.round) in joined for u in d.people) for d in event.dates)
    verdicts = Counter(r.verdict for p in people for r in p.ratings if r.recorded)
    matches = {frozenset((p.user_id, m)) for p in people for m in p.matches or ()}
    return Tally(
        participants=len(people),
        women=sum(p.gender == "F" for p in people),
        men=sum(p.gender == "M" for p in people),
        registered=sum(p.registered for p in people),
        confirmed=sum(p.confirmed for p in people),
        never_confirmed=sum(p.registered and not p.confirmed for p in people),
        seated=len(seated),
        not_seated=sum(p.not_taking_part for p in people),
        dates_planned=len(event.dates),
        dates_held=held,
        sit_outs_min=min(sit_outs),
        sit_outs_max=max(sit_outs),
        likes=verdicts["like"],
        dislikes=verdicts["dislike"],
        reports=verdicts["report"],
        matches=len(matches),
    )
