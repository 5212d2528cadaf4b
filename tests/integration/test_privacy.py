"""Privacy and abuse, each finding of the review reproduced against the real services and shown fixed:
group chats, a reused message id, promotion after planning, ratings that close, CSV injection, hostile
numbers, floods, erasure, retention of profiles, and what is logged or listened on."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chathub_bot.fsm import ReleasingEventIsolation
from chathub_bot.gateway import Actor, DatemakerError
from chathub_bot.guards import FloodGuard
from contracts import commands as c
from contracts.commands import Verdict
from datemaker.adapters.postgres.retention import PostgresRetentionDatabase
from datemaker.service.retention import purge_expired
from tests.conftest import wait_for
from tests.support.bot import BotHarness
from tests.support.cli import events_cli
from tests.support.factories import create_event, create_participant, register

pytestmark = pytest.mark.usefixtures("datemaker")


def ok(reply):
    assert reply["ok"], reply
    return reply["data"]


def error(reply):
    assert not reply["ok"], reply
    return reply["error"]["code"]


@pytest.fixture
async def harness(settings, clean_db):
    async with BotHarness(settings, clean_db) as harness:
        yield harness
    assert not harness.errors.records, [r.getMessage() for r in harness.errors.records]


async def sent_again(bot, command: str, body: dict, user: int, message_id: str) -> dict:
    """Send a command under a message id used before; the reply it gets (not the first one's)."""
    replies = bot.replies.setdefault(message_id, [])
    seen = len(replies)
    await bot.send(command, body, user_id=user, message_id=message_id)
    await wait_for(lambda: len(replies) > seen)
    return json.loads(replies[-1].body)


async def held_date(pool, event: int, a: int, b: int, round_no: int = 0) -> None:
    await pool.execute(
        """INSERT INTO event_dates (event_id, group_no, round_no, user_a, user_b, invited_at)
           VALUES ($1, 0, $4, $2, $3, now())""",
        event,
        min(a, b),
        max(a, b),
        round_no,
    )


# --- 1. group chats ------------------------------------------------------------------------------


async def test_in_a_group_the_bot_only_points_to_a_private_chat(harness):
    group = harness.emulator.group(-1001234567, "Friends").id
    user = harness.user(70, "en", first_name="Anna")
    for text in ("/start", "/date", "Anna", "/profile"):
        await harness.say_in_group(user, group, text)
    answers = harness.emulator.bot_messages(group)
    assert len(answers) == 4
    assert all(a.text.startswith("Let's talk in private") and "https://t.me/" in a.text for a in answers)
    assert all(a.reply_markup is None for a in answers)
    assert harness.emulator.bot_messages(user) == []  # nothing started in the private chat either
    assert harness.replies == 0  # and datemaker was never asked anything
    assert await harness.profile(user) is None


async def test_notifications_go_to_the_users_own_chat_whatever_chat_id_says(bot, clean_db):
    user = 4242
    profile = {"name": "Ann", "gender": "F", "birthday": "1994-03-01", "city": "msk"}
    ok(await bot.call("upsert_profile", profile, user_id=user, headers={"chat_id": -1009876}))
    assert await clean_db.fetchval("SELECT chat_id FROM users WHERE user_id = $1", user) == user


# --- 2. a reused message id ----------------------------------------------------------------------


async def test_a_message_id_reused_by_someone_else_reveals_nothing(bot, clean_db):
    anna, boris = 1001, 1002
    secret = {"name": "Anna Secret", "gender": "F", "birthday": "1994-03-01", "city": "msk", "bio": "my bio"}
    message_id = uuid.uuid4().hex
    first = await bot.reply_to(await bot.send("upsert_profile", secret, user_id=anna, message_id=message_id))
    assert ok(first)["profile"]["name"] == "Anna Secret"
    for command, body in [("register_event", {"event_id": 1}), ("upsert_profile", secret), ("get_profile", {})]:
        reply = await sent_again(bot, command, body, boris, message_id)
        assert "Secret" not in json.dumps(reply) and "my bio" not in json.dumps(reply), (command, reply)
        if command != "get_profile":  # read-only: answered afresh for Boris himself (he has no profile)
            assert error(reply) == "bad_request", (command, reply)
    # the same user repeating the same command gets the first reply, and a read-only command is answered afresh
    assert await sent_again(bot, "upsert_profile", secret, anna, message_id) == first
    assert await clean_db.fetchval("SELECT count(*) FROM processed_messages WHERE command = 'get_profile'") == 0


async def test_the_same_id_for_another_command_of_the_same_user_is_refused(bot, clean_db):
    user = await create_participant(clean_db)
    event = await create_event(clean_db)
    message_id = uuid.uuid4().hex
    ok(await bot.reply_to(await bot.send("register_event", {"event_id": event}, user_id=user, message_id=message_id)))
    body = {"event_id": event}
    assert error(await sent_again(bot, "cancel_registration", body, user, message_id)) == "bad_request"
    assert await clean_db.fetchval("SELECT cancelled_at FROM registrations WHERE user_id = $1", user) is None


# --- 3. promotion from the waitlist after planning ------------------------------------------------


async def test_after_planning_a_freed_seat_promotes_nobody_into_silence(bot, clean_db):
    event = await create_event(clean_db, users_limit=2, state_id=2)  # READY: planned
    seated, waiting = await create_participant(clean_db), await create_participant(clean_db)
    other = await create_participant(clean_db)
    await register(clean_db, event, seated, confirmation_sent_at=datetime.now(UTC), confirmed_at=datetime.now(UTC))
    await register(clean_db, event, other)
    await register(clean_db, event, waiting, waitlisted=True)
    assert ok(await bot.call("cancel_registration", {"event_id": event}, user_id=seated))["cancelled"] == [event]
    assert await clean_db.fetchval("SELECT waitlisted FROM registrations WHERE user_id = $1", waiting)
    [mine] = [e for e in ok(await bot.call("list_events", {}, user_id=waiting))["events"] if e["event_id"] == event]
    assert mine["my_status"] == "waitlisted"  # never a silent "registered" without a group

    before = await create_event(clean_db, users_limit=1, state_id=1)  # still taking registrations: promotion
    await register(clean_db, before, seated)
    await register(clean_db, before, waiting, waitlisted=True)
    ok(await bot.call("cancel_registration", {"event_id": before}, user_id=seated))
    assert not await clean_db.fetchval(
        "SELECT waitlisted FROM registrations WHERE user_id = $1 AND event_id = $2", waiting, before
    )


# --- 4. ratings close, reports are final, late matches are told ---------------------------------


async def test_ratings_close_48_hours_after_the_event(bot, clean_db):
    event = await create_event(clean_db, starts_in=timedelta(days=-3), state_id=4)
    await clean_db.execute("UPDATE dating_events SET finished_at = now() - interval '49 hours' WHERE id = $1", event)
    a, b = await create_participant(clean_db), await create_participant(clean_db)
    await held_date(clean_db, event, a, b)
    like = {"event_id": event, "partner_id": b, "verdict": "like"}
    assert error(await bot.call("rate_partner", like, user_id=a)) == "rating_closed"
    assert await clean_db.fetchval("SELECT count(*) FROM likes") == 0


async def test_a_report_is_final_and_a_late_match_is_told_to_both(bot, clean_db):
    event = await create_event(clean_db, starts_in=timedelta(hours=-2), state_id=4)
    await clean_db.execute("UPDATE dating_events SET finished_at = now() - interval '1 hour' WHERE id = $1", event)
    a = await create_participant(clean_db, name="Anna", username="anna_a")
    b = await create_participant(clean_db, name="Boris", username="boris_b")
    c = await create_participant(clean_db, name="Cyril")
    for round_no, partner in enumerate((b, c)):
        await held_date(clean_db, event, a, partner, round_no)

    report = {"event_id": event, "partner_id": c, "verdict": "report", "reason": "rude"}
    assert ok(await bot.call("rate_partner", report, user_id=a)) == {"recorded": True, "verdict": "report"}
    like = {"event_id": event, "partner_id": c, "verdict": "like"}
    assert ok(await bot.call("rate_partner", like, user_id=a)) == {"recorded": False, "verdict": "report"}
    assert await clean_db.fetchval("SELECT count(*) FROM reports WHERE user_id = $1 AND partner_id = $2", a, c) == 1
    assert await clean_db.fetchval("SELECT count(*) FROM likes WHERE user_id = $1", a) == 0

    ok(await bot.call("rate_partner", {"event_id": event, "partner_id": b, "verdict": "like"}, user_id=a))
    ok(await bot.call("rate_partner", {"event_id": event, "partner_id": a, "verdict": "like"}, user_id=b))

    def told_matches():
        found = [m for m in bot.notifications if m.type == "send_match_message"]
        return found if len(found) >= 2 else None

    matches = await wait_for(told_matches)
    told = {m.headers["user_id"]: json.loads(m.body)["matches"] for m in matches}
    assert told == {
        a: [{"user_id": b, "name": "Boris", "username": "boris_b"}],
        b: [{"user_id": a, "name": "Anna", "username": "anna_a"}],
    }


async def test_nobody_banned_is_anybody_s_match(bot, clean_db):
    """A ban after the finale: a late like makes no match message, a match message not sent yet goes without them,
    and the Mini App's matches leave them out, on both sides."""
    event = await create_event(clean_db, starts_in=timedelta(hours=-2), state_id=4)
    await clean_db.execute("UPDATE dating_events SET finished_at = now() - interval '1 hour' WHERE id = $1", event)
    a = await create_participant(clean_db, name="Anna", username="anna_a")
    b = await create_participant(clean_db, name="Boris", username="boris_b")
    c = await create_participant(clean_db, name="Cyril", username="cyril_c")
    for round_no, partner in enumerate((b, c)):
        await held_date(clean_db, event, a, partner, round_no)
    for rater, rated in ((a, b), (a, c), (c, a)):
        ok(await bot.call("rate_partner", {"event_id": event, "partner_id": rated, "verdict": "like"}, user_id=rater))
    assert [m["user_id"] for m in ok(await bot.call("list_matches", {}, user_id=a))["matches"]] == [c]
    await clean_db.execute(
        "INSERT INTO banned_users (user_id, reason, banned_by) VALUES ($1, 'x', $2), ($3, 'y', $2)", b, a, c
    )

    like = {"event_id": event, "partner_id": a, "verdict": "like"}
    assert ok(await bot.call("rate_partner", like, user_id=b)) == {"recorded": True, "verdict": "like"}
    told = await clean_db.fetch("SELECT user_id FROM outbox WHERE type = 'send_match_message'")
    assert sorted(r["user_id"] for r in told) == sorted([a, c]), "Anna and Cyril's match, from before the bans, only"
    assert ok(await bot.call("list_matches", {}, user_id=a))["matches"] == []
    assert ok(await bot.call("list_matches", {}, user_id=b))["matches"] == []
    await clean_db.execute(
        """INSERT INTO outbox (message_id, event_id, user_id, type, headers, body) VALUES
           ('named-c', $1, $2, 'send_match_message', $3, $4), ('to-c', $1, $5, 'send_match_message', $6, $7)""",
        event, a, {"user_id": a}, {"event_id": event, "matches": [{"user_id": c, "name": "Cyril", "username": "c"}]},
        c, {"user_id": c}, {"event_id": event, "matches": [{"user_id": a, "name": "Anna", "username": "anna_a"}]},
    )  # fmt: skip
    await wait_for(lambda: clean_db.fetchval("SELECT bool_and(sent_at IS NOT NULL) FROM outbox"))
    published = {m.message_id for m in bot.notifications}
    assert "named-c" not in published, "his contact goes to nobody"
    assert "to-c" not in published, "nor anybody's to him"


# --- 5. CSV export -------------------------------------------------------------------------------


async def test_export_neutralizes_formulas(clean_db):
    event = await create_event(clean_db)
    hostile = ['=HYPERLINK("http://evil","x")', "+1+1", "-2", "@SUM(A1)", "\tTab", "\rCR", "Plain"]
    for name in hostile:
        await register(clean_db, event, await create_participant(clean_db, name=name))
    run = await events_cli("export", str(event))
    assert run.code == 0, run.err
    names = [row["name"] for row in csv.DictReader(io.StringIO(run.out))]
    assert sorted(names) == sorted(["'" + n if n[0] in "=+-@\t\r" else n for n in hostile])


# --- 6. hostile numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b'{"event_id": ' + b"9" * 5000 + b"}", {"user_id": 5}),
        (b'{"event_id": 1}', {"user_id": "9223372036854775808"}),  # 2**63: AMQP carries no wider integer
        (b'{"event_id": 1}', {"user_id": -5}),
        (b'{"event_id": 1}', {"user_id": "99999999999999999999"}),
        (b'{"event_id": 1}', {"user_id": 5, "event_id": "18446744073709551616"}),
        (b'{"event_id": -1}', {"user_id": 5}),
        (b'{"event_id": 9223372036854775808}', {"user_id": 5}),
    ],
)
async def test_hostile_numbers_get_one_bad_request(bot, clean_db, body, headers):
    message_id = await bot.send("register_event", raw=body, headers=headers)
    reply = await bot.reply_to(message_id)
    assert error(reply) == "bad_request"
    await asyncio.sleep(0.2)
    assert len(bot.replies[message_id]) == 1


