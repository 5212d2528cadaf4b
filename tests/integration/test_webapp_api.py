"""The Mini App's API (``/app/api/``) against the real datemaker: Telegram's init data checked (valid, forged,
expired, another bot's), every route, hostile input, the per-user limit, and the metrics by route template."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from prometheus_client import REGISTRY

from chathub_bot.guards import FloodGuard
from chathub_sim.telegram.webapp import init_data, sign_init_data
from tests.support.bot import TOKEN, BotHarness
from tests.support.factories import create_event, create_participant, register

OTHER_BOT = "555555555:AAAnotherBotTokenNotChathubs_0123456"


@pytest.fixture
async def harness(settings, datemaker, clean_db):
    async with BotHarness(settings, clean_db, webapp_url="https://chathub.example.org/app/") as harness:
        yield harness
    assert not harness.errors.records, [r.getMessage() for r in harness.errors.records]


class Client:
    """The page's side: API calls with ``Authorization: tma <initData>``."""

    def __init__(self, base: str, session: aiohttp.ClientSession, data: str | None) -> None:
        self.base, self.session, self.data = base, session, data

    async def call(self, method: str, path: str, body=None, *, raw: bytes | None = None, auth: str | None = None):
        headers = {}
        if auth is not None:
            headers["Authorization"] = auth
        elif self.data is not None:
            headers["Authorization"] = f"tma {self.data}"
        kwargs = {"data": raw} if raw is not None else {"json": body} if body is not None else {}
        async with self.session.request(method, f"{self.base}/app/api/{path}", headers=headers, **kwargs) as response:
            text = await response.read()
            try:
                payload = json.loads(text)
            except ValueError:
                payload = text
            return response.status, payload, response.headers


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


def client(harness, http, user_id: int, **kwargs) -> Client:
    harness.user(user_id, "en", first_name="Anna", username=f"anna{user_id}")
    return Client(harness.webapp_base, http, harness.emulator.init_data(user_id, **kwargs))


def error_code(payload) -> str:
    assert payload["ok"] is False, payload
    return payload["error"]["code"]


# --- who is calling ---------------------------------------------------------------------------------


async def test_init_data_valid_forged_expired_and_another_bots(harness, http, clean_db):
    await create_participant(clean_db, 501)
    me = client(harness, http, 501)
    status, payload, headers = await me.call("GET", "me")
    assert status == 200 and payload["data"]["profile"]["user_id"] == 501
    assert headers["Cache-Control"] == "no-store"

    user = {"id": 501, "first_name": "Anna"}
    forged_user = me.data.replace("%22id%22%3A501", "%22id%22%3A502")  # another user, the hash left as it was
    assert forged_user != me.data
    refused = {
        "no header": Client(harness.webapp_base, http, None),
        "forged user": Client(harness.webapp_base, http, forged_user),
        "no hash": Client(harness.webapp_base, http, me.data.split("&hash=")[0]),
        "another bot": Client(harness.webapp_base, http, init_data(OTHER_BOT, user)),
        "expired": Client(harness.webapp_base, http, init_data(TOKEN, user, auth_date=time.time() - 25 * 3600)),
        "from the future": Client(harness.webapp_base, http, init_data(TOKEN, user, auth_date=time.time() + 3600)),
        "no user": Client(harness.webapp_base, http, sign_init_data(TOKEN, {"auth_date": str(int(time.time()))})),
        "garbage": Client(harness.webapp_base, http, "%%%&&&=" * 10),
        "huge": Client(harness.webapp_base, http, me.data + "&x=" + "b" * 6000),
    }
    for why, caller in refused.items():
        status, payload, _ = await caller.call("GET", "me")
        assert (status, error_code(payload)) == (401, "unauthorized"), why
    for header in ("Bearer x", "tma", "tma ", f"Basic {me.data}"):
        status, payload, _ = await me.call("GET", "me", auth=header)
        assert status == 401, header
    # a day's data is still good; the signature covers every field
    recent = Client(harness.webapp_base, http, init_data(TOKEN, user, auth_date=time.time() - 23 * 3600))
    assert (await recent.call("GET", "me"))[0] == 200


