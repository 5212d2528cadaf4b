"""Rescue when a partner never joins, on a real night: datemaker reads Meet's live participants (the emulator) a
quarter of the round in (and at later passes until three quarters in), gives up the dates whose partner is missing
and re-pairs the two stranded people, whose new invitations carry ``"rescue": true``; the no-shows are counted (once);
``partner_absent`` answers from the live call."""

import asyncio

import pytest

from datemaker.domain.notices import starter
from tests.conftest import wait_for
from tests.integration.test_lifecycle import insert_event
from tests.support.factories import create_participant
from tests.support.journey import notifications

pytestmark = pytest.mark.usefixtures("datemaker")


async def test_a_partner_never_joins_and_the_stranded_are_rescued(bot, clean_db, meet):
    women = [await create_participant(clean_db, name=f"Woman{i}", gender="F") for i in range(2)]
    men = [await create_participant(clean_db, name=f"Man{i}", gender="M") for i in range(2)]
    names = {u: n for u, n in zip([*women, *men], ["Woman0", "Woman1", "Man0", "Man1"], strict=True)}
    event = await insert_event(clean_db, starts_in=6, round_seconds=12, max_rounds=1, break_seconds=1)
    for user in names:
        assert (await bot.call("register_event", {"event_id": event}, user_id=user))["ok"]
    await wait_for(lambda: len([s for s in notifications(bot, event) if s.type == "confirm_registration"]) == 4)
    for user in names:
        assert (await bot.call("confirm_registration", {"event_id": event, "attending": True}, user_id=user))["ok"]

    def invites():
        return [s for s in notifications(bot, event) if s.type == "invite_to_meeting"]

    await wait_for(lambda: len(invites()) == 4, timeout=20)
    url_of = {s.user_id: s.body["url"] for s in invites()}
    partner_of = {s.user_id: s.body["partner"]["user_id"] for s in invites()}
    # In one date the woman comes and the man does not; in the other the man comes and the woman does not.
    first_woman = women[0]
    stranded_man = next(m for m in men if m != partner_of[first_woman])
    meet.join(url_of[first_woman], names[first_woman])
    meet.join(url_of[stranded_man], names[stranded_man])
    absent = {partner_of[first_woman], partner_of[stranded_man]}

    early = await bot.call("partner_absent", {"event_id": event, "round": 1}, user_id=partner_of[first_woman])
    assert early["error"]["code"] == "bad_request"  # the links go out before the round starts: too early

    def rescues():
        return [s for s in invites() if s.body.get("rescue")]

    await wait_for(lambda: len(rescues()) == 2, timeout=10)
    assert {s.user_id for s in rescues()} == {first_woman, stranded_man}
    assert {s.body["partner"]["user_id"] for s in rescues()} == {first_woman, stranded_man}
    assert all(s.body["url"] == url_of[first_woman] for s in rescues())  # the call she is in already
    first_starter = next(s.body["starter"] for s in invites() if s.user_id == first_woman and not s.body.get("rescue"))
    rescue_starter = {s.body["starter"] for s in rescues()}
    assert rescue_starter == {starter(event, 0, rescue=True)} and first_starter not in rescue_starter  # not twice
    rows = await clean_db.fetch("SELECT * FROM event_dates WHERE event_id = $1 ORDER BY id", event)
    assert sum(r["rescue"] for r in rows) == 1 and sum(r["abandoned_at"] is not None for r in rows) == 2
    assert {r["absent_user"] for r in rows if r["abandoned_at"]} == absent
    streaks = await clean_db.fetch(
        "SELECT user_id, no_show_streak FROM users WHERE user_id = ANY($1::bigint[])", list(names)
    )
    assert {r["user_id"] for r in streaks if r["no_show_streak"] == 1} == absent
    # Each absent partner is told once not to join the call their date was in (the rescue is held in one of them).
    await wait_for(lambda: len([s for s in notifications(bot, event) if s.type == "date_given_up"]) == 2)
    told = [s for s in notifications(bot, event) if s.type == "date_given_up"]
    assert sorted(s.user_id for s in told) == sorted(absent) and all(s.body["round"] == 1 for s in told)

    # Her new partner joins her call: asking again, she is told he is there.
    meet.join(url_of[first_woman], names[stranded_man])

    # The board shows the night live: who is with whom now, who is in the call.
    boss = await create_participant(clean_db, name="Olga")
    await clean_db.execute("INSERT INTO organizers (user_id) VALUES ($1)", boss)
    board = (await bot.call("organizer_show_event", {"event_id": event}, user_id=boss))["data"]
    row = {p["user_id"]: p for p in board["people"]}
    assert board["summary"]["round"] == 1 and board["summary"]["dates_running"] == 1
    assert board["summary"]["alone_in_call"] == 0
    assert row[first_woman]["partner"]["user_id"] == stranded_man and row[first_woman]["in_call"] is True
    assert row[stranded_man]["link_sent"] is True and row[stranded_man]["in_call"] is True
    assert all(row[u]["partner"] is None and row[u]["seated"] for u in absent)
    asked = await bot.call("partner_absent", {"event_id": event, "round": 1}, user_id=first_woman)
    assert asked["data"] == {"status": "partner_joined", "next_round": None, "next_starts_at": None}, asked
    nobody = await bot.call("partner_absent", {"event_id": event, "round": 1}, user_id=next(iter(absent)))
    assert nobody["ok"] is False and nobody["error"]["code"] == "not_your_partner"
    wrong = await bot.call("partner_absent", {"event_id": event, "round": 3}, user_id=first_woman)
    assert wrong["error"]["code"] == "bad_request"

    await wait_for(
        lambda: (
            {s.user_id for s in notifications(bot, event) if s.type == "send_partner_rating_request"}
            >= {first_woman, stranded_man}
        ),
        timeout=20,
    )
    rated = [s for s in notifications(bot, event) if s.type == "send_partner_rating_request"]
    assert {s.body["partner"]["user_id"] for s in rated if s.user_id == first_woman} == {stranded_man}
    assert not any(s.user_id in absent for s in rated)  # nobody rates a date that did not happen


