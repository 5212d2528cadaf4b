"""The Mini App in a real headless Chromium at a phone's size, opened as Telegram opens it (the menu button's
URL with signed launch parameters in the fragment), against ``python -m chathub_bot``, the Bot API emulator and
a real datemaker: a participant goes through an event night from the page alone, after the chat's /start.

Screenshots go to the test's tmp_path and to ``$CHATHUB_ARTIFACTS`` (default ``/tmp/chathub-artifacts``); the
test prints where."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from chathub_sim.telegram import EmulatorClient
from tests.conftest import wait_for
from tests.support.bot import running_bot
from tests.support.browser import Browser, chromium_or_skip
from tests.support.events import insert_event, state_of
from tests.support.factories import create_participant
from tests.support.processes import free_port

pytestmark = pytest.mark.usefixtures("datemaker")

ARTIFACTS = Path(os.environ.get("CHATHUB_ARTIFACTS", "/tmp/chathub-artifacts"))
USER = 9500


@pytest.fixture(scope="module")
async def webapp_url(emulator, test_env, topology, datemaker):
    port = free_port()
    url = f"http://127.0.0.1:{port}/app/"
    env = {"WEBAPP_PORT": str(port), "WEBAPP_URL": url, "TG_BOT_CHAT_RATE": "5", "TG_BOT_GLOBAL_RATE": "30"}
    async with running_bot(emulator, **env):
        yield url


@pytest.fixture
async def browser():
    chromium_or_skip()
    browser = Browser(390, 844)
    await browser.start()
    yield browser
    await browser.stop()


async def save(browser: Browser, tmp_path: Path, name: str) -> Path:
    shot = await browser.screenshot(tmp_path / f"{name}.png")
    kept = await browser.screenshot(ARTIFACTS / f"{name}.png")
    print(f"screenshot: {kept} (and {shot})")
    return kept


async def create_profile_in_the_chat(client: EmulatorClient) -> None:
    user = client.user(USER, first_name="Alexandra", username="alexandra_w", language_code="en")
    await user.send_text("/start")
    await user.wait_for(contains="What is your name?")
    await user.send_text("Alexandra")
    gender = await user.wait_for(lambda m: "Woman" in m.button_texts)
    await user.press(gender, "Woman")
    await user.wait_for(contains="When is your birthday?")
    await user.send_text("24.12.1996")
    await user.wait_for(contains="Which city")
    await user.send_text("Novosibirsk")
    ages = await user.wait_for(contains="Which ages")
    await user.press(ages, "Skip")
    bio = await user.wait_for(contains="Tell a little")
    await user.press(bio, "Skip")
    photo = await user.wait_for(contains="Send a photo")
    await user.press(photo, "Skip")
    await user.wait_for(contains="Your profile is saved!")


async def no_horizontal_overflow(browser: Browser) -> None:
    widths = await browser.js(
        "return [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"
    )
    assert widths[2] == 390 and max(widths[:2]) <= widths[2], f"the page is wider than the phone: {widths}"
    too_wide = await browser.js(
        "return [...document.querySelectorAll('main *, nav *')].filter(e => e.getBoundingClientRect().right > "
        "window.innerWidth + 0.5).map(e => e.outerHTML.slice(0, 80))"
    )
    assert not too_wide, too_wide


async def visible(browser: Browser, css: str) -> bool:
    return await browser.js(
        "const el = document.querySelector(arguments[0]); if (!el || el.offsetParent === null) return false;"
        "const r = el.getBoundingClientRect(); return r.width > 0 && r.top >= 0 && r.bottom <= window.innerHeight;",
        css,
    )


async def test_an_event_night_from_the_mini_app(emulator, webapp_url, browser, clean_db, tmp_path):
    async with EmulatorClient(emulator.url) as client:
        await create_profile_in_the_chat(client)
    # the menu button opens the Mini App (set by the bot at start)
    await wait_for(lambda: emulator.menu_button().get("type") == "web_app", 20)
    assert emulator.menu_button(USER)["web_app"]["url"] == webapp_url

    photo = emulator.send_photo(9501)["message"]["photo"][-1]["file_id"]  # the partners' photos, known to Telegram
    boris = await create_participant(clean_db, 9501, name="Boris", gender="M", photo_file_id=photo, bio="Hiking")
    oleg = await create_participant(clean_db, 9502, name="Oleg", gender="M", photo_file_id=photo)
    event = await insert_event(
        clean_db, 45, users_limit=3, confirm_open_seconds=38, confirm_deadline_seconds=20, rules_lead_seconds=3,
        round_seconds=10, break_seconds=3, max_rounds=2, timezone="Asia/Novosibirsk",
    )  # fmt: skip
    await clean_db.executemany(
        """INSERT INTO registrations (event_id, user_id, confirmation_sent_at, confirmed_at)
           VALUES ($1, $2, now(), now())""",
        [(event, boris), (event, oleg)],
    )

    # Telegram opens the page: the launch parameters (signed init data, theme) in the fragment
    await browser.open(emulator.open_web_app(USER))
    await browser.wait_for("return document.querySelector('.event[data-event]')", what="the event list")
    events = await browser.text("main")
    assert "Upcoming events" in events and "Asia/Novosibirsk" in events and "1 spot left" in events
    posted = dict(await browser.telegram_events())
    assert "web_app_ready" in posted and "web_app_expand" in posted
    assert await browser.js("return getComputedStyle(document.body).backgroundColor") == "rgb(244, 244, 245)"
    await no_horizontal_overflow(browser)
    await save(browser, tmp_path, "webapp-events")

    # register, then confirm when datemaker asks (the chat gets the request too)
    await browser.click(f'.event[data-event="{event}"] [data-action="register"]')
    await browser.wait_for("return document.body.innerText.includes('you are registered')", what="the registration")
    assert await clean_db.fetchval(
        "SELECT count(*) FROM registrations WHERE event_id = $1 AND user_id = $2", event, USER
    )
    confirm = f'.event[data-event="{event}"] [data-action="confirm"]'
    for _ in range(60):
        await browser.click('.tabs [data-view="events"]')
        await asyncio.sleep(0.5)
        if await browser.js("return Boolean(document.querySelector(arguments[0]))", confirm):
            break
    await browser.click(confirm)
    await browser.wait_for("return document.body.innerText.includes('confirmed')", what="the confirmation")

    # tonight: the partner's card and photo, a live countdown, who is next, the call through Telegram's main button
    await browser.click('.tabs [data-view="tonight"]')
    await browser.wait_for("return document.querySelector('#date .name')", timeout=40, what="tonight's date")
    first = (await browser.text("#date .name")).split(",")[0]
    assert first in ("Boris", "Oleg")
    second = "Oleg" if first == "Boris" else "Boris"
    assert "Novosibirsk" not in await browser.text("#date")  # the partner's card, not mine
    assert second in await browser.text("#next")
    await browser.wait_for("return document.querySelector('#date img.photo')", what="the partner's photo")
    before = await browser.text(".countdown")
    await asyncio.sleep(2.2)
    after = await browser.text(".countdown")
    assert before != after and ":" in after, (before, after)
    await browser.wait_for(
        "return window.__telegram.some(([n, d]) => n === 'web_app_setup_main_button' && d.is_visible && "
        "d.text.includes('Join the call'))",
        timeout=60,
        what="the Join the call button",
    )
    # "my partner isn't here" shows while the round runs, and only then (not pressed: the night goes on as planned)
    assert await browser.js(
        "const row = document.querySelector('[data-absent-row]'), label = document.querySelector('[data-label]');"
        "return Boolean(row) && (row.hidden || label.textContent === 'Ends in')"
    ), "the absence button shows outside the round"
    await browser.wait_for(
        "const row = document.querySelector('[data-absent-row]');"
        "return row && !row.hidden && row.querySelector('[data-action=\"absent\"]').offsetParent !== null",
        timeout=20,
        what="the my partner isn't here button",
    )
    assert "My partner isn't here" in await browser.text("#date")
    await no_horizontal_overflow(browser)
    await save(browser, tmp_path, "webapp-tonight")
    await browser.js("window.Telegram.WebView.receiveEvent('main_button_pressed', null)")
    opened = [data for name, data in await browser.telegram_events() if name == "web_app_open_link"]
    assert opened and opened[-1]["url"].startswith("https://meet.google.com/")

    # the same page outside Telegram (no client proxy): its own buttons, at a phone's width
    await browser.act_as_telegram(False)
    await browser.open(emulator.open_web_app(USER, url=f"{webapp_url}?view=tonight"))
    await browser.wait_for("return document.querySelector('#date .name')", what="tonight outside Telegram")
    if await browser.js("return !document.getElementById('primary').hidden"):
        assert await visible(browser, "#primary"), "the main action is off screen"
        assert "Join the call" in await browser.text("#primary")
    await no_horizontal_overflow(browser)
    await save(browser, tmp_path, "webapp-tonight-browser")

    # after the dates: rate both partners here, then the matches
    await browser.wait_for("return document.querySelectorAll('.rate button[data-verdict=\"like\"]').length >= 1",
                           timeout=40, what="a date to rate")  # fmt: skip
    for turn in range(2):
        try:
            await browser.wait_for(
                "return document.querySelector('.rate button[data-verdict=\"like\"]:not([disabled])')",
                timeout=40,
                what="a date to rate",
            )
        except TimeoutError:
            print(await clean_db.fetch("SELECT * FROM event_dates"), await clean_db.fetch("SELECT * FROM likes"))
            print(await clean_db.fetch("SELECT state_id, finished_at, rounds_planned, now() FROM dating_events"))
            raise
        if turn == 0:  # a report first asks what happened (five reasons); "back" returns to the verdicts
            await browser.click('.rate button[data-verdict="report"]:not([disabled])')
            await browser.wait_for("return document.querySelectorAll('.rate button[data-reason]').length === 5",
                                   what="the reasons of a report")  # fmt: skip
            assert "What happened?" in await browser.text(".rate .reasons")
            await browser.click(".rate .reasons button.link")
            await browser.wait_for(
                "return document.querySelector('.rate button[data-verdict=\"like\"]:not([disabled])')",
                what="the verdicts again",
            )
        await browser.click('.rate button[data-verdict="like"]:not([disabled])')
        await asyncio.sleep(1.0)
        await browser.click('.tabs [data-view="tonight"]')
        await asyncio.sleep(0.5)
        if await clean_db.fetchval("SELECT count(*) FROM likes WHERE user_id = $1", USER) == 2:
            break
    await clean_db.execute("INSERT INTO likes (event_id, user_id, partner_id) VALUES ($1, $2, $3)", event, boris, USER)
    for _ in range(80):
        if await state_of(clean_db, event) == "FINISHED":
            break
        await asyncio.sleep(0.5)
    assert await state_of(clean_db, event) == "FINISHED"
    assert await clean_db.fetchval("SELECT count(*) FROM likes WHERE user_id = $1", USER) == 2
    await browser.click('.tabs [data-view="matches"]')
    await browser.wait_for("return document.querySelector('.match')", what="the matches")
    assert "Boris" in await browser.text("main") and "Oleg" not in await browser.text("main")
    await no_horizontal_overflow(browser)
    await save(browser, tmp_path, "webapp-matches")


async def test_the_page_in_russian_and_outside_telegram(emulator, webapp_url, clean_db, tmp_path):
    chromium_or_skip()
    browser = Browser(390, 844, telegram_client=False)
    await browser.start()
    try:
        await create_participant(clean_db, 9510, name="Анна")
        emulator.user(9510, first_name="Анна", language_code="ru")
        await browser.open(emulator.open_web_app(9510, url=webapp_url))
        await browser.wait_for("return document.body.innerText.includes('Ближайшие встречи')", what="Russian")
        await browser.click('.tabs [data-view="profile"]')
        await browser.wait_for("return document.body.innerText.includes('Анна')", what="the profile")
        assert await visible(browser, "#primary")  # outside Telegram the page's own main button
        await save(browser, tmp_path, "webapp-profile-ru")
        # edit it here: the main button opens the form and saves it; the back button is there too
        assert "Изменить анкету" in await browser.text("#primary")
        await browser.click("#primary")
        await browser.wait_for("return document.querySelector('#profile-form')", what="the form")
        assert await visible(browser, "#back")
        await browser.js("document.getElementById('city').value = 'Казань'")
        await browser.click("#primary")
        await browser.wait_for("return document.body.innerText.includes('Город: Казань')", what="the saved city")
        assert await clean_db.fetchval("SELECT city FROM users WHERE user_id = 9510") == "Казань"
        # no launch parameters at all: the page says where to open it, and calls nothing
        await browser.js("sessionStorage.clear()")  # a new session: nothing remembered from the launch above
        await browser.open(webapp_url)
        await browser.wait_for("return document.body.innerText.includes('Telegram')", what="the explanation")
    finally:
        await browser.stop()
