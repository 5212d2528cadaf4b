"""A Telegram Bot API server for tests and the demo (aiohttp), plus a control API for simulated users.

The bot side is the Bot API as aiogram calls it (``POST /bot<token>/<method>``, form, multipart or JSON
parameters) with Telegram's validation and errors: callback data of at most 64 bytes, text of at most
4096 characters, HTML/MarkdownV2 parse errors, "message is not modified", 403 once a user blocked the bot,
and rate limits (``global_rate`` messages per second for the bot, ``chat_rate`` per chat) answered with 429
and ``parameters.retry_after``.

The user side is :class:`BotApiEmulator`'s methods (in-process) and the same operations over HTTP under
``/_emu/`` (see :mod:`chathub_bot.emulator.client`): send text, a sticker or a photo, press an inline button,
read what the bot sent to a chat, block the bot.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from chathub_bot.emulator.formatting import ParseError, plain_text, utf16_length

logger = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456789:AAEmulatedChathubBotToken0123456789ab"
"""A token of Telegram's shape (aiogram checks the shape)."""
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_CALLBACK_ANSWER = 200
CALLBACK_ANSWER_SECONDS = 15 * 60
_URL = re.compile(r"^(https?|tg)://[^\s]+$")
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """An error answer of the Bot API."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass
class SimUser:
    """A simulated Telegram user (and their private chat with the bot, of the same id)."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "ru"
    blocked: bool = False

    def to_telegram(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                user[key] = getattr(self, key)
        return user

    def chat(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.username:
            chat["username"] = self.username
        return chat


@dataclass
class ChatMessage:
    """A message in a private chat, from the bot or from the user."""

    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    text: str | None = None
    """Plain text (formatting removed)."""
    caption: str | None = None
    source: str | None = None
    """Text or caption exactly as the bot sent it (with its markup)."""
    parse_mode: str | None = None
    photo: str | None = None
    sticker: str | None = None
    reply_markup: dict[str, Any] | None = None
    edits: int = 0
    version: int = 0
    deleted: bool = False
    edit_date: int | None = None

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [[dict(button) for button in row] for row in rows]

    def to_telegram(self, sender: dict[str, Any], chat: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"message_id": self.message_id, "from": sender, "chat": chat, "date": self.date}
        if self.text is not None:
            message["text"] = self.text
            if not self.from_bot and self.text.startswith("/"):
                command = self.text.split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_length(command)}]
        if self.caption is not None:
            message["caption"] = self.caption
        if self.photo is not None:
            message["photo"] = [
                {"file_id": self.photo, "file_unique_id": f"u{self.photo[-12:]}", "width": 90, "height": 90},
                {"file_id": self.photo, "file_unique_id": f"v{self.photo[-12:]}", "width": 800, "height": 800},
            ]
        if self.sticker is not None:
            message["sticker"] = {
                "file_id": f"CAACAgIAAxkBAAE{self.message_id:08d}",
                "file_unique_id": f"AgAD{self.message_id:08d}",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": self.sticker,
            }
        if self.reply_markup is not None and "inline_keyboard" in self.reply_markup:
            message["reply_markup"] = self.reply_markup
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        return message

    def view(self) -> dict[str, Any]:
        """The message as the control API shows it."""
        return {
            "message_id": self.message_id,
            "chat_id": self.chat_id,
            "from": "bot" if self.from_bot else "user",
            "text": self.text,
            "caption": self.caption,
            "source": self.source,
            "parse_mode": self.parse_mode,
            "photo": self.photo,
            "sticker": self.sticker,
            "buttons": self.buttons,
            "edits": self.edits,
            "version": self.version,
            "deleted": self.deleted,
            "date": self.date,
        }


@dataclass
class CallbackQuery:
    id: str
    user_id: int
    message_id: int
    data: str
    created: float
    answered: bool = False
    answer_text: str | None = None
    show_alert: bool = False

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "answered": self.answered,
            "text": self.answer_text,
            "show_alert": self.show_alert,
            "data": self.data,
        }