def told_given_up(bot, event):
    return [s for s in notifications(bot, event) if s.type == "date_given_up"]


async def checked(pool, event):
    """Whether the quarter-round check has looked at the event's first round."""
    return await pool.fetchval("SELECT rounds_rescued >= 1 FROM dating_events WHERE id = $1", event)


async def seat(bot, event, people):
    """Register and confirm ``people`` for ``event``."""
    for user in people:
        assert (await bot.call("register_event", {"event_id": event}, user_id=user))["ok"]
    await wait_for(
        lambda: {s.user_id for s in notifications(bot, event) if s.type == "confirm_registration"} >= set(people)
    )
    for user in people:
        assert (await bot.call("confirm_registration", {"event_id": event, "attending": True}, user_id=user))["ok"]


async def test_the_button_and_the_check_find_the_same_absence_and_the_absent_partner_is_told_once(bot, clean_db, meet):
    woman = await create_participant(clean_db, name="Alla", gender="F")
    man = await create_participant(clean_db, name="Boris", gender="M")
    event = await insert_event(clean_db, starts_in=6, round_seconds=24, max_rounds=1, break_seconds=1)
    await seat(bot, event, [woman, man])
    await wait_for(lambda: any(s.type == "invite_to_meeting" and s.user_id == woman for s in notifications(bot, event)))
    url = next(s.body["url"] for s in notifications(bot, event) if s.type == "invite_to_meeting" and s.user_id == woman)
    meet.join(url, "Alla")

    async def press():
        return await bot.call("partner_absent", {"event_id": event, "round": 1}, user_id=woman)

    answer = await press()
    while not answer["ok"] and answer["error"]["code"] == "bad_request":  # the round has not started yet
        await asyncio.sleep(0.2)
        answer = await press()
    assert answer["data"]["status"] == "no_one_free", answer
    assert await clean_db.fetchval("SELECT rounds_rescued FROM dating_events WHERE id = $1", event) == 0  # before it
    await wait_for(lambda: len(told_given_up(bot, event)) == 1)
    # The quarter-round check comes and looks at the round: the date is given up already.
    await wait_for(lambda: checked(clean_db, event))
    await asyncio.sleep(1)
    [told] = told_given_up(bot, event)
    assert told.user_id == man and told.body["round"] == 1
    assert told.body["next_round"] is None and told.body["next_starts_at"] is None  # no more dates tonight
    streaks = dict(
        await clean_db.fetch("SELECT user_id, no_show_streak FROM users WHERE user_id IN ($1, $2)", woman, man)
    )
    assert streaks == {woman: 0, man: 1}  # counted once, not by the button and again by the check
    assert await clean_db.fetchval("SELECT count(*) FROM outbox WHERE type = 'date_given_up'") == 1


