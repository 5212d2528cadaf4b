"""The Bot API emulator: Telegram's validation and limits as the real aiogram client sees them, and the
simulated users' control API."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from chathub_sim.telegram import DEFAULT_TOKEN, BotApiEmulator, EmulatorClient
from chathub_sim.telegram.formatting import ParseError, parse_html, parse_markdown_v2, utf16_length


@pytest.fixture
async def emulator():
    emulator = BotApiEmulator(global_rate=30, chat_rate=1)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def bot(emulator):
    bot = Bot(emulator.token, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.url)))
    yield bot
    await bot.session.close()


def keyboard(*buttons: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[list(buttons)])


# --- formatting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "plain"),
    [
        ("<b>bold</b> &amp; <i>it</i>", "bold & it"),
        ('<a href="https://t.me/x">link</a> 1 &lt; 2', "link 1 < 2"),
        ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>', "st"),
        ("AT&T", "AT&T"),
        ("<b><i>nested</i></b>", "nested"),
    ],
)
def test_html_is_parsed_to_plain_text(source, plain):
    assert parse_html(source) == plain


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("a <b", "Can't find end of the tag starting at byte offset 2"),
        ("&nbsp;", 'Unsupported HTML entity "&nbsp;" at byte offset 0'),
        ("é<foo>", 'Unsupported start tag "foo" at byte offset 2'),
    ],
)
def test_html_errors_read_like_telegrams(source, error):
    with pytest.raises(ParseError) as caught:
        parse_html(source)
    assert caught.value.description == f"Bad Request: can't parse entities: {error}"


def test_markdown_v2_requires_escaping_and_closed_entities():
    assert parse_markdown_v2(r"*bold* _it_ __u__ ~s~ ||sp|| `a.b` [l](https://x.y/z) 1\.5\!") == (
        "bold it u s sp a.b l 1.5!"
    )
    with pytest.raises(ParseError, match=r"Character '\.' is reserved"):
        parse_markdown_v2("the end.")
    with pytest.raises(ParseError, match="Can't find end of Bold entity at byte offset 2"):
        parse_markdown_v2("a *b")
    with pytest.raises(ParseError, match="Can't find end of Code entity"):
        parse_markdown_v2("`code")


def test_length_counts_utf16_units():
    assert utf16_length("ab") == 2
    assert utf16_length("😀") == 2


# --- the Bot API through aiogram ----------------------------------------------------------------


async def test_get_me_and_unknown_token(emulator, bot):
    me = await bot.get_me()
    assert me.is_bot and me.id == int(DEFAULT_TOKEN.split(":")[0])
    stranger = Bot("111:AAThisIsNotTheEmulatorsTokenAtAll00000", session=bot.session)
    with pytest.raises(TelegramUnauthorizedError):
        await stranger.get_me()


async def test_send_and_edit_with_telegram_validation(emulator, bot):
    markup = keyboard(InlineKeyboardButton(text="Yes", callback_data="a:1"))
    sent = await bot.send_message(10, "<b>Hi</b> there", parse_mode="HTML", reply_markup=markup)
    assert sent.text == "Hi there" and sent.reply_markup.inline_keyboard[0][0].callback_data == "a:1"

    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(11, "x" * 4097)
    await bot.send_message(12, "😀" * 2048)  # exactly 4096 UTF-16 units
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(11, "<b></b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="can't parse entities: Unsupported start tag"):
        await bot.send_message(11, "<blink>x</blink>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="reserved and must be escaped"):
        await bot.send_message(11, "1.5", parse_mode="MarkdownV2")
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(11, "x", reply_markup=keyboard(InlineKeyboardButton(text="b", callback_data="d" * 65)))
    with pytest.raises(TelegramBadRequest, match="Wrong HTTP URL"):
        await bot.send_message(11, "x", reply_markup=keyboard(InlineKeyboardButton(text="b", url="javascript:x")))

    await asyncio.sleep(1.0)  # chat 10's one message a second
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "<b>Hi</b> there", chat_id=10, message_id=sent.message_id, reply_markup=markup, parse_mode="HTML"
        )
    edited = await bot.edit_message_text("Bye", chat_id=10, message_id=sent.message_id)
    assert edited.text == "Bye" and edited.reply_markup is None  # no markup given: the keyboard goes
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=10, message_id=999)
    [message] = emulator.bot_messages(10)
    assert message.edits == 1 and message.text == "Bye"


async def test_photos_by_upload_or_known_file_id(emulator, bot):
    uploaded = await bot.send_photo(
        20, BufferedInputFile(b"\x89PNG....", "p.png"), caption="<i>me</i>", parse_mode="HTML"
    )
    file_id = uploaded.photo[-1].file_id
    assert uploaded.caption == "me"
    await bot.send_photo(21, file_id)
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(22, "no-such-file")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(23, file_id, caption="x" * 1025)


async def test_rate_limits_answer_429_with_retry_after(emulator, bot):
    await bot.send_message(30, "one")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(30, "two")
    assert caught.value.retry_after == 1
    emulator.limits.configure(global_rate=3, chat_rate=100)
    for chat in (31, 32):
        await bot.send_message(chat, "x")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(33, "x")
    assert emulator.stats.too_many_requests == 2
    emulator.limits.configure(global_rate=3, chat_rate=100, enabled=False)
    for _ in range(5):
        await bot.send_message(34, "unlimited")


async def test_blocked_user_gets_403_until_writing_again(emulator, bot):
    emulator.block(40)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(40, "hello?")
    emulator.send_text(40, "I'm back")
    await bot.send_message(40, "welcome back")


async def test_updates_long_polling_offsets_and_conflict(emulator, bot):
    started = asyncio.get_running_loop().time()
    assert await bot.get_updates(timeout=1) == []
    assert asyncio.get_running_loop().time() - started >= 0.9

    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    emulator.user(50, first_name="Ann", language_code="en", username="ann_x")
    emulator.send_text(50, "/start")
    [update] = await asyncio.wait_for(poll, 2)
    assert update.message.text == "/start"
    assert update.message.from_user.language_code == "en" and update.message.from_user.username == "ann_x"
    assert update.message.entities[0].type == "bot_command"

    emulator.send_sticker(50)
    emulator.send_photo(50, caption="me")
    later = await bot.get_updates(offset=update.update_id + 1)
    assert [u.message.sticker is not None for u in later] == [True, False]
    assert later[1].message.photo[-1].file_id
    assert await bot.get_updates(offset=later[-1].update_id + 1) == []

    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    second = asyncio.create_task(bot.get_updates(timeout=1))
    with pytest.raises(TelegramConflictError):
        await first
    assert await second == []


async def test_button_press_and_callback_answer(emulator, bot):
    sent = await bot.send_message(
        60, "Pick", reply_markup=keyboard(InlineKeyboardButton(text="A", callback_data="pick:a"))
    )
    update = emulator.press(60, sent.message_id, text="A")
    [received] = await bot.get_updates()
    assert received.callback_query.data == "pick:a"
    assert received.callback_query.message.message_id == sent.message_id
    assert received.callback_query.from_user.id == 60
    await bot.answer_callback_query(received.callback_query.id, text="Done")
    assert emulator.callback_answer(update["callback_query"]["id"]).answer_text == "Done"
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(received.callback_query.id)
    with pytest.raises(LookupError, match="no callback button 'B'"):
        emulator.press(60, sent.message_id, text="B")
    forged = emulator.press(60, sent.message_id, data="anything:at:all")  # a modified client can send any data
    assert forged["callback_query"]["data"] == "anything:at:all"


async def test_unknown_method_is_404(emulator):
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{emulator.url}/bot{emulator.token}/sendCarrierPigeon") as response,
    ):
        assert response.status == 404
        assert (await response.json())["description"] == "Not Found"


# --- the control API ---------------------------------------------------------------------------


async def test_control_api_drives_a_user(emulator, bot):
    async with EmulatorClient(emulator.url) as client:
        info = await client.info()
        assert info["token"] == emulator.token
        user = client.user(70, first_name="Olga", language_code="ru")
        await user.send_text("hello")
        [update] = await bot.get_updates()
        assert update.message.from_user.first_name == "Olga"

        markup = keyboard(InlineKeyboardButton(text="Go", callback_data="go"))
        sent = await bot.send_message(70, "<b>Ready?</b>", parse_mode="HTML", reply_markup=markup)
        message = await user.wait_for(contains="ready")
        assert (
            message.content == "Ready?" and message.button_texts == ["Go"] and message.raw["source"] == "<b>Ready?</b>"
        )
        query_id = await user.press(message, "Go")
        [update] = await bot.get_updates(offset=update.update_id + 1)
        await bot.answer_callback_query(update.callback_query.id, text="ok")
        assert (await user.callback_answer(query_id))["text"] == "ok"

        waiter = asyncio.create_task(user.wait_for(contains="later", timeout=5))
        await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        await bot.edit_message_text("later", chat_id=70, message_id=sent.message_id)
        assert (await waiter).content == "later"

        await user.block()
        with pytest.raises(TelegramForbiddenError):
            await bot.send_message(70, "x")
        await user.unblock()

        stats = await client.stats()
        assert stats["accepted"]["sendmessage"] == 1 and stats["errors"]["403"] == 1
        limits = await client.set_limits(global_rate=5, chat_rate=2)
        assert limits == {"global_rate": 5.0, "chat_rate": 2.0, "enabled": True}
        with pytest.raises(Exception, match="404"):
            await client.request("POST", "/_emu/users/70/press", json={"message_id": 999, "text": "x"})


def test_emulator_runs_as_a_process_printing_its_url():
    process = subprocess.Popen(
        [sys.executable, "-m", "chathub_sim.telegram", "--port", "0", "--global-rate", "10"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()
        token = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and token == DEFAULT_TOKEN

        async def check() -> None:
            async with EmulatorClient(url) as client:
                info = await client.info()
                assert info["limits"]["global_rate"] == 10.0
                await client.user(5).send_text("hi")
                async with aiohttp.ClientSession() as session, session.get(f"{url}/bot{token}/getUpdates") as response:
                    body = json.loads(await response.text())
                    assert body["result"][0]["message"]["text"] == "hi"

        asyncio.run(check())
    finally:
        process.terminate()
        process.wait(10)


def test_emulator_refuses_a_token_of_the_wrong_shape():
    with pytest.raises(ValueError, match="must look like Telegram's"):
        BotApiEmulator("not-a-token")


async def test_outages_look_like_telegrams_to_aiogram(emulator, bot):
    """As a real outage: broken connections, the front's HTML 502 page, the Bot API's JSON 500, 429s; and a
    refused method, until restored."""
    from aiogram.exceptions import ClientDecodeError, TelegramNetworkError, TelegramServerError

    emulator.user(5, first_name="Ann")
    expected = {
        "network": TelegramNetworkError,
        "bad_gateway": ClientDecodeError,
        "server_error": TelegramServerError,
        "retry_after": TelegramRetryAfter,
    }
    for how, error in expected.items():
        emulator.cut(how, retry_after=7)
        with pytest.raises(error) as raised:
            await bot.send_message(5, "hello")
        if how == "retry_after":
            assert raised.value.retry_after == 7
    emulator.restore()
    await bot.send_message(5, "hello")
    assert [m.text for m in emulator.bot_messages(5)] == ["hello"]
    emulator.refuse("setMyCommands")
    with pytest.raises(ClientDecodeError):
        await bot.set_my_commands([])
    emulator.refuse("setMyCommands", "error")
    with pytest.raises(TelegramBadRequest):
        await bot.set_my_commands([])
    emulator.accept("setMyCommands")
    assert await bot.set_my_commands([])
    with pytest.raises(ValueError):
        emulator.cut("flood")
