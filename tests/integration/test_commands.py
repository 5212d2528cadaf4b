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
    assert ok(reply)["status"] == "registered" and ok(reply)["event"]["event_id"] == event
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
    recorded = {"recorded": True, "verdict": "like"}
    assert ok(await bot.call("rate_partner", body, user_id=a)) == recorded
    assert ok(await bot.call("rate_partner", {**body, "partner_id": a}, user_id=b)) == recorded
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


async def _date(pool, event, round_no, a, b, *, invited=True, uri="https://meet.google.com/abc-defg-hij"):
    await pool.execute(
        """INSERT INTO event_dates (event_id, group_no, round_no, user_a, user_b, meeting_uri, invited_at)
           VALUES ($1, 0, $2, $3, $4, $5, CASE WHEN $6 THEN now() END)""",
        event, round_no, min(a, b), max(a, b), uri, invited,
    )  # fmt: skip


async def test_get_current_date_now_next_and_to_rate(bot, clean_db):
    assert error(await bot.call("get_current_date", {}, user_id=77)) == "profile_required"
    me = await create_participant(clean_db, name="Me", gender="F")
    first, second, third = [await create_participant(clean_db, name=f"P{i}", gender="M") for i in range(3)]
    # running: round 0 began 100 s ago and is over (rounds of 60 s, breaks of 30 s); round 1 is on now
    event = await create_event(
        clean_db, starts_in=timedelta(seconds=-100), state_id=3, round_seconds=60, break_seconds=30,
        rounds_planned=3, timezone="Asia/Novosibirsk",
    )  # fmt: skip
    # a finished event of yesterday: one date rated, one not yet (ratings are open for 48 hours)
    earlier, rated = [await create_participant(clean_db, name=f"E{i}", gender="M") for i in range(2)]
    yesterday = await create_event(
        clean_db, starts_in=timedelta(days=-1), state_id=4, finished_at=datetime.now(UTC) - timedelta(hours=23)
    )
    await _date(clean_db, yesterday, 0, me, earlier)
    await _date(clean_db, yesterday, 1, me, rated)
    await clean_db.execute(
        "INSERT INTO likes (event_id, user_id, partner_id) VALUES ($1, $2, $3)", yesterday, me, rated
    )
    await _date(clean_db, event, 0, me, first)
    await _date(clean_db, event, 1, me, second)
    await _date(clean_db, event, 2, me, third, invited=False)
    tonight = ok(await bot.call("get_current_date", {}, user_id=me))
    date = tonight["date"]
    assert (date["event_id"], date["round"], date["partner"]["name"]) == (event, 2, "P1")
    assert date["url"].startswith("https://meet.google.com/") and date["rounds"] == 3
    assert date["starts_at"].endswith("+07:00") and date["timezone"] == "Asia/Novosibirsk"
    starts, ends = datetime.fromisoformat(date["starts_at"]), datetime.fromisoformat(date["ends_at"])
    now = datetime.fromisoformat(tonight["now"])
    assert starts <= now < ends and (ends - starts).total_seconds() == 60
    assert date["next"]["round"] == 3 and date["next"]["partner"]["name"] == "P2"
    assert [(r["event_id"], r["round"], r["partner"]["user_id"]) for r in tonight["to_rate"]] == [
        (yesterday, 1, earlier),
        (event, 1, first),
    ]
    # rating the first partner takes them off the list; the partner of round 3 has no link yet
    ok(await bot.call("rate_partner", {"event_id": event, "partner_id": first, "verdict": "like"}, user_id=me))
    to_rate = ok(await bot.call("get_current_date", {}, user_id=me))["to_rate"]
    assert [r["partner"]["user_id"] for r in to_rate] == [earlier]
    # an erased partner is nobody's date: the next date is then round 3's
    ok(await bot.call("delete_my_data", {}, user_id=second))
    date = ok(await bot.call("get_current_date", {}, user_id=me))["date"]
    assert date["round"] == 3 and date["url"] is None and date["next"] is None
    # somebody else's dates are not mine
    stranger = await create_participant(clean_db)
    assert ok(await bot.call("get_current_date", {}, user_id=stranger)) == {
        "date": None, "now": ANY_TIME, "to_rate": []
    }  # fmt: skip


class _AnyTime:
    def __eq__(self, other):
        return isinstance(other, str) and datetime.fromisoformat(other).tzinfo is not None