async def test_absent_at_two_events_in_a_row_and_asked_to_confirm_again(bot, clean_db, meet):
    """At the first night neither of a pair comes (both no-shows, nobody told: nothing was given up); at the second
    her partner comes and she does not (she is told). Two in a row: her confirmation for her next event is withdrawn
    and she is asked again."""
    her = await create_participant(clean_db, name="Vera", gender="F")
    first_man = await create_participant(clean_db, name="Gleb", gender="M")
    second_man = await create_participant(clean_db, name="Denis", gender="M")
    first = await insert_event(clean_db, starts_in=6, round_seconds=8, max_rounds=1, break_seconds=1)
    second = await insert_event(clean_db, starts_in=14, round_seconds=8, max_rounds=1, break_seconds=1)
    later = await insert_event(clean_db, starts_in=3600, confirm_open_seconds=7200)
    await seat(bot, later, [her])
    await seat(bot, first, [her, first_man])
    await seat(bot, second, [her, second_man])

    def streaks():
        return clean_db.fetch("SELECT user_id, no_show_streak FROM users WHERE user_id = ANY($1::bigint[])", people)

    people = [her, first_man, second_man]
    await wait_for(lambda: checked(clean_db, first), timeout=20)
    assert dict(await streaks()) == {her: 1, first_man: 1, second_man: 0}  # neither came: both counted
    # The date stands (nobody is stranded in it) and nobody is told it was given up: nothing in the outbox.
    assert (
        await clean_db.fetchval("SELECT count(*) FROM outbox WHERE event_id = $1 AND type = 'date_given_up'", first)
        == 0
    )
    assert (
        await clean_db.fetchval(
            "SELECT count(*) FROM event_dates WHERE event_id = $1 AND abandoned_at IS NOT NULL", first
        )
        == 0
    )
    assert await clean_db.fetchval(
        "SELECT confirmed_at IS NOT NULL FROM registrations WHERE event_id = $1 AND user_id = $2", later, her
    )

    await wait_for(
        lambda: any(s.type == "invite_to_meeting" and s.user_id == second_man for s in notifications(bot, second)),
        timeout=20,
    )
    url = next(
        s.body["url"] for s in notifications(bot, second) if s.type == "invite_to_meeting" and s.user_id == second_man
    )
    meet.join(url, "Denis")
    await wait_for(lambda: checked(clean_db, second), timeout=20)
    assert dict(await streaks()) == {her: 2, first_man: 1, second_man: 0}
    await wait_for(lambda: told_given_up(bot, second))  # the relay publishes it a moment later
    assert [(s.user_id, s.body["round"]) for s in told_given_up(bot, second)] == [(her, 1)]
    registration = await clean_db.fetchrow(
        "SELECT * FROM registrations WHERE event_id = $1 AND user_id = $2", later, her
    )
    assert registration["confirmed_at"] is None and registration["cancelled_at"] is None  # still registered
    await wait_for(
        lambda: (
            len([s for s in notifications(bot, later) if s.type == "confirm_registration" and s.user_id == her]) == 2
        ),
        timeout=10,
    )
    assert (await bot.call("confirm_registration", {"event_id": later, "attending": True}, user_id=her))["ok"]