async def test_a_forged_button_with_an_impossible_id_gets_a_visible_answer(harness):
    user = harness.user(71, "en")
    await harness.say(user, "/help")
    organizers = ["g:s:-5", "g:b:" + "9" * 25, "g:z:0", "g:y:18446744073709551616"]  # the console's buttons too
    for data in [
        "e:r:" + "9" * 5000,
        "e:r:" + "9" * 25,
        "e:r:-3",
        "r:1:0:like",
        "c:18446744073709551616:1",
        *organizers,
    ]:
        [], toast = await harness.press(user, harness.last(user), data=data)
        assert toast and "out of date" in toast, data


# --- 7. floods -----------------------------------------------------------------------------------


async def test_a_flood_reaches_datemaker_at_most_20_times_and_is_told_once(settings, clean_db):
    now = [1000.0]
    flood = FloodGuard(clock=lambda: now[0])  # the defaults: 10 at once, then 1 a second
    async with BotHarness(settings, clean_db, flood=flood) as harness:
        user = harness.user(72, "en")
        for _ in range(100):  # 100 messages in 10 seconds
            await harness.say(user, "/date")
            now[0] += 0.1
        sent = [m.text for m in harness.emulator.bot_messages(user)]
        assert harness.replies <= 20 and len(sent) <= 21
        assert sum("going too fast" in t for t in sent) == 1

        for other in range(2000, 2300):  # many users, each once, over a long time: memory stays bounded
            harness.user(other, "en")
            await harness.say(other, "/help")
            now[0] += 1.0
        assert flood.size <= 11
        assert isinstance(harness.dp.fsm.events_isolation, ReleasingEventIsolation)
        assert harness.dp.fsm.events_isolation.size == 0
        assert harness.dp.fsm.storage is harness.storage