async def test_the_user_acts_only_as_themself(harness, http, clean_db):
    """Nothing in a request names the user but the signed init data: a body's user id is ignored."""
    event = await create_event(clean_db)
    await create_participant(clean_db, 511)
    await create_participant(clean_db, 512)
    me = client(harness, http, 511)
    status, payload, _ = await me.call("POST", f"events/{event}/registration", {"user_id": 512})
    assert status == 200 and payload["data"]["status"] == "registered"
    rows = await clean_db.fetch("SELECT user_id FROM registrations WHERE event_id = $1", event)
    assert [row["user_id"] for row in rows] == [511]


# --- every route ------------------------------------------------------------------------------------


async def test_profile_routes(harness, http, clean_db):
    me = client(harness, http, 521)
    status, payload, _ = await me.call("GET", "me")
    assert (status, error_code(payload)) == (409, "profile_required")
    await harness.create_profile(521, "Anna")  # the chat's /start makes the profile
    status, payload, _ = await me.call("GET", "me")
    assert status == 200 and payload["data"]["profile"]["name"] == "Anna"

    new = {"name": "Anya", "gender": "F", "birthday": "1995-05-17", "city": "Kazan", "bio": "Hello"}
    status, payload, _ = await me.call("PUT", "me", {**new, "photo_file_id": "stolen", "user_id": 1})
    assert status == 200, payload
    profile = payload["data"]["profile"]
    assert (profile["name"], profile["city"], profile["bio"], profile["username"]) == (
        "Anya",
        "Kazan",
        "Hello",
        "anna521",
    )
    row = await harness.profile(521)
    assert row["photo_file_id"] is None and row["language"] == "en"

    status, payload, _ = await me.call("PUT", "me", {**new, "birthday": "2999-01-01", "name": ""})
    assert status == 400 and error_code(payload) == "bad_request"
    assert payload["error"]["fields"] == ["name"]  # the contract refuses the empty name before datemaker sees it
    status, payload, _ = await me.call("PUT", "me", {**new, "birthday": "2999-01-01"})
    assert status == 400 and "birthday" in payload["error"]["message"]  # datemaker's rule
    for raw in (b"not json", b"[1, 2]", b'"text"', b"{" * 10_000):
        status, payload, _ = await me.call("PUT", "me", raw=raw)
        assert status in (400, 413) and payload["ok"] is False, raw[:10]
    status, payload, _ = await me.call("PUT", "me", raw=b'{"bio": "' + b"x" * 40_000 + b'"}')
    assert (status, error_code(payload)) == (413, "payload_too_large")

    status, payload, _ = await me.call("DELETE", "me")
    assert status == 200 and payload["data"] == {"deleted": True}
    assert (await me.call("GET", "me"))[0] == 409


async def test_event_routes_register_confirm_cancel(harness, http, clean_db):
    event = await create_event(clean_db, starts_in=timedelta(hours=30), timezone="Asia/Novosibirsk", users_limit=1)
    await create_participant(clean_db, 531)
    await create_participant(clean_db, 532)
    me, other = client(harness, http, 531), client(harness, http, 532)

    status, payload, _ = await me.call("GET", "events")
    (listed,) = payload["data"]["events"]
    assert status == 200 and listed["event_id"] == event and listed["starts_at"].endswith("+07:00")
    assert listed["my_status"] is None and listed["spots_left"] == 1

    status, payload, _ = await me.call("POST", f"events/{event}/registration")
    assert status == 200 and payload["data"]["status"] == "registered"
    assert payload["data"]["event"]["my_status"] == "registered"
    assert (await me.call("POST", f"events/{event}/registration"))[1]["data"]["status"] == "already_registered"
    assert (await other.call("POST", f"events/{event}/registration"))[1]["data"]["status"] == "waitlisted"

    status, payload, _ = await me.call("POST", f"events/{event}/confirmation", {"attending": True})
    assert (status, error_code(payload)) == (409, "confirmation_not_open")
    await clean_db.execute("UPDATE registrations SET confirmation_sent_at = now() WHERE user_id = 531")
    assert (await me.call("GET", "events"))[1]["data"]["events"][0]["can_confirm"] is True
    for body in ({"attending": "yes"}, {}, {"attending": 1}):
        status, payload, _ = await me.call("POST", f"events/{event}/confirmation", body)
        assert (status, error_code(payload)) == (400, "bad_request"), body
    status, payload, _ = await me.call("POST", f"events/{event}/confirmation", {"attending": True})
    assert status == 200 and payload["data"] == {"status": "confirmed"}

    status, payload, _ = await me.call("DELETE", f"events/{event}/registration")
    assert status == 200 and payload["data"] == {"cancelled": [event]}
    assert (await other.call("GET", "events"))[1]["data"]["events"][0]["my_status"] == "registered"  # promoted
    status, payload, _ = await me.call("DELETE", f"events/{event}/registration")
    assert (status, error_code(payload)) == (409, "not_registered")