async def test_someone_coming_alone_after_the_first_check_is_rescued_with_who_was_waiting(bot, clean_db, meet):
    """Round of 24 s: the watch checks 6 s in, then every pass until 18 s in. At the first check she is alone in her
    call (nobody free for her: told so, once), and nobody is in the other date's call (both no-shows, the date
    stands). Then a man of that date comes alone: a later pass gives his date up, tells his partner, and pairs him
    with her. Each date's no-shows are counted once, by the first check; his is taken back when he comes."""
    women = [await create_participant(clean_db, name=f"Woman{i}", gender="F") for i in range(2)]
    men = [await create_participant(clean_db, name=f"Man{i}", gender="M") for i in range(2)]
    names = {u: n for u, n in zip([*women, *men], ["Woman0", "Woman1", "Man0", "Man1"], strict=True)}
    event = await insert_event(clean_db, starts_in=6, round_seconds=24, max_rounds=1, break_seconds=1)
    await seat(bot, event, list(names))

    def invites():
        return [s for s in notifications(bot, event) if s.type == "invite_to_meeting"]

    def rescues():
        return [s for s in invites() if s.body.get("rescue")]

    def of_type(kind):
        return [s for s in notifications(bot, event) if s.type == kind]

    await wait_for(lambda: len(invites()) == 4, timeout=20)
    url_of = {s.user_id: s.body["url"] for s in invites()}
    partner_of = {s.user_id: s.body["partner"]["user_id"] for s in invites()}
    waiting = women[0]
    late = next(m for m in men if m != partner_of[waiting])
    absent = {partner_of[waiting], partner_of[late]}
    meet.join(url_of[waiting], names[waiting])

    def streaks():
        return clean_db.fetch(
            "SELECT user_id, no_show_streak FROM users WHERE user_id = ANY($1::bigint[])", list(names)
        )

    await wait_for(lambda: checked(clean_db, event), timeout=20)
    await wait_for(lambda: of_type("no_partner_free"))
    assert [s.user_id for s in of_type("no_partner_free")] == [waiting]
    assert dict(await streaks()) == {waiting: 0, late: 1, **dict.fromkeys(absent, 1)}
    empty = await clean_db.fetchval(
        "SELECT empty_at_check FROM event_dates WHERE event_id = $1 AND $2 IN (user_a, user_b)", event, late
    )
    assert empty is True  # nobody came to his date by the first check: later passes look at it
    await asyncio.sleep(1.5)  # a few passes: she is alone still, and not told so again
    assert not rescues() and len(of_type("no_partner_free")) == 1

    meet.join(url_of[late], names[late])  # well within the round, after the first check
    await wait_for(lambda: len(rescues()) == 2, timeout=10)
    assert {s.user_id for s in rescues()} == {waiting, late}
    assert {s.body["partner"]["user_id"] for s in rescues()} == {waiting, late}
    assert len({s.body["url"] for s in rescues()}) == 1 and rescues()[0].body["url"] in {url_of[waiting], url_of[late]}
    await wait_for(lambda: len(of_type("date_given_up")) == 2)
    assert sorted(s.user_id for s in of_type("date_given_up")) == sorted(absent)

    await asyncio.sleep(1.5)  # more passes: nothing counted or sent again, nobody rescued twice
    # He came late, but he came: his no-show is taken back; the others' are counted once per date.
    assert dict(await streaks()) == {waiting: 0, late: 0, **dict.fromkeys(absent, 1)}
    counts = dict(await clean_db.fetch("SELECT type, count(*) FROM outbox WHERE event_id = $1 GROUP BY type", event))
    assert counts["date_given_up"] == 2 and counts["no_partner_free"] == 1
    rows = await clean_db.fetch("SELECT * FROM event_dates WHERE event_id = $1 ORDER BY id", event)
    assert sum(r["rescue"] for r in rows) == 1 and sum(r["abandoned_at"] is not None for r in rows) == 2
    assert {r["absent_user"] for r in rows if r["abandoned_at"]} == absent
    assert len(rescues()) == 2