# --- 8. erasure ----------------------------------------------------------------------------------


async def test_delete_me_erases_and_every_later_command_gets_a_clear_answer(harness):
    pool = harness.pool
    user = harness.user(73, "en", first_name="Eve", username="eve_e")
    await harness.create_profile(user, "Eve")
    partner = await create_participant(pool, name="Pat")
    past = await create_event(pool, starts_in=timedelta(hours=-3), state_id=4)
    await pool.execute("UPDATE dating_events SET finished_at = now() - interval '2 hours' WHERE id = $1", past)
    await held_date(pool, past, user, partner)
    await pool.execute("INSERT INTO reports (event_id, user_id, partner_id, reason) VALUES ($1, $2, $3, 'he was rude')",
                       past, user, partner)  # fmt: skip
    upcoming = await create_event(pool, users_limit=1)
    await register(pool, upcoming, user)
    waiting = await create_participant(pool)
    await register(pool, upcoming, waiting, waitlisted=True)
    eve = {"user_id": user, "name": "Eve", "username": "eve_e"}
    await pool.execute(  # a link to the user, and a match message naming her to someone else, both sent
        """INSERT INTO outbox (message_id, event_id, user_id, type, headers, body, sent_at) VALUES
           ('to-eve', $1, $2, 'invite_to_meeting', '{}', '{}', now()),
           ('eve-named', $1, $3, 'send_match_message', '{}', $4, now())""",
        past, user, partner, {"event_id": past, "matches": [eve]},
    )  # fmt: skip

    [question] = await harness.say(user, "/delete_me")
    [kept], _ = await harness.press(user, question, "No, keep it")
    assert kept.text == "Nothing was deleted." and await harness.profile(user)
    [question] = await harness.say(user, "/delete_me")
    [done], _ = await harness.press(user, question, "🗑 Yes, delete everything")
    assert done.text.startswith("Your data is deleted.")

    row = await harness.profile(user)
    assert row["erased_at"] is not None
    assert [row[k] for k in ("name", "gender", "birthday", "city", "bio", "username", "photo_file_id")] == [None] * 7
    assert await pool.fetchval("SELECT reason FROM reports WHERE user_id = $1", user) is None
    assert await pool.fetchval("SELECT count(*) FROM reports WHERE user_id = $1", user) == 1  # the block stays
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE message_id IN ('to-eve', 'eve-named')") == 0
    assert await pool.fetchval("SELECT cancelled_at IS NOT NULL FROM registrations WHERE user_id = $1", user)
    assert not await pool.fetchval("SELECT waitlisted FROM registrations WHERE user_id = $1", waiting)  # promoted
    assert await pool.fetchval("SELECT count(*) FROM event_dates WHERE user_a = $1 OR user_b = $1", user) == 1
    # match messages decided before the erasure and published after it: without her
    other = {"user_id": partner, "name": "Pat", "username": f"user{partner}"}
    await pool.execute(
        """INSERT INTO outbox (message_id, event_id, user_id, type, headers, body) VALUES
           ('only-eve', $1, $2, 'send_match_message', $3, $4), ('eve-and-pat', $1, $5, 'send_match_message', $6, $7)""",
        past, partner, {"user_id": partner}, {"event_id": past, "matches": [eve]},
        waiting, {"user_id": waiting}, {"event_id": past, "matches": [eve, other]},
    )  # fmt: skip
    await wait_for(lambda: [m for m in harness.notifications if m.message_id == "eve-and-pat"])
    [published] = [m for m in harness.notifications if m.message_id == "eve-and-pat"]
    assert json.loads(published.body)["matches"] == [other]
    # the relay marks a message sent after publishing it, and the batch's order is its own
    await wait_for(lambda: pool.fetchval("SELECT sent_at IS NOT NULL FROM outbox WHERE message_id = 'only-eve'"))
    assert not [m for m in harness.notifications if m.message_id == "only-eve"]  # nothing left to tell

    actor = Actor(user, user)
    refused = [
        (c.GetProfile(), "profile_required"),
        (c.RegisterEvent(event_id=upcoming), "profile_required"),
        (c.CancelRegistration(event_id=upcoming), "not_registered"),
        (c.ConfirmRegistration(event_id=upcoming, attending=True), "not_registered"),
        (c.SetReady(event_id=upcoming), "not_registered"),
        (c.RatePartner(event_id=past, partner_id=partner, verdict=Verdict.LIKE), "profile_required"),
        (c.ListMatches(), "profile_required"),
        (c.GetCurrentDate(), "profile_required"),
    ]
    for command, code in refused:
        with pytest.raises(DatemakerError) as refusal:
            await harness.gateway.request(command, actor)
        assert refusal.value.code == code, command
    assert (await harness.gateway.request(c.CancelRegistration(event_id=0), actor)).cancelled == []
    assert (await harness.gateway.request(c.DeleteMyData(), actor)).deleted  # again: harmless
    events = (await harness.gateway.request(c.ListEvents(), actor)).events
    assert [e.my_status for e in events if e.event_id == upcoming] == ["cancelled"]
    [question] = await harness.say(user, "/profile")
    assert "You have no profile yet" in question.text  # /start or /profile: a new start