@pytest.mark.parametrize(
    "path", ["0", "-1", "abc", "1.5", "99999999999999999999", "9223372036854775808", "%20", "1e3", "０１"]
)
async def test_hostile_ids_are_refused(harness, http, clean_db, path):
    await create_participant(clean_db, 541)
    me = client(harness, http, 541)
    for method, route in (("POST", "registration"), ("DELETE", "registration"), ("POST", "confirmation")):
        status, payload, _ = await me.call(method, f"events/{path}/{route}", {"attending": True})
        assert (status, error_code(payload)) == (400, "bad_request"), (method, route)
    status, payload, _ = await me.call("GET", f"photos/{path}")
    assert (status, error_code(payload)) == (400, "bad_request")


async def test_unknown_event_route_and_method(harness, http, clean_db):
    await create_participant(clean_db, 545)
    me = client(harness, http, 545)
    status, payload, _ = await me.call("POST", "events/424242/registration")
    assert (status, error_code(payload)) == (404, "event_not_found")
    status, payload, _ = await me.call("GET", "nothing/here")
    assert (status, error_code(payload)) == (404, "not_found")
    status, payload, _ = await me.call("PATCH", "events")
    assert (status, error_code(payload)) == (405, "not_found")


async def _date(pool, event, round_no, a, b, invited=True, uri="https://meet.google.com/abc-mnop-xyz"):
    await pool.execute(
        """INSERT INTO event_dates (event_id, group_no, round_no, user_a, user_b, meeting_uri, invited_at)
           VALUES ($1, 0, $2, $3, $4, $6, CASE WHEN $5 THEN now() END)""",
        event, round_no, min(a, b), max(a, b), invited, uri,
    )  # fmt: skip