@dataclass
class Stats:
    """What the bot did, for tests and benchmarks."""

    accepted: collections.Counter[str] = field(default_factory=collections.Counter)
    errors: collections.Counter[int] = field(default_factory=collections.Counter)
    too_many_requests: int = 0
    retry_after_times: list[float] = field(default_factory=list)
    """Wall-clock times (``time.time()``) of every 429 answered."""
    send_times: list[float] = field(default_factory=list)
    """Wall-clock times of every accepted message (send or edit)."""

    def view(self) -> dict[str, Any]:
        return {
            "accepted": dict(self.accepted),
            "errors": {str(k): v for k, v in self.errors.items()},
            "too_many_requests": self.too_many_requests,
            "retry_after_times": self.retry_after_times,
            "messages_accepted": len(self.send_times),
            "first_message_at": self.send_times[0] if self.send_times else None,
            "last_message_at": self.send_times[-1] if self.send_times else None,
        }


class RateLimits:
    """Telegram's flood limits: ``global_rate`` messages in any 1-second window, 1 per ``1/chat_rate`` s per chat."""

    def __init__(self, global_rate: float = 30.0, chat_rate: float = 1.0, enabled: bool = True) -> None:
        self.configure(global_rate, chat_rate, enabled)
        self._global: collections.deque[float] = collections.deque()
        self._chats: dict[int, float] = {}

    def configure(self, global_rate: float, chat_rate: float, enabled: bool = True) -> None:
        self.global_rate = global_rate
        self.chat_rate = chat_rate
        self.enabled = enabled
        self.global_slots = max(1, int(global_rate))
        self.window = self.global_slots / global_rate

    def check(self, chat_id: int, now: float) -> None:
        """Record a message to ``chat_id`` at ``now``, or raise a 429."""
        if not self.enabled:
            return
        while self._global and self._global[0] <= now - self.window:
            self._global.popleft()
        waits = []
        if len(self._global) >= self.global_slots:
            waits.append(self._global[0] + self.window - now)
        last = self._chats.get(chat_id)
        interval = 1.0 / self.chat_rate
        if last is not None and now - last < interval:
            waits.append(last + interval - now)
        if waits:
            retry_after = max(1, math.ceil(max(waits)))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
        self._global.append(now)
        self._chats[chat_id] = now
        if len(self._chats) > 10_000:  # forget chats quiet for longer than their interval
            self._chats = {k: v for k, v in self._chats.items() if now - v < interval}


Params = Mapping[str, Any]