async def test_retention_erases_profiles_of_people_who_stopped_coming(clean_db):
    now = datetime.now(UTC)
    gone = await create_participant(clean_db, name="Gone", updated_at=now - timedelta(days=100))
    coming = await create_participant(clean_db, name="Coming", updated_at=now - timedelta(days=100))
    await register(clean_db, await create_event(clean_db), coming)
    recent = await create_participant(clean_db, name="Recent", updated_at=now - timedelta(days=10))
    report = await purge_expired(PostgresRetentionDatabase(clean_db), now, 90)
    assert report.erased_profiles == 1
    names = dict(await clean_db.fetch("SELECT user_id, name FROM users"))
    assert names == {gone: None, coming: "Coming", recent: "Recent"}


# --- 9. logs and endpoints -----------------------------------------------------------------------


async def test_meet_links_are_not_logged_at_info(caplog, tmp_path):
    from chathub_sim.meet import MeetEmulator
    from datemaker.adapters.meet import create_meet

    async with MeetEmulator() as emulator:
        meet_client = create_meet(emulator.endpoint, str(tmp_path / "token.json"), "creds.json", 60000.0)
        try:
            with caplog.at_level(logging.INFO):
                space = await meet_client.create_space()
        finally:
            await meet_client.close()
    assert space.meeting_uri and space.meeting_uri not in caplog.text


def test_ops_endpoints_listen_on_localhost_unless_told_otherwise(datemaker):
    from chathub_bot.config import BotSettings
    from datemaker.config import Settings

    assert Settings(_env_file=None).ops_host == "127.0.0.1"
    assert BotSettings(_env_file=None).ops_host == "127.0.0.1"
    assert datemaker.ops.host == "127.0.0.1"