async def test_tonight_photos_ratings_and_matches(harness, http, clean_db):
    photo = harness.emulator.send_photo(552)["message"]["photo"][-1]["file_id"]  # a photo Telegram knows
    me = await create_participant(clean_db, 551, name="Me", gender="F")
    first = await create_participant(clean_db, 552, name="Boris", gender="M", photo_file_id=photo)
    second = await create_participant(clean_db, 553, name="Oleg", gender="M", photo_file_id=photo)
    stranger = await create_participant(clean_db, 554, name="Stranger", gender="M", photo_file_id=photo)
    event = await create_event(
        clean_db, starts_in=timedelta(seconds=-100), state_id=3, round_seconds=60, break_seconds=30, rounds_planned=2
    )
    await _date(clean_db, event, 0, me, first)
    await _date(clean_db, event, 1, me, second)
    caller = client(harness, http, me)

    status, payload, _ = await caller.call("GET", "tonight")
    assert status == 200
    date = payload["data"]["date"]
    assert (date["round"], date["partner"]["name"], date["url"]) == (2, "Oleg", "https://meet.google.com/abc-mnop-xyz")
    assert date["partner"]["photo_url"] == f"/app/api/photos/{second}"
    assert photo not in json.dumps(payload), "Telegram file ids never reach the page"
    (to_rate,) = payload["data"]["to_rate"]
    assert to_rate["partner"]["user_id"] == first

    status, body, headers = await caller.call("GET", f"photos/{second}")
    assert status == 200 and headers["Content-Type"] == "image/png" and body.startswith(b"\x89PNG")
    assert (await caller.call("GET", f"photos/{first}"))[0] == 200  # to rate: still someone met tonight
    status, payload, _ = await caller.call("GET", f"photos/{stranger}")
    assert (status, error_code(payload)) == (404, "not_found")
    assert (await caller.call("GET", f"photos/{me}"))[0] == 404  # no photo of my own
    assert (await client(harness, http, stranger).call("GET", f"photos/{stranger}"))[0] == 200  # my own

    verdict = {"partner_id": first, "verdict": "like"}
    status, payload, _ = await caller.call("POST", f"events/{event}/ratings", verdict)
    assert status == 200 and payload["data"] == {"recorded": True, "verdict": "like"}
    status, payload, _ = await caller.call(
        "POST", f"events/{event}/ratings", {"partner_id": stranger, "verdict": "like"}
    )
    assert (status, error_code(payload)) == (403, "not_your_partner")
    status, payload, _ = await caller.call("POST", f"events/{event}/ratings", {"partner_id": first, "verdict": "love"})
    assert (status, error_code(payload)) == (400, "bad_request") and payload["error"]["fields"] == ["verdict"]

    status, payload, _ = await caller.call("GET", "matches")
    assert status == 200 and payload["data"] == {"matches": []}
    await clean_db.execute("INSERT INTO likes (event_id, user_id, partner_id) VALUES ($1, $2, $3)", event, first, me)
    await clean_db.execute("UPDATE dating_events SET state_id = 4, finished_at = now() WHERE id = $1", event)
    status, payload, _ = await caller.call("GET", "matches")
    assert payload["data"]["matches"] == [{"event_id": event, "user_id": first, "name": "Boris", "username": "user552"}]


async def test_my_partner_isnt_here(harness, http, clean_db):
    """The invitation's "my partner isn't here" from the page: refused outside the running round, nobody free (and
    when the next date is), a rescue partner named, and tonight showing the rescue date instead of the given-up one."""
    photo = harness.emulator.send_photo(603)["message"]["photo"][-1]["file_id"]
    anna = await create_participant(clean_db, 601, name="Anna", gender="F", photo_file_id=photo)
    vera = await create_participant(clean_db, 602, name="Vera", gender="F")
    boris = await create_participant(clean_db, 603, name="Boris", gender="M", photo_file_id=photo)
    oleg = await create_participant(clean_db, 604, name="Oleg", gender="M")
    ivan = await create_participant(clean_db, 605, name="Ivan", gender="M")
    # Round 2 of 3 runs now (rounds of 60 s with 30 s breaks, started 100 s ago: round 2 is 90 s to 150 s in).
    event = await create_event(
        clean_db, starts_in=timedelta(seconds=-100), state_id=3, round_seconds=60, break_seconds=30, rounds_planned=3
    )
    for user in (anna, vera, boris, oleg, ivan):
        await register(clean_db, event, user, confirmed_at=datetime.now(UTC))
    await _date(clean_db, event, 1, anna, oleg, uri="https://meet.google.com/aaa-aaaa-aaa")
    await _date(clean_db, event, 1, vera, boris, uri="https://meet.google.com/bbb-bbbb-bbb")
    await _date(clean_db, event, 2, anna, ivan, invited=False)
    later = await create_event(clean_db)
    by = {user: client(harness, http, user) for user in (anna, vera, boris, oleg)}

    for round_no in (1, 3):  # over, not begun
        status, payload, _ = await by[anna].call("POST", f"events/{event}/absence", {"round": round_no})
        assert (status, error_code(payload)) == (409, "round_not_running"), round_no
    status, payload, _ = await by[anna].call("POST", f"events/{later}/absence", {"round": 1})
    assert (status, error_code(payload)) == (409, "round_not_running")
    status, payload, _ = await by[anna].call("POST", "events/424242/absence", {"round": 2})
    assert (status, error_code(payload)) == (404, "event_not_found")

    # Anna's partner is missing and nobody else is stranded: nobody free, and her next date is round 3.
    status, payload, _ = await by[anna].call("POST", f"events/{event}/absence", {"round": 2})
    assert status == 200, payload
    data = payload["data"]
    assert (data["status"], data["next_round"], data["partner"]) == ("no_one_free", 3, None)
    start = await clean_db.fetchval("SELECT start_dttm FROM dating_events WHERE id = $1", event)
    assert datetime.fromisoformat(data["next_starts_at"]) == start + timedelta(seconds=2 * 90)
    # Boris's partner is missing too: the two stranded people are paired for the rest of the round.
    status, payload, _ = await by[boris].call("POST", f"events/{event}/absence", {"round": 2})
    assert status == 200, payload
    data = payload["data"]
    assert data["status"] == "rematched" and data["partner"]["user_id"] == anna
    assert data["partner"]["name"] == "Anna" and data["partner"]["photo_url"] == f"/app/api/photos/{anna}"
    assert photo not in json.dumps(payload)
    rescue = await clean_db.fetchrow("SELECT * FROM event_dates WHERE event_id = $1 AND rescue", event)
    assert {rescue["user_a"], rescue["user_b"]} == {anna, boris} and rescue["round_no"] == 1
    for me, partner in ((anna, boris), (boris, anna)):
        status, payload, _ = await by[me].call("GET", "tonight")
        date = payload["data"]["date"]
        assert (date["round"], date["partner"]["user_id"]) == (2, partner), me  # not the partner who never came
        assert not payload["data"]["to_rate"]
    # The absent ones have no date in the round any more.
    for absent in (oleg, vera):
        status, payload, _ = await by[absent].call("POST", f"events/{event}/absence", {"round": 2})
        assert (status, error_code(payload)) == (403, "not_your_partner"), absent
    assert sample("/app/api/events/{event_id}/absence", "POST", "200") >= 2


