"""Every datemaker command, sent as a real message through RabbitMQ and answered by a running datemaker."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.factories import create_event, create_participant, register

pytestmark = pytest.mark.usefixtures("datemaker")

PROFILE = {"name": "Anna", "gender": "F", "birthday": "1994-03-01", "city": "msk", "bio": "Hi", "username": "anna_k"}


def ok(reply):
    assert reply["ok"] is True, reply
    return reply["data"]


def error(reply):
    assert reply["ok"] is False, reply
    return reply["error"]["code"]


async def test_profile_upsert_then_get(bot, clean_db):
    assert error(await bot.call("get_profile", {}, user_id=11)) == "profile_required"
    profile = ok(await bot.call("upsert_profile", PROFILE, user_id=11))["profile"]
    assert profile["name"] == "Anna" and profile["age"] >= 30 and profile["username"] == "anna_k"
    ok(await bot.call("upsert_profile", {**PROFILE, "city": "spb"}, user_id=11))
    fetched = ok(await bot.call("get_profile", {}, user_id=11))["profile"]
    assert fetched["city"] == "spb" and fetched["bio"] == "Hi"  # fields not sent are kept
    cleared = ok(await bot.call("upsert_profile", {**PROFILE, "bio": None}, user_id=11))["profile"]
    assert cleared.get("bio") is None


async def test_underage_and_future_birthdays_are_refused(bot, clean_db):
    young = (datetime.now(UTC).date() - timedelta(days=365 * 17)).isoformat()
    assert error(await bot.call("upsert_profile", {**PROFILE, "birthday": young}, user_id=12)) == "bad_request"
    assert error(await bot.call("upsert_profile", {**PROFILE, "birthday": "2999-01-01"}, user_id=12)) == "bad_request"
    assert error(await bot.call("get_profile", {}, user_id=12)) == "profile_required"


async def test_list_events_shows_upcoming_in_their_timezone(bot, clean_db):
    user = await create_participant(clean_db)
    soon = await create_event(clean_db, starts_in=timedelta(days=1), timezone="Asia/Novosibirsk", users_limit=10)
    later = await create_event(clean_db, starts_in=timedelta(days=8))
    await create_event(clean_db, starts_in=timedelta(days=-1))  # in the past
    await create_event(clean_db, starts_in=timedelta(days=2), state_id=6)  # cancelled
    await register(clean_db, soon, user)
    events = ok(await bot.call("list_events", {}, user_id=user))["events"]
    assert [e["event_id"] for e in events] == [soon, later]
    first = events[0]
    assert first["timezone"] == "Asia/Novosibirsk" and first["starts_at"].endswith("+07:00")
    assert (first["capacity"], first["registered"], first["spots_left"]) == (10, 1, 9)
    assert first["state"] == "NOT_STARTED" and first["my_status"] == "registered"
    assert events[1]["my_status"] is None


async def test_register_fills_seats_then_waitlist_then_event_full(bot, clean_db):
    event = await create_event(clean_db, users_limit=2)
    users = [await create_participant(clean_db) for _ in range(5)]
    statuses = [ok(await bot.call("register_event", {"event_id": event}, user_id=u))["status"] for u in users[:4]]
    assert statuses == ["registered", "registered", "waitlisted", "waitlisted"]
    assert error(await bot.call("register_event", {"event_id": event}, user_id=users[4])) == "event_full"
    again = await bot.call("register_event", {"event_id": event}, user_id=users[0])
    assert ok(again)["status"] == "already_registered"
    row = await clean_db.fetchrow("SELECT registered_count, waitlisted_count FROM dating_events WHERE id = $1", event)
    assert tuple(row) == (2, 2)


async def test_register_errors(bot, clean_db):
    user = await create_participant(clean_db)
    assert error(await bot.call("register_event", {"event_id": 999_999}, user_id=user)) == "event_not_found"
    event = await create_event(clean_db)
    assert error(await bot.call("register_event", {"event_id": event}, user_id=777)) == "profile_required"
    closing = await create_event(clean_db, starts_in=timedelta(minutes=30))  # past the confirmation deadline
    assert error(await bot.call("register_event", {"event_id": closing}, user_id=user)) == "registration_closed"
    running = await create_event(clean_db, state_id=3)
    assert error(await bot.call("register_event", {"event_id": running}, user_id=user)) == "registration_closed"


async def test_cancel_frees_the_seat_for_the_first_waitlisted(bot, clean_db):
    event = await create_event(clean_db, users_limit=2)
    first, second, third, fourth = [await create_participant(clean_db) for _ in range(4)]
    for u in (first, second, third, fourth):
        await bot.call("register_event", {"event_id": event}, user_id=u)
    assert ok(await bot.call("cancel_registration", {"event_id": event}, user_id=first)) == {"cancelled": [event]}
    statuses = {
        r["user_id"]: r["waitlisted"]
        for r in await clean_db.fetch("SELECT user_id, waitlisted FROM registrations WHERE cancelled_at IS NULL")
    }
    assert statuses == {second: False, third: False, fourth: True}
    counts = await clean_db.fetchrow(
        "SELECT registered_count, waitlisted_count FROM dating_events WHERE id = $1", event
    )
    assert tuple(counts) == (2, 1)
    assert error(await bot.call("cancel_registration", {"event_id": event}, user_id=first)) == "not_registered"
    # Registering again after a cancellation starts afresh (at the back of the queue).
    assert ok(await bot.call("register_event", {"event_id": event}, user_id=first))["status"] == "waitlisted"


async def test_cancel_all_upcoming_registrations(bot, clean_db):
    user = await create_participant(clean_db)
    events = [await create_event(clean_db, starts_in=timedelta(days=d)) for d in (2, 3)]
    started = await create_event(clean_db, starts_in=timedelta(minutes=-5), state_id=3)
    for e in events:
        await bot.call("register_event", {"event_id": e}, user_id=user)
    await register(clean_db, started, user)
    assert ok(await bot.call("cancel_registration", {"event_id": 0}, user_id=user)) == {"cancelled": events}
    assert ok(await bot.call("cancel_registration", {"event_id": 0}, user_id=user)) == {"cancelled": []}


async def test_confirmation_needs_a_request_and_beats_the_deadline(bot, clean_db):
    event = await create_event(clean_db, starts_in=timedelta(hours=5), state_id=1)
    user, other, waiting = [await create_participant(clean_db) for _ in range(3)]
    await register(clean_db, event, user)
    await register(clean_db, event, other)
    body = {"event_id": event, "attending": True}
    assert error(await bot.call("confirm_registration", body, user_id=user)) == "confirmation_not_open"
    await clean_db.execute("UPDATE registrations SET confirmation_sent_at = now() WHERE event_id = $1", event)
    assert ok(await bot.call("confirm_registration", body, user_id=user)) == {"status": "confirmed"}
    assert ok(await bot.call("confirm_registration", body, user_id=user)) == {"status": "confirmed"}
    assert error(await bot.call("confirm_registration", body, user_id=waiting)) == "not_registered"
    declined = await bot.call("confirm_registration", {"event_id": event, "attending": False}, user_id=other)
    assert ok(declined) == {"status": "declined"}
    assert error(await bot.call("confirm_registration", body, user_id=other)) == "not_registered"
    await clean_db.execute("UPDATE dating_events SET start_dttm = now() + interval '30 minutes' WHERE id = $1", event)
    assert error(await bot.call("confirm_registration", body, user_id=user)) == "confirmation_closed"


async def test_legacy_form_from_the_seed_bot(bot, clean_db):
    user = await create_participant(clean_db)
    event = await create_event(clean_db)
    reply = await bot.call(
        None,
        raw=b"register_event",
        headers={"user_id": str(user), "chat_id": str(user), "message_id": "55", "event_id": str(event)},
    )
    assert ok(reply) == {"status": "registered"}
    message = bot.replies[next(reversed(bot.replies))][0]
    assert message.type == "register_event.result"
    assert message.headers["message_id"] == 55 and message.headers["event_id"] == event


async def test_rate_partner_only_after_a_date(bot, clean_db):
    event = await create_event(clean_db)
    a, b, c = [await create_participant(clean_db) for _ in range(3)]
    body = {"event_id": event, "partner_id": b, "verdict": "like"}
    assert error(await bot.call("rate_partner", body, user_id=a)) == "not_your_partner"
    await clean_db.execute(
        "INSERT INTO event_dates (event_id, group_no, round_no, user_a, user_b) VALUES ($1, 0, 0, $2, $3)",
        event, min(a, b), max(a, b),
    )  # fmt: skip
    assert error(await bot.call("rate_partner", body, user_id=a)) == "not_your_partner"  # planned, not held yet
    await clean_db.execute("UPDATE event_dates SET invited_at = now() WHERE event_id = $1", event)
    assert ok(await bot.call("rate_partner", body, user_id=a)) == {"recorded": True}
    assert ok(await bot.call("rate_partner", {**body, "partner_id": a}, user_id=b)) == {"recorded": True}
    assert await clean_db.fetchval("SELECT count(*) FROM matches WHERE event_id = $1", event) == 2
    report = {"event_id": event, "partner_id": a, "verdict": "report", "reason": "rude"}
    assert ok(await bot.call("rate_partner", report, user_id=b))["recorded"]
    assert await clean_db.fetchval("SELECT count(*) FROM matches WHERE event_id = $1", event) == 0
    assert await clean_db.fetchval("SELECT reason FROM reports WHERE user_id = $1", b) == "rude"
    assert error(await bot.call("rate_partner", {**body, "partner_id": c}, user_id=a)) == "not_your_partner"
    assert error(await bot.call("rate_partner", {**body, "partner_id": a}, user_id=a)) == "not_your_partner"
    assert error(await bot.call("rate_partner", {**body, "event_id": 424242}, user_id=a)) == "event_not_found"


async def test_set_ready(bot, clean_db):
    event = await create_event(clean_db)
    user = await create_participant(clean_db)
    assert error(await bot.call("set_ready", {"event_id": event}, user_id=user)) == "not_registered"
    await register(clean_db, event, user)
    assert ok(await bot.call("set_ready", {"event_id": event}, user_id=user)) == {"ready": True}
    assert await clean_db.fetchval("SELECT ready_at IS NOT NULL FROM registrations WHERE user_id = $1", user)


@pytest.mark.parametrize(
    ("command", "raw", "code"),
    [
        ("register_event", b"{oops", "bad_request"),
        ("register_event", b'{"event_id": "ten"}', "bad_request"),
        ("register_event", b"{}", "bad_request"),
        ("launch_rockets", b"{}", "unknown_command"),
        ("upsert_profile", b'{"name": "<b>x</b>\'; DROP TABLE users; --", "gender": "F"}', "bad_request"),
        ("list_events", b"{" + b" " * 70_000 + b"}", "payload_too_large"),
    ],
)
async def test_malformed_commands_get_an_error_reply(bot, clean_db, command, raw, code):
    reply = await bot.call(command, raw=raw, user_id=5)
    assert error(reply) == code
    assert reply["error"]["message"]


async def test_unknown_user_header_is_a_bad_request(bot, clean_db):
    reply = await bot.call("list_events", {}, headers={"user_id": "not-a-number"})
    assert error(reply) == "bad_request" and "user_id" in reply["error"]["message"]


async def test_injection_in_text_fields_is_stored_verbatim(bot, clean_db):
    name = "Robert'); DROP TABLE users;-- <script>"
    profile = ok(await bot.call("upsert_profile", {**PROFILE, "name": name}, user_id=31))["profile"]
    assert profile["name"] == name
    assert await clean_db.fetchval("SELECT name FROM users WHERE user_id = 31") == name


async def test_a_rush_of_registrations_never_overbooks(bot, clean_db):
    """60 people at once for 10 seats and 10 waitlist places: exact counts, whatever the interleaving."""
    event = await create_event(clean_db, users_limit=10)
    users = [await create_participant(clean_db) for _ in range(60)]
    ids = [await bot.send("register_event", {"event_id": event}, user_id=u) for u in users]
    replies = [await bot.reply_to(i, timeout=30) for i in ids]
    outcomes = [r["data"]["status"] if r["ok"] else r["error"]["code"] for r in replies]
    assert (outcomes.count("registered"), outcomes.count("waitlisted"), outcomes.count("event_full")) == (10, 10, 40)
    row = await clean_db.fetchrow(
        """SELECT e.registered_count, e.waitlisted_count,
                  count(*) FILTER (WHERE NOT r.waitlisted) AS seated, count(*) FILTER (WHERE r.waitlisted) AS waiting
           FROM dating_events e JOIN registrations r ON r.event_id = e.id WHERE e.id = $1
           GROUP BY e.id""",
        event,
    )
    assert tuple(row) == (10, 10, 10, 10)


async def test_double_click_registers_once(bot, clean_db):
    event = await create_event(clean_db)
    user = await create_participant(clean_db)
    ids = [await bot.send("register_event", {"event_id": event}, user_id=user) for _ in range(6)]
    statuses = sorted([(await bot.reply_to(i))["data"]["status"] for i in ids])
    assert statuses == ["already_registered"] * 5 + ["registered"]
    assert await clean_db.fetchval("SELECT registered_count FROM dating_events WHERE id = $1", event) == 1
