"""The Mini App's pure parts: init-data checking, ids in paths, what the page is given, the evening's dates, the
emulator's signing and files, the settings and the menu button."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, urlencode

import pytest

from chathub_bot.webapp.auth import MAX_AGE, Unauthorized, check_init_data, from_header
from chathub_bot.webapp.photos import image_type
from chathub_bot.webapp.server import ApiError, parse_id, public
from chathub_sim.telegram.server import BotApiEmulator, placeholder_png
from chathub_sim.telegram.webapp import init_data, launch_url, sign_init_data
from datemaker.domain.events import Event, EventState
from datemaker.domain.tonight import BookedDate, now_and_next, to_rate

TOKEN = "123456789:AAEmulatedChathubBotToken0123456789ab"
NOW = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)
USER = {"id": 42, "first_name": "Anna", "language_code": "ru"}


def signed(**fields: str) -> str:
    return sign_init_data(TOKEN, {"auth_date": str(int(NOW.timestamp())), "user": json.dumps(USER), **fields})


# --- init data -----------------------------------------------------------------------------------------


def test_valid_init_data_names_its_user():
    user = check_init_data(signed(query_id="AAH1"), TOKEN, NOW)
    assert (user.id, user.first_name, user.language_code) == (42, "Anna", "ru")


def test_telegrams_published_example_shape_checks():
    """The rule itself, computed independently of the emulator: HMAC-SHA256 of the sorted lines, keyed with
    HMAC-SHA256 of the token under "WebAppData"."""
    import hashlib
    import hmac

    fields = {"auth_date": str(int(NOW.timestamp())), "query_id": "AAHx", "user": json.dumps(USER)}
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    key = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    data = urlencode({**fields, "hash": hmac.new(key, check.encode(), hashlib.sha256).hexdigest()}, quote_via=quote)
    assert check_init_data(data, TOKEN, NOW).id == 42
    assert data == sign_init_data(TOKEN, fields)


@pytest.mark.parametrize(
    ("why", "make"),
    [
        ("another bot's token", lambda: sign_init_data("987:AAOtherOtherOtherOtherOtherOtherOther", {"user": "{}"})),
        ("a changed field", lambda: signed().replace("Anna", "Olga")),
        ("an added field", lambda: signed() + "&start_param=x"),
        ("no hash", lambda: signed().split("&hash=")[0]),
        ("a wrong hash", lambda: signed()[:-4] + "0000"),
        ("empty", lambda: ""),
        ("not a query string", lambda: "{}"),
        ("no user", lambda: sign_init_data(TOKEN, {"auth_date": str(int(NOW.timestamp()))})),
        ("a bot", lambda: sign_init_data(TOKEN, {"auth_date": "1", "user": json.dumps({**USER, "is_bot": True})})),
        ("id 0", lambda: sign_init_data(TOKEN, {"auth_date": "1", "user": json.dumps({**USER, "id": 0})})),
        ("id > int64", lambda: sign_init_data(TOKEN, {"auth_date": "1", "user": json.dumps({**USER, "id": 2**63})})),
        ("a broken user", lambda: sign_init_data(TOKEN, {"auth_date": "1", "user": "{not json"})),
        ("no auth_date", lambda: sign_init_data(TOKEN, {"user": json.dumps(USER)})),
        ("too long", lambda: signed(padding="x" * 5000)),
    ],
)
def test_refused_init_data(why, make):
    with pytest.raises(Unauthorized):
        check_init_data(make(), TOKEN, NOW)


def test_age_of_init_data():
    fresh = signed()
    assert check_init_data(fresh, TOKEN, NOW + MAX_AGE - timedelta(seconds=1))
    with pytest.raises(Unauthorized, match="expired"):
        check_init_data(fresh, TOKEN, NOW + MAX_AGE + timedelta(seconds=1))
    with pytest.raises(Unauthorized, match="future"):
        check_init_data(fresh, TOKEN, NOW - timedelta(minutes=10))
    assert check_init_data(fresh, TOKEN, NOW - timedelta(minutes=1))  # a clock a little ahead


@pytest.mark.parametrize("header", [None, "", "tma", "tma   ", "Bearer abc", "Basic dG1h", "tmaabc"])
def test_authorization_header_must_be_tma(header):
    with pytest.raises(Unauthorized):
        from_header(header)


def test_authorization_header_scheme_is_case_insensitive():
    assert from_header("TMA  a=b ") == "a=b"


# --- ids and what the page sees ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1", "42", str(2**63 - 1)])
def test_good_ids(text):
    assert parse_id(text) == int(text)


@pytest.mark.parametrize("text", ["0", "-1", "01", "1.0", "1e3", " 1", "abc", "", str(2**63), "9" * 50, "١٢"])
def test_hostile_ids(text):
    with pytest.raises(ApiError) as info:
        parse_id(text)
    assert (info.value.status, info.value.code) == (400, "bad_request")


def test_file_ids_never_reach_the_page():
    data = {
        "date": {"partner": {"user_id": 7, "name": "B", "photo_file_id": "AgAC-secret"}, "next": None},
        "to_rate": [{"partner": {"user_id": 8, "name": "C", "photo_file_id": None}}],
    }
    shown = public(data)
    assert "AgAC-secret" not in json.dumps(shown)
    assert shown["date"]["partner"]["photo_url"] == "/app/api/photos/7"
    assert "photo_url" not in shown["to_rate"][0]["partner"]


def test_only_pictures_are_served():
    assert image_type(placeholder_png("x")) == "image/png"
    assert image_type(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert image_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    for content in (b"<html>", b"", b"%PDF-1.7", b"<svg xmlns"):
        assert image_type(content) is None


# --- the evening ---------------------------------------------------------------------------------------


def event(event_id: int = 1, state: EventState = EventState.RUNNING, start: datetime = NOW) -> Event:
    return Event(id=event_id, state=state, start=start, round_seconds=300, break_seconds=60)


def booked(round_no: int, partner: int, **kwargs) -> BookedDate:
    kwargs.setdefault("event", event())
    return BookedDate(round_no=round_no, partner_id=partner, rounds=3, meeting_uri="https://meet/x", **kwargs)


def test_the_date_now_then_the_next_one():
    dates = [booked(0, 10, invited=True), booked(1, 11), booked(2, 12)]
    current, following = now_and_next(dates, NOW + timedelta(seconds=100))
    assert (current.partner_id, following.partner_id) == (10, 11)
    assert current.url == "https://meet/x" and following.url is None  # no link before the invitation
    current, following = now_and_next(dates, NOW + timedelta(seconds=330))  # the break after round 1
    assert (current.partner_id, following.partner_id) == (11, 12)
    current, following = now_and_next(dates, NOW + timedelta(seconds=3 * 360))
    assert (current, following) == (None, None)


def test_sitting_out_a_round_shows_the_date_after_it():
    current, following = now_and_next([booked(0, 10), booked(2, 12)], NOW + timedelta(seconds=400))
    assert (current.round_no, following) == (2, None)


def test_only_planned_events_have_dates_tonight():
    dates = [booked(0, 10, event=event(state=EventState.FINISHED)), booked(0, 11, event=event(2, EventState.READY))]
    current, _ = now_and_next(dates, NOW - timedelta(hours=1))
    assert current.partner_id == 11


def test_dates_to_rate():
    finished = event(2, EventState.FINISHED, NOW - timedelta(days=1))
    dates = [
        booked(0, 10, invited=True),  # over, not rated
        booked(1, 11, invited=True),  # going on
        booked(0, 12, invited=False),  # planned, never held
        booked(0, 13, invited=True, rated=True),
        booked(0, 14, invited=True, event=finished, finished_at=NOW - timedelta(hours=47)),
        booked(1, 15, invited=True, event=finished, finished_at=NOW - timedelta(hours=49)),  # ratings closed
    ]
    assert [d.partner_id for d in to_rate(dates, NOW + timedelta(seconds=400))] == [14, 10]


# --- the emulator: what Telegram does ------------------------------------------------------------------


def test_the_emulator_signs_init_data_and_opens_the_menu_buttons_page():
    emulator = BotApiEmulator(TOKEN)
    emulator.user(5, first_name="Ann", username="ann", language_code="en")
    data = emulator.init_data(5, start_param="tonight")
    user = check_init_data(data, TOKEN, datetime.now(UTC))
    assert (user.id, user.username) == (5, "ann")
    assert dict(parse_qsl(data))["start_param"] == "tonight"
    with pytest.raises(LookupError):
        emulator.open_web_app(5)
    emulator._set_chat_menu_button(
        {"menu_button": json.dumps({"type": "web_app", "text": "Go", "web_app": {"url": "https://x.org/app/"}})}
    )
    url = emulator.open_web_app(5)
    page, fragment = url.split("#", 1)
    params = dict(parse_qsl(fragment))
    assert page == "https://x.org/app/" and json.loads(params["tgWebAppThemeParams"])["bg_color"]
    assert check_init_data(params["tgWebAppData"], TOKEN, datetime.now(UTC)).id == 5


@pytest.mark.parametrize(
    "url", ["http://x.org/app/", "ftp://x", "javascript:alert(1)", "https://", "http://10.0.0.1/app/"]
)
def test_the_emulator_refuses_mini_apps_that_telegram_refuses(url):
    from chathub_sim.telegram import ApiError as EmulatorError

    emulator = BotApiEmulator(TOKEN)
    with pytest.raises(EmulatorError):
        emulator._set_chat_menu_button({"menu_button": {"type": "web_app", "text": "Go", "web_app": {"url": url}}})
    with pytest.raises(EmulatorError):
        emulator._check_button({"text": "Go", "web_app": {"url": url}})


def test_the_emulator_serves_files_it_knows():
    emulator = BotApiEmulator(TOKEN)
    file_id = emulator.send_photo(5)["message"]["photo"][-1]["file_id"]
    file = emulator._get_file({"file_id": file_id})
    assert file["file_path"].startswith("photos/") and file["file_size"] == len(placeholder_png(file_id))
    from chathub_sim.telegram import ApiError as EmulatorError

    with pytest.raises(EmulatorError):
        emulator._get_file({"file_id": "nope"})


def test_launch_url_replaces_a_fragment():
    data = init_data(TOKEN, USER, auth_date=time.time())
    assert launch_url("https://x.org/app/?view=tonight#old", data).startswith(
        "https://x.org/app/?view=tonight#tgWebAppData="
    )


# --- settings and the menu button ----------------------------------------------------------------------


def test_webapp_url_must_be_https():
    from pydantic import ValidationError

    from chathub_bot.config import BotSettings

    assert BotSettings(_env_file=None, webapp_url="https://dating.example.org/app/").webapp_url
    assert BotSettings(_env_file=None, webapp_url="http://127.0.0.1:8080/app/").webapp_url
    assert BotSettings(_env_file=None, webapp_url="").webapp_url is None
    for bad in ("http://dating.example.org/app/", "dating.example.org", "https://x.org/app/#frag", "javascript:x"):
        with pytest.raises(ValidationError):
            BotSettings(_env_file=None, webapp_url=bad)