@pytest.mark.parametrize(
    "body",
    [{}, {"round": None}, {"round": 0}, {"round": -1}, {"round": 1001}, {"round": 2**63}, {"round": "2"},
     {"round": 2.5}, {"round": True}, {"round": [2]}, {"rounds": 2}],
)  # fmt: skip
async def test_absence_refuses_hostile_bodies(harness, http, clean_db, body):
    await create_participant(clean_db, 611)
    event = await create_event(clean_db)
    me = client(harness, http, 611)
    status, payload, _ = await me.call("POST", f"events/{event}/absence", body)
    assert (status, error_code(payload)) == (400, "bad_request") and payload["error"]["fields"] == ["round"], body


async def test_absence_refuses_hostile_ids_raw_bodies_and_strangers(harness, http, clean_db):
    await create_participant(clean_db, 621)
    event = await create_event(clean_db)
    me = client(harness, http, 621)
    for path in ("0", "-1", "abc", "1.5", "99999999999999999999", "9223372036854775808", "%20", "1e3", "０１"):
        status, payload, _ = await me.call("POST", f"events/{path}/absence", {"round": 1})
        assert (status, error_code(payload)) == (400, "bad_request"), path
    for raw in (b"not json", b"[1, 2]", b'"text"', b"{" * 10_000):
        status, payload, _ = await me.call("POST", f"events/{event}/absence", raw=raw)
        assert status in (400, 413) and payload["ok"] is False, raw[:10]
    status, payload, _ = await me.call("GET", f"events/{event}/absence")
    assert (status, error_code(payload)) == (405, "not_found")
    forged = me.data.replace("%22id%22%3A621", "%22id%22%3A622")
    assert forged != me.data
    for caller in (Client(harness.webapp_base, http, None), Client(harness.webapp_base, http, forged)):
        status, payload, _ = await caller.call("POST", f"events/{event}/absence", {"round": 1})
        assert (status, error_code(payload)) == (401, "unauthorized")