class _Signal:
    """Wakes every waiter each time it fires (waiters re-check their own condition)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        event = self._event
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await event.wait()


class BotApiEmulator:
    """One emulated bot (``token``) and its users; serve with :meth:`start`, or use the methods in-process."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        global_rate: float = 30.0,
        chat_rate: float = 1.0,
        limits_enabled: bool = True,
        bot_username: str = "chathub_dating_bot",
    ) -> None:
        if not _TOKEN.match(token):
            raise ValueError("the token must look like Telegram's: <digits>:<at least 30 letters, digits, _ or ->")
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Chathub",
            "username": bot_username,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.limits = RateLimits(global_rate, chat_rate, limits_enabled)
        self.stats = Stats()
        self.users: dict[int, SimUser] = {}
        self.commands: list[dict[str, Any]] = []
        self._messages: dict[int, dict[int, ChatMessage]] = {}
        self._next_message_id: dict[int, int] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = itertools.count(1)
        self._callbacks: dict[str, CallbackQuery] = {}
        self._files: set[str] = set()
        self._version = 0
        self._changed = _Signal()
        self._updates_changed = _Signal()
        self._poll_generation = 0
        self._runner: web.AppRunner | None = None
        self.url: str | None = None
        self._methods: dict[str, Callable[[Params], Any]] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands,
            "getmycommands": lambda params: self.commands,
            "deletemycommands": self._delete_my_commands,
            "setmydescription": lambda params: True,
            "setmyshortdescription": lambda params: True,
            "setchatmenubutton": lambda params: True,
            "sendchataction": self._send_chat_action,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "editmessagetext": self._edit_message_text,
            "editmessagecaption": self._edit_message_caption,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "close": lambda params: True,
            "logout": lambda params: True,
        }

    # --- serving ------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        from chathub_bot.emulator.control import add_control_routes

        add_control_routes(app, self)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0: any free port); the base URL (also in :attr:`url`)."""
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        bound = sockets[0].getsockname()[1] if sockets else port
        self.url = f"http://{host}:{bound}"
        logger.info("Bot API emulator on %s (bot @%s)", self.url, self.bot_user["username"])
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"].lower()
        handler = self._methods.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        try:
            params = await self._read_params(request)
            result = handler(params)
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as exc:
            if exc.code == 429:
                self.stats.too_many_requests += 1
                self.stats.retry_after_times.append(time.time())
            self.stats.errors[exc.code] += 1
            return web.json_response(exc.body(), status=exc.code)
        self.stats.accepted[method] += 1
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    async def _read_params(request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise bad_request("can't parse JSON object") from None
                if not isinstance(body, dict):
                    raise bad_request("JSON object expected")
                params.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    params[key] = value
        return params

    # --- parameters ---------------------------------------------------------------------------

    @staticmethod
    def _int(params: Params, name: str, required: bool = True) -> int | None:
        value = params.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(f"{name} is empty" if name != "chat_id" else "chat not found")
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    @staticmethod
    def _json(params: Params, name: str) -> Any:
        value = params.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value

    @staticmethod
    def _bool(params: Params, name: str) -> bool:
        value = params.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def _markup(self, params: Params) -> dict[str, Any] | None:
        markup = self._json(params, "reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays')
            for row in rows:
                for button in row:
                    self._check_button(button)
        elif not any(key in markup for key in ("keyboard", "remove_keyboard", "force_reply")):
            raise bad_request("can't parse reply keyboard markup JSON object")
        return markup

    @staticmethod
    def _check_button(button: Any) -> None:
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise bad_request('can\'t find field "text"')
        if not button["text"].strip():
            raise bad_request("BUTTON_TEXT_EMPTY")
        actions = [k for k in button if k != "text" and button[k] is not None]
        if not actions:
            raise bad_request("text buttons are unallowed in the inline keyboard")
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
                raise bad_request("BUTTON_DATA_INVALID")
        if "url" in button and not (isinstance(button["url"], str) and _URL.match(button["url"])):
            raise bad_request(f"inline keyboard button URL '{button.get('url')}' is invalid: Wrong HTTP URL")

    @staticmethod
    def _formatted(params: Params, name: str, limit: int, required: bool) -> tuple[str | None, str | None]:
        """(plain text, source) of a text or caption parameter, checked like Telegram checks it."""
        source = params.get(name)
        if source is None or source == "":
            if required:
                raise bad_request("message text is empty")
            return None, None
        if not isinstance(source, str):
            source = str(source)
        parse_mode = params.get("parse_mode") or None
        if parse_mode and str(parse_mode).lower() not in ("html", "markdownv2", "markdown"):
            raise bad_request("unsupported parse_mode")
        try:
            plain = plain_text(source, parse_mode)
        except ParseError as exc:
            raise ApiError(400, exc.description) from None
        if required and not plain.strip():
            raise bad_request("message text is empty")
        if utf16_length(plain) > limit:
            raise bad_request("message is too long" if name == "text" else "message caption is too long")
        return plain, source

    def _chat_for_send(self, params: Params) -> SimUser:
        chat_id = self._int(params, "chat_id")
        assert chat_id is not None
        if chat_id <= 0:
            raise bad_request("chat not found")
        user = self.user(chat_id)
        if user.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return user

    def _bot_message(self, params: Params) -> ChatMessage:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat_id = self._int(params, "chat_id")
        message_id = self._int(params, "message_id")
        assert chat_id is not None and message_id is not None
        message = self._messages.get(chat_id, {}).get(message_id)
        if message is None or message.deleted:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        user = self.user(chat_id)
        if user.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return message

    def _rate_limit(self, chat_id: int) -> None:
        self.limits.check(chat_id, time.monotonic())

    # --- Bot API methods ----------------------------------------------------------------------

    def _get_me(self, params: Params) -> dict[str, Any]:
        return self.bot_user

    async def _get_updates(self, params: Params) -> list[dict[str, Any]]:
        offset = self._int(params, "offset", required=False)
        limit = min(max(self._int(params, "limit", required=False) or 100, 1), 100)
        timeout = max(0, self._int(params, "timeout", required=False) or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_changed.fire()  # an earlier poll still waiting ends with 409, as in Telegram
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            remaining = deadline - loop.time()
            if self._updates or remaining <= 0:
                return self._updates[:limit]
            await self._updates_changed.wait(remaining)

    def _delete_webhook(self, params: Params) -> bool:
        if self._bool(params, "drop_pending_updates"):
            self._updates.clear()
        return True

    def _get_webhook_info(self, params: Params) -> dict[str, Any]:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}

    def _set_my_commands(self, params: Params) -> bool:
        commands = self._json(params, "commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands = commands
        return True

    def _delete_my_commands(self, params: Params) -> bool:
        self.commands = []
        return True

    def _send_chat_action(self, params: Params) -> bool:
        self._chat_for_send(params)
        return True

    def _send_message(self, params: Params) -> dict[str, Any]:
        user = self._chat_for_send(params)
        plain, source = self._formatted(params, "text", MAX_TEXT, required=True)
        markup = self._markup(params)
        self._rate_limit(user.id)
        message = self._add_message(
            user.id, from_bot=True, text=plain, source=source, parse_mode=params.get("parse_mode"), reply_markup=markup
        )
        return message.to_telegram(self.bot_user, user.chat())

    def _send_photo(self, params: Params) -> dict[str, Any]:
        user = self._chat_for_send(params)
        photo = params.get("photo")
        if isinstance(photo, str) and photo.startswith("attach://"):
            photo = params.get(photo.removeprefix("attach://"))
        uploaded = isinstance(photo, web.FileField)
        if uploaded or (isinstance(photo, str) and photo.startswith("http") and _URL.match(photo)):
            file_id = self._new_file_id()
        elif isinstance(photo, str) and photo in self._files:
            file_id = photo
        else:
            raise bad_request("wrong file identifier/HTTP URL specified")
        plain, source = self._formatted(params, "caption", MAX_CAPTION, required=False)
        markup = self._markup(params)
        self._rate_limit(user.id)
        message = self._add_message(
            user.id,
            from_bot=True,
            caption=plain,
            source=source,
            parse_mode=params.get("parse_mode"),
            photo=file_id,
            reply_markup=markup,
        )
        return message.to_telegram(self.bot_user, user.chat())

    def _edit_message_text(self, params: Params) -> dict[str, Any]:
        return self._edit_formatted(params, "text", MAX_TEXT, required=True)

    def _edit_message_caption(self, params: Params) -> dict[str, Any]:
        return self._edit_formatted(params, "caption", MAX_CAPTION, required=False)

    def _edit_formatted(self, params: Params, field: str, limit: int, *, required: bool) -> dict[str, Any]:
        """editMessageText / editMessageCaption: the message's ``field`` (and markup) replaced."""
        message = self._bot_message(params)
        if (message.text if field == "text" else message.photo) is None:
            raise bad_request(f"there is no {field} in the message to edit")
        plain, source = self._formatted(params, field, limit, required=required)
        markup = self._markup(params)
        if (plain, source, markup) == (getattr(message, field), message.source, message.reply_markup):
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        self._rate_limit(message.chat_id)
        setattr(message, field, plain)
        message.source, message.parse_mode = source, params.get("parse_mode")
        message.reply_markup = markup
        return self._edited(message)

    def _edit_message_reply_markup(self, params: Params) -> dict[str, Any]:
        message = self._bot_message(params)
        markup = self._markup(params)
        if markup == message.reply_markup:
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        self._rate_limit(message.chat_id)
        message.reply_markup = markup
        return self._edited(message)

    def _edited(self, message: ChatMessage) -> dict[str, Any]:
        message.edits += 1
        message.edit_date = int(time.time())
        self._touch(message)
        self.stats.send_times.append(time.time())
        return message.to_telegram(self.bot_user, self.user(message.chat_id).chat())

    def _delete_message(self, params: Params) -> bool:
        chat_id = self._int(params, "chat_id")
        message_id = self._int(params, "message_id")
        assert chat_id is not None and message_id is not None
        message = self._messages.get(chat_id, {}).get(message_id)
        if message is None or message.deleted:
            raise bad_request("message to delete not found")
        message.deleted = True
        self._touch(message)
        return True

    def _answer_callback_query(self, params: Params) -> bool:
        query = self._callbacks.get(str(params.get("callback_query_id") or ""))
        if query is None or query.answered or time.monotonic() - query.created > CALLBACK_ANSWER_SECONDS:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        text = params.get("text")
        if text is not None and len(str(text)) > MAX_CALLBACK_ANSWER:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        query.answer_text = str(text) if text else None
        query.show_alert = self._bool(params, "show_alert")
        self._notify_changed()
        return True

    # --- chat state ---------------------------------------------------------------------------

    def _new_file_id(self) -> str:
        file_id = "AgACAgIAAxkBAA" + secrets.token_urlsafe(24)
        self._files.add(file_id)
        return file_id

    def _add_message(self, chat_id: int, *, from_bot: bool, **fields: Any) -> ChatMessage:
        number = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = number + 1
        message = ChatMessage(message_id=number, chat_id=chat_id, from_bot=from_bot, date=int(time.time()), **fields)
        self._messages.setdefault(chat_id, {})[number] = message
        self._touch(message)
        if from_bot:
            self.stats.send_times.append(time.time())
        return message

    def _touch(self, message: ChatMessage) -> None:
        self._version += 1
        message.version = self._version
        self._notify_changed()

    def _notify_changed(self) -> None:
        self._changed.fire()

    def _push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._next_update_id), **update}
        self._updates.append(update)
        self._updates_changed.fire()
        return update

    # --- the users' side ----------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> SimUser:
        """The simulated user ``user_id`` (created on first use); given fields are updated."""
        user = self.users.get(user_id)
        if user is None:
            user = self.users[user_id] = SimUser(user_id, first_name or f"User{user_id}")
        if first_name is not None:
            user.first_name = first_name
        if last_name is not None:
            user.last_name = last_name
        if username is not None:
            user.username = username or None
        if language_code is not None:
            user.language_code = language_code or None
        return user

    def _user_message(self, user_id: int, **fields: Any) -> dict[str, Any]:
        user = self.user(user_id)
        if user.blocked:  # writing to the bot again unblocks it, as in Telegram
            user.blocked = False
        message = self._add_message(user_id, from_bot=False, **fields)
        return self._push_update({"message": message.to_telegram(user.to_telegram(), user.chat())})

    def send_text(self, user_id: int, text: str) -> dict[str, Any]:
        """The user writes ``text`` to the bot; the update (also queued for ``getUpdates``)."""
        if not text:
            raise ValueError("a message needs text")
        return self._user_message(user_id, text=text)

    def send_sticker(self, user_id: int, emoji: str = "😀") -> dict[str, Any]:
        """The user sends a sticker."""
        return self._user_message(user_id, sticker=emoji)

    def send_photo(self, user_id: int, caption: str | None = None) -> dict[str, Any]:
        """The user sends a photo (a fresh file id the bot may send back)."""
        return self._user_message(user_id, photo=self._new_file_id(), caption=caption)

    def press(
        self, user_id: int, message_id: int, *, text: str | None = None, data: str | None = None
    ) -> dict[str, Any]:
        """The user presses an inline button of a bot message, chosen by its ``text`` (or sends any ``data``,
        as a modified client can); the callback_query update."""
        message = self._messages.get(user_id, {}).get(message_id)
        if message is None or message.deleted or not message.from_bot:
            raise LookupError(f"chat {user_id} has no bot message {message_id}")
        if data is None:
            if text is None:
                raise ValueError("give the button's text or the callback data")
            for row in message.buttons:
                for button in row:
                    if button.get("text") == text and "callback_data" in button:
                        data = button["callback_data"]
            if data is None:
                labels = [b.get("text") for row in message.buttons for b in row]
                raise LookupError(f"message {message_id} has no callback button {text!r} (buttons: {labels})")
        user = self.user(user_id)
        query = CallbackQuery(secrets.token_hex(8), user_id, message_id, data, time.monotonic())
        self._callbacks[query.id] = query
        if len(self._callbacks) > 100_000:
            oldest = sorted(self._callbacks.values(), key=lambda q: q.created)[:50_000]
            for old in oldest:
                del self._callbacks[old.id]
        return self._push_update(
            {
                "callback_query": {
                    "id": query.id,
                    "from": user.to_telegram(),
                    "message": message.to_telegram(self.bot_user, user.chat()),
                    "chat_instance": str(user_id),
                    "data": data,
                }
            }
        )

    def callback_answer(self, query_id: str) -> CallbackQuery:
        return self._callbacks[query_id]

    def block(self, user_id: int, blocked: bool = True) -> None:
        """The user blocks the bot (sends then get 403) or unblocks it."""
        self.user(user_id).blocked = blocked

    def messages(self, chat_id: int, *, after: int = 0, from_bot: bool | None = None) -> list[ChatMessage]:
        """Messages of a chat changed after version ``after`` (every one by default), oldest first."""
        found = [m for m in self._messages.get(chat_id, {}).values() if m.version > after]
        if from_bot is not None:
            found = [m for m in found if m.from_bot == from_bot]
        return sorted(found, key=lambda m: m.message_id)

    def bot_messages(self, chat_id: int) -> list[ChatMessage]:
        """What the bot sent to a chat and has not deleted, oldest first."""
        return [m for m in self.messages(chat_id, from_bot=True) if not m.deleted]

    @property
    def version(self) -> int:
        """Grows on every change of any chat; pass it as ``after`` to see only later changes."""
        return self._version

    async def wait_for(
        self,
        chat_id: int,
        predicate: Callable[[ChatMessage], bool] = lambda m: True,
        *,
        after: int = 0,
        timeout: float = 5.0,
    ) -> ChatMessage:
        """The first bot message of the chat, changed after version ``after``, that satisfies ``predicate``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for message in self.messages(chat_id, after=after, from_bot=True):
                if not message.deleted and predicate(message):
                    return message
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [m.text or m.caption for m in self.bot_messages(chat_id)][-5:]
                raise TimeoutError(f"no matching bot message in chat {chat_id} (last messages: {seen})")
            await self._changed.wait(remaining)

    async def wait_changed(self, after: int, timeout: float) -> int:
        """Wait until something changed after version ``after`` (or ``timeout``); the current version."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._version <= after and (remaining := deadline - loop.time()) > 0:
            await self._changed.wait(remaining)
        return self._version

    def reset_stats(self) -> None:
        self.stats = Stats()