ANY_TIME = _AnyTime()


async def test_list_matches_newest_event_first_without_erased_people(bot, clean_db):
    assert error(await bot.call("list_matches", {}, user_id=78)) == "profile_required"
    me = await create_participant(clean_db, name="Me", gender="F")
    old_match, new_match, erased, one_way = [
        await create_participant(clean_db, name=f"M{i}", gender="M", username=f"m{i}_x") for i in range(4)
    ]
    older = await create_event(clean_db, starts_in=timedelta(days=-9), state_id=4)
    newer = await create_event(clean_db, starts_in=timedelta(days=-2), state_id=4)
    running = await create_event(clean_db, starts_in=timedelta(minutes=-5), state_id=3)
    likes = [
        (older, me, old_match), (older, old_match, me), (newer, me, new_match), (newer, new_match, me),
        (newer, me, erased), (newer, erased, me), (newer, me, one_way), (running, me, old_match),
        (running, old_match, me),
    ]  # fmt: skip
    await clean_db.executemany("INSERT INTO likes (event_id, user_id, partner_id) VALUES ($1, $2, $3)", likes)
    ok(await bot.call("delete_my_data", {}, user_id=erased))
    matches = ok(await bot.call("list_matches", {}, user_id=me))["matches"]
    assert matches == [
        {"event_id": newer, "user_id": new_match, "name": "M1", "username": "m1_x"},
        {"event_id": older, "user_id": old_match, "name": "M0", "username": "m0_x"},
    ]
    assert ok(await bot.call("list_matches", {}, user_id=new_match))["matches"][0]["user_id"] == me


async def test_list_events_says_when_a_confirmation_can_be_given(bot, clean_db):
    user = await create_participant(clean_db)
    event = await create_event(clean_db, starts_in=timedelta(hours=5), state_id=1)
    await register(clean_db, event, user)
    assert ok(await bot.call("list_events", {}, user_id=user))["events"][0]["can_confirm"] is False
    await clean_db.execute("UPDATE registrations SET confirmation_sent_at = now() WHERE user_id = $1", user)
    assert ok(await bot.call("list_events", {}, user_id=user))["events"][0]["can_confirm"] is True
    ok(await bot.call("confirm_registration", {"event_id": event, "attending": True}, user_id=user))
    assert ok(await bot.call("list_events", {}, user_id=user))["events"][0]["can_confirm"] is False


async def test_an_event_with_an_age_range_refuses_other_ages_and_lists_its_range(bot, clean_db):
    young = await create_participant(clean_db, birthday=datetime.now(UTC).date().replace(year=2004))
    old = await create_participant(clean_db, birthday=datetime.now(UTC).date().replace(year=1970))
    fits = await create_participant(clean_db, birthday=datetime.now(UTC).date().replace(year=1994))
    event = await create_event(clean_db, min_age=25, max_age=40)
    refused = await bot.call("register_event", {"event_id": event}, user_id=young)
    assert error(refused) == "not_eligible" and "25-40" in refused["error"]["message"]
    assert error(await bot.call("register_event", {"event_id": event}, user_id=old)) == "not_eligible"
    assert ok(await bot.call("register_event", {"event_id": event}, user_id=fits))["status"] == "registered"
    listed = ok(await bot.call("list_events", {}, user_id=fits))["events"][0]
    assert (listed["min_age"], listed["max_age"], listed["my_status"]) == (25, 40, "registered")


async def test_partner_ages_are_kept_optional_and_checked(bot, clean_db):
    saved = ok(await bot.call("upsert_profile", {**PROFILE, "partner_age_min": 28, "partner_age_max": 38}, user_id=13))
    assert (saved["profile"]["partner_age_min"], saved["profile"]["partner_age_max"]) == (28, 38)
    kept = ok(await bot.call("upsert_profile", PROFILE, user_id=13))["profile"]
    assert kept["partner_age_min"] == 28  # not sent: kept
    bad = {**PROFILE, "partner_age_min": 50, "partner_age_max": 30}
    assert error(await bot.call("upsert_profile", bad, user_id=13)) == "bad_request"
    cleared = ok(await bot.call("upsert_profile", {**PROFILE, "partner_age_min": None}, user_id=13))["profile"]
    assert cleared["partner_age_min"] is None and cleared["partner_age_max"] == 38