async def test_a_flooding_user_is_limited_like_in_the_chat(settings, datemaker, clean_db, http):
    async with BotHarness(settings, clean_db, flood=FloodGuard(burst=3, per_second=0.01)) as harness:
        await create_participant(clean_db, 561)
        me = client(harness, http, 561)
        statuses = [(await me.call("GET", "events"))[:3:2] for _ in range(5)]
        assert [s for s, _ in statuses] == [200, 200, 200, 429, 429]
        assert statuses[-1][1]["Retry-After"] == "1"
        # the chat shares the limit: the same user is not served there either
        answered = await harness.say(561, "/help")
        assert len(answered) <= 1
        other = client(harness, http, 562)  # someone else is served
        assert (await other.call("GET", "events"))[0] == 200


async def test_datemaker_silent_is_503(settings, datemaker, clean_db, http):
    async with BotHarness(settings, clean_db, reply_timeout=0.5) as harness:
        await create_participant(clean_db, 571)
        me = client(harness, http, 571)
        await harness.silence()
        status, payload, _ = await me.call("GET", "events")
        assert (status, error_code(payload)) == (503, "unavailable")


# --- the page and the metrics -----------------------------------------------------------------------


def sample(route: str, method: str, status: str) -> float:
    labels = {"route": route, "method": method, "status": status}
    return REGISTRY.get_sample_value("chathub_webapp_requests_total", labels) or 0.0


async def test_page_assets_and_metrics_by_route_template(harness, http, clean_db):
    event = await create_event(clean_db)
    await create_participant(clean_db, 581)
    pages = sample("/app/", "GET", "200")
    registrations = sample("/app/api/events/{event_id}/registration", "POST", "200")
    async with http.get(f"{harness.webapp_base}/app/") as response:
        page = await response.text()
        assert response.status == 200 and "frame-ancestors" in response.headers["Content-Security-Policy"]
    texts = json.loads(page.split('id="texts">', 1)[1].split("</script>", 1)[0])
    assert texts["ru"]["words"]["register"] and texts["en"]["plurals"]["spots"]["one"] == "{n} spot left"
    script = page.split('<script src="', 1)[1].split('"', 1)[0]
    async with http.get(f"{harness.webapp_base}{script}") as response:
        assert response.status == 200 and "tgWebAppData" in await response.text()
    async with http.get(f"{harness.webapp_base}/app/static/..%2f..%2fconfig.py") as response:
        assert response.status == 404
    async with http.get(f"{harness.webapp_base}/app", allow_redirects=False) as response:
        assert response.status == 308 and response.headers["Location"] == "/app/"
    me = client(harness, http, 581)
    await me.call("POST", f"events/{event}/registration")
    await register(clean_db, await create_event(clean_db), 581)
    assert sample("/app/", "GET", "200") == pages + 1
    assert sample("/app/api/events/{event_id}/registration", "POST", "200") == registrations + 1
    labels = {
        s.labels.get("route", "") for m in REGISTRY.collect() for s in m.samples if m.name.startswith("chathub_webapp")
    }
    assert not [label for label in labels if any(ch.isdigit() for ch in label)], labels


async def test_invitations_get_an_open_tonight_button(harness, clean_db):
    harness.user(591, "en")
    body = {
        "event_id": 7, "round": 1, "url": "https://meet.google.com/abc-mnop-xyz",
        "starts_at": "2026-12-05T19:00:00+03:00", "ends_at": "2026-12-05T19:05:00+03:00",
        "partner": {"user_id": 592, "name": "Boris"}, "language": "en",
    }  # fmt: skip
    await harness.notify("invite_to_meeting", body, 591)
    buttons = [button for row in harness.last(591).buttons for button in row]
    assert buttons[0]["url"] == body["url"]
    [app] = [button for button in buttons if "web_app" in button]
    assert app["web_app"] == {"url": "https://chathub.example.org/app/?view=tonight"}
    assert app["text"] == "📱 Open tonight"
    await harness.notify("invite_to_meeting", {**body, "language": "ru"}, 591)
    assert harness.last(591).buttons[-1][0]["text"] == "📱 Открыть вечер"
