"""A Telegram Bot API server for tests and the demo (aiohttp), plus a control API for simulated users.

The bot side is the Bot API as aiogram calls it (``POST /bot<token>/<method>``, form, multipart or JSON
parameters) with Telegram's validation and errors: callback data of at most 64 bytes, text of at most
4096 characters, HTML/MarkdownV2 parse errors, "message is not modified", 403 once a user blocked the bot,
and rate limits (``global_rate`` messages per second for the bot, ``chat_rate`` per chat) answered with 429
and ``parameters.retry_after``.

Outages as Telegram has them (:meth:`BotApiEmulator.cut`): connections broken at the network level, the front's
HTML "502 Bad Gateway" page, the Bot API's JSON 500, or 429 with ``retry_after`` on every call; and one method
refused (:meth:`BotApiEmulator.refuse`), as a Bot API server refused ``setMyCommands``.

The user side is :class:`BotApiEmulator`'s methods (in-process) and the same operations over HTTP under
``/_emu/`` (see :mod:`chathub_sim.telegram.client`): send text, a sticker or a photo, press an inline button,
read what the bot sent to a chat, block the bot.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import hashlib
import itertools
import json
import logging
import math
import re
import secrets
import struct
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from chathub_sim.signals import Signal
from chathub_sim.telegram import webapp
from chathub_sim.telegram.formatting import ParseError, plain_text, utf16_length

logger = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456789:AAEmulatedChathubBotToken0123456789ab"
"""A token of Telegram's shape (aiogram checks the shape)."""
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_CALLBACK_ANSWER = 200
CALLBACK_ANSWER_SECONDS = 15 * 60
_URL = re.compile(r"^(https?|tg)://[^\s]+$")
_WEB_APP_URL = re.compile(r"^(https://[^\s/]+|http://(127\.0\.0\.1|localhost)(:\d+)?)(/[^\s]*)?$")
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
OUTAGES = ("network", "bad_gateway", "server_error", "retry_after")
"""How Telegram can be unreachable: see :meth:`BotApiEmulator.cut`."""
_BAD_GATEWAY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
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
class SimGroup:
    """A group chat the bot is in (its id is negative, as Telegram's are)."""

    id: int
    title: str
    blocked: bool = False

    def chat(self) -> dict[str, Any]:
        return {"id": self.id, "type": "supergroup", "title": self.title}


@dataclass
class ChatMessage:
    """A message in a chat (a private one, or a group), from the bot or from a user."""

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
    paid_broadcasts: int = 0
    """Messages sent with ``allow_paid_broadcast`` (Telegram charges for each)."""
    retry_after_times: list[float] = field(default_factory=list)
    """Wall-clock times (``time.time()``) of every 429 answered."""
    send_times: list[float] = field(default_factory=list)
    """Wall-clock times of every accepted message (send or edit)."""

    def view(self) -> dict[str, Any]:
        return {
            "accepted": dict(self.accepted),
            "errors": {str(k): v for k, v in self.errors.items()},
            "too_many_requests": self.too_many_requests,
            "paid_broadcasts": self.paid_broadcasts,
            "retry_after_times": self.retry_after_times,
            "messages_accepted": len(self.send_times),
            "first_message_at": self.send_times[0] if self.send_times else None,
            "last_message_at": self.send_times[-1] if self.send_times else None,
        }


PAID_BROADCAST_RATE = 1000.0
"""Messages a second with ``allow_paid_broadcast``, instead of 30."""
GROUP_MESSAGES_PER_MINUTE = 20
"""Telegram's limit for a bot in one group."""


class RateLimits:
    """Telegram's flood limits: ``global_rate`` messages in any 1-second window, 1 per ``1/chat_rate`` s per chat,
    and 20 in any minute per group (a negative chat id)."""

    def __init__(self, global_rate: float = 30.0, chat_rate: float = 1.0, enabled: bool = True) -> None:
        self.configure(global_rate, chat_rate, enabled)
        self._global: collections.deque[float] = collections.deque()
        self._paid: collections.deque[float] = collections.deque()
        self.paid_rate = PAID_BROADCAST_RATE
        self._chats: dict[int, float] = {}
        self._groups: dict[int, collections.deque[float]] = {}

    def configure(self, global_rate: float, chat_rate: float, enabled: bool = True) -> None:
        self.global_rate = global_rate
        self.chat_rate = chat_rate
        self.enabled = enabled
        self.global_slots = max(1, int(global_rate))
        self.window = self.global_slots / global_rate

    def check(self, chat_id: int, now: float, *, paid: bool = False) -> None:
        """Record a message to ``chat_id`` at ``now``, or raise a 429. A paid broadcast counts against its own
        budget (``paid_rate`` a second) instead of the bot's 30; the per-chat limit holds for both."""
        if not self.enabled:
            return
        budget, slots, window = (
            (self._paid, max(1, int(self.paid_rate)), 1.0) if paid else (self._global, self.global_slots, self.window)
        )
        while budget and budget[0] <= now - window:
            budget.popleft()
        waits = []
        if len(budget) >= slots:
            waits.append(budget[0] + window - now)
        last = self._chats.get(chat_id)
        interval = 1.0 / self.chat_rate
        if last is not None and now - last < interval:
            waits.append(last + interval - now)
        group = self._groups.setdefault(chat_id, collections.deque()) if chat_id < 0 else None
        if group is not None:
            while group and group[0] <= now - 60.0:
                group.popleft()
            if len(group) >= GROUP_MESSAGES_PER_MINUTE:
                waits.append(group[0] + 60.0 - now)
        if waits:
            retry_after = max(1, math.ceil(max(waits)))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
        budget.append(now)
        self._chats[chat_id] = now
        if group is not None:
            group.append(now)
        if len(self._chats) > 10_000:  # forget chats quiet for longer than their interval
            self._chats = {k: v for k, v in self._chats.items() if now - v < interval}


Params = Mapping[str, Any]


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
        self.groups: dict[int, SimGroup] = {}
        self.commands: list[dict[str, Any]] = []
        """The commands last set for the default scope (any language)."""
        self.command_sets: dict[tuple[int | None, str], list[dict[str, Any]]] = {}
        """(chat id or None for the default scope, language code or "") → the commands set for it."""
        self._messages: dict[int, dict[int, ChatMessage]] = {}
        self._next_message_id: dict[int, int] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = itertools.count(1)
        self._callbacks: dict[str, CallbackQuery] = {}
        self._files: dict[str, str] = {}
        """File id → its path for downloads (``photos/file_N.png``)."""
        self._paths: dict[str, str] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        """The bot's menu button: for every chat (key None) and per chat, as ``setChatMenuButton`` set it."""
        self._version = 0
        self._changed = Signal()
        self._updates_changed = Signal()
        self._poll_generation = 0
        self._runner: web.AppRunner | None = None
        self.url: str | None = None
        self.webhook: dict[str, Any] | None = None
        """``setWebhook``'s url and secret_token while a webhook is set: updates are POSTed there, one at a time,
        in order, again until the bot answers 200 (and ``getUpdates`` answers 409, as Telegram's does)."""
        self._webhook_task: asyncio.Task[None] | None = None
        self.outage: str | None = None
        """While set (one of :data:`OUTAGES`), every Bot API call fails that way."""
        self.outage_retry_after = 5
        self.refused: dict[str, str] = {}
        """Bot API methods (lower case) refused, and how: ``error`` (a JSON 400) or ``garbage`` (not JSON)."""
        self._methods: dict[str, Callable[[Params], Any]] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands,
            "getmycommands": lambda params: self.commands,
            "deletemycommands": self._delete_my_commands,
            "setmydescription": lambda params: True,
            "setmyshortdescription": lambda params: True,
            "setchatmenubutton": self._set_chat_menu_button,
            "getchatmenubutton": self._get_chat_menu_button,
            "getfile": self._get_file,
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
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        from chathub_sim.telegram.control import add_control_routes

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
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            self._webhook_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- faults -------------------------------------------------------------------------------

    def cut(self, how: str = "network", *, retry_after: int = 5) -> None:
        """Telegram becomes unreachable until :meth:`restore`: ``network`` (connections closed unanswered),
        ``bad_gateway`` (the front's HTML 502 page), ``server_error`` (the Bot API's JSON 500), ``retry_after``
        (429 with ``retry_after`` seconds for every call)."""
        if how not in OUTAGES:
            raise ValueError(f"unknown outage {how!r}; one of {', '.join(OUTAGES)}")
        self.outage, self.outage_retry_after = how, retry_after
        logger.info("Telegram cut (%s)", how)

    def restore(self) -> None:
        self.outage = None
        logger.info("Telegram restored")

    def refuse(self, method: str, how: str = "garbage") -> None:
        """Refuse every call of ``method`` (e.g. ``setMyCommands``): ``garbage`` answers a page that is not the
        Bot API's JSON, ``error`` a JSON 400. :meth:`accept` ends it."""
        if how not in ("garbage", "error"):
            raise ValueError("how: garbage or error")
        self.refused[method.lower()] = how

    def accept(self, method: str) -> None:
        self.refused.pop(method.lower(), None)

    def _fault(self, request: web.Request, method: str) -> web.Response | None:
        """The answer of an outage or a refused method, if one applies."""
        how = self.outage
        if how is not None:
            self.stats.errors[{"network": 0, "retry_after": 429, "server_error": 500}.get(how, 502)] += 1
            if how == "network":
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=502)  # never reaches the client: the connection is gone
            if how == "bad_gateway":
                return web.Response(status=502, text=_BAD_GATEWAY_PAGE, content_type="text/html")
            if how == "server_error":
                return web.json_response(
                    {"ok": False, "error_code": 500, "description": "Internal Server Error"}, status=500
                )
            return web.json_response(ApiError(429, "Too Many Requests", self.outage_retry_after).body(), status=429)
        refusal = self.refused.get(method)
        if refusal == "garbage":
            self.stats.errors[502] += 1
            return web.Response(status=502, text=_BAD_GATEWAY_PAGE, content_type="text/html")
        if refusal == "error":
            self.stats.errors[400] += 1
            return web.json_response(bad_request(f"method {method} is refused").body(), status=400)
        return None

    async def _handle_api(self, request: web.Request) -> web.Response:
        fault = self._fault(request, request.match_info["method"].lower())
        if fault is not None:
            return fault
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

    async def _handle_file(self, request: web.Request) -> web.Response:
        """A file's download, as Telegram serves it at ``/file/bot<token>/<file_path>`` after ``getFile``."""
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        path = request.match_info["path"]
        file_id = self._paths.get(path)
        if file_id is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.Response(body=placeholder_png(file_id), content_type="image/png")

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
        if "web_app" in button:
            BotApiEmulator._check_web_app(button["web_app"])

    @staticmethod
    def _check_web_app(info: Any) -> None:
        """A ``WebAppInfo``: Telegram opens only HTTPS pages (its test environment, like this emulator, also
        takes http:// on the loopback)."""
        url = info.get("url") if isinstance(info, dict) else None
        if not isinstance(url, str) or not _WEB_APP_URL.match(url):
            raise bad_request("BUTTON_URL_INVALID")

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

    def _chat_for_send(self, params: Params) -> SimUser | SimGroup:
        chat_id = self._int(params, "chat_id")
        assert chat_id is not None
        if chat_id < 0 and chat_id in self.groups:
            return self.groups[chat_id]
        if chat_id <= 0:
            raise bad_request("chat not found")
        user = self.user(chat_id)
        if user.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return user

    def _chat(self, chat_id: int) -> dict[str, Any]:
        """The ``chat`` object of a private chat or a group."""
        return self.groups[chat_id].chat() if chat_id in self.groups else self.user(chat_id).chat()

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
        if chat_id not in self.groups and self.user(chat_id).blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return message

    def _rate_limit(self, chat_id: int, params: Params | None = None) -> None:
        paid = params is not None and self._bool(params, "allow_paid_broadcast")
        if paid:
            self.stats.paid_broadcasts += 1
        self.limits.check(chat_id, time.monotonic(), paid=paid)

    # --- Bot API methods ----------------------------------------------------------------------

    def _get_me(self, params: Params) -> dict[str, Any]:
        return self.bot_user

    async def _get_updates(self, params: Params) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
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
        self.webhook = None
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            self._webhook_task = None
        return True

    def _set_webhook(self, params: Params) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return self._delete_webhook(params)
        if not _WEB_APP_URL.match(url):  # https, or http on the loopback (as Telegram's test environment allows)
            raise bad_request("Bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad_request("Bad webhook: secret token contains unallowed characters")
        if self._bool(params, "drop_pending_updates"):
            self._updates.clear()
        self.webhook = {"url": url, "secret_token": secret}
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_by_webhook())
        self._updates_changed.fire()
        return True

    async def _deliver_by_webhook(self) -> None:
        """POST each pending update to the webhook, oldest first, until it is answered with 200."""
        import aiohttp

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            while self.webhook is not None:
                if not self._updates:
                    await self._updates_changed.wait(1.0)
                    continue
                update, hook = self._updates[0], self.webhook
                headers = {"X-Telegram-Bot-Api-Secret-Token": hook["secret_token"]} if hook["secret_token"] else {}
                try:
                    async with session.post(hook["url"], json=update, headers=headers) as response:
                        delivered = response.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    delivered = False
                if delivered:
                    if self._updates and self._updates[0] is update:
                        self._updates.pop(0)
                else:
                    await asyncio.sleep(0.5)

    def _get_webhook_info(self, params: Params) -> dict[str, Any]:
        url = self.webhook["url"] if self.webhook else ""
        return {"url": url, "has_custom_certificate": False, "pending_update_count": len(self._updates)}

    def _set_my_commands(self, params: Params) -> bool:
        commands = self._json(params, "commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        chat_id = self._command_scope_chat(params)
        self.command_sets[(chat_id, str(params.get("language_code") or ""))] = commands
        if chat_id is None:
            self.commands = commands
        return True

    def _command_scope_chat(self, params: Params) -> int | None:
        """The chat of a ``BotCommandScopeChat``; None for the default scope (other scopes count as default)."""
        scope = self._json(params, "scope") or {"type": "default"}
        if not isinstance(scope, dict):
            raise bad_request("can't parse BotCommandScope JSON object")
        if scope.get("type") == "chat":
            chat_id = scope.get("chat_id")
            if not isinstance(chat_id, int) or isinstance(chat_id, bool):
                raise bad_request("chat not found")
            return chat_id
        return None

    def commands_for(self, chat_id: int | None = None, language: str = "") -> list[dict[str, Any]]:
        """The menu a user sees in ``chat_id``: the chat's own commands (in their language, else any), else the
        bot's (likewise), as Telegram resolves scopes."""
        for key in ((chat_id, language), (chat_id, ""), (None, language), (None, "")):
            if key in self.command_sets:
                return self.command_sets[key]
        return []

    def _set_chat_menu_button(self, params: Params) -> bool:
        chat_id = self._int(params, "chat_id", required=False)
        button = self._json(params, "menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in ("commands", "web_app", "default"):
            raise bad_request("can't parse menu button JSON object")
        if button["type"] == "web_app":
            if not str(button.get("text") or "").strip():
                raise bad_request("BUTTON_TEXT_EMPTY")
            self._check_web_app(button.get("web_app"))
        self.menu_buttons[chat_id] = button
        return True

    def _get_chat_menu_button(self, params: Params) -> dict[str, Any]:
        return self.menu_button(self._int(params, "chat_id", required=False))

    def menu_button(self, chat_id: int | None = None) -> dict[str, Any]:
        """The menu button a chat shows (its own, else the bot's default)."""
        return self.menu_buttons.get(chat_id) or self.menu_buttons.get(None) or {"type": "default"}

    def _get_file(self, params: Params) -> dict[str, Any]:
        file_id = str(params.get("file_id") or "")
        if file_id not in self._files:
            raise bad_request("invalid file_id")
        path = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id[-12:]}",
            "file_size": len(placeholder_png(file_id)),
            "file_path": path,
        }

    def _delete_my_commands(self, params: Params) -> bool:
        chat_id = self._command_scope_chat(params)
        self.command_sets.pop((chat_id, str(params.get("language_code") or "")), None)
        if chat_id is None:
            self.commands = []
        return True

    def _send_chat_action(self, params: Params) -> bool:
        self._chat_for_send(params)
        return True

    def _send_message(self, params: Params) -> dict[str, Any]:
        user = self._chat_for_send(params)
        plain, source = self._formatted(params, "text", MAX_TEXT, required=True)
        markup = self._markup(params)
        self._rate_limit(user.id, params)
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
        self._rate_limit(user.id, params)
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
        return message.to_telegram(self.bot_user, self._chat(message.chat_id))

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
        self._files[file_id] = path = f"photos/file_{len(self._files)}.png"
        self._paths[path] = file_id
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

    def group(self, chat_id: int, title: str = "Speed dating fans") -> SimGroup:
        """A group chat the bot is a member of (``chat_id`` negative; created on first use)."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        group = self.groups.get(chat_id)
        if group is None:
            group = self.groups[chat_id] = SimGroup(chat_id, title)
        return group

    def _user_message(self, user_id: int, *, in_group: int | None = None, **fields: Any) -> dict[str, Any]:
        user = self.user(user_id)
        if in_group is not None:
            group = self.group(in_group)
            message = self._add_message(group.id, from_bot=False, **fields)
            return self._push_update({"message": message.to_telegram(user.to_telegram(), group.chat())})
        if user.blocked:  # writing to the bot again unblocks it, as in Telegram
            user.blocked = False
        message = self._add_message(user_id, from_bot=False, **fields)
        return self._push_update({"message": message.to_telegram(user.to_telegram(), user.chat())})

    def send_text(self, user_id: int, text: str, *, in_group: int | None = None) -> dict[str, Any]:
        """The user writes ``text`` to the bot (in a group, with ``in_group``); the update (also queued for
        ``getUpdates``)."""
        if not text:
            raise ValueError("a message needs text")
        return self._user_message(user_id, text=text, in_group=in_group)

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

    def init_data(self, user_id: int, *, auth_date: float | None = None, start_param: str | None = None) -> str:
        """Init data of the user opening the bot's Mini App, signed with the bot's token as Telegram signs it."""
        user = self.user(user_id).to_telegram()
        user["allows_write_to_pm"] = True
        return webapp.init_data(self.token, user, auth_date=auth_date, start_param=start_param)

    def open_web_app(self, user_id: int, url: str | None = None, **theme: str) -> str:
        """The URL Telegram opens when the user taps a Mini App (``url``, else the menu button's): the launch
        parameters, signed init data included, in its fragment."""
        if url is None:
            button = self.menu_button(user_id)
            if button.get("type") != "web_app":
                raise LookupError("the bot has no Mini App in its menu button")
            url = str(button["web_app"]["url"])
        return webapp.launch_url(url, self.init_data(user_id), theme={**webapp.LIGHT_THEME, **theme})

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


@functools.lru_cache(maxsize=256)
def placeholder_png(seed: str, size: int = 96) -> bytes:
    """A small picture standing in for a photo: a PNG in two colours drawn from ``seed``."""
    digest = hashlib.sha256(seed.encode()).digest()
    back, front = bytes(digest[:3]), bytes(255 - b // 2 for b in digest[3:6])
    centre, radius = size / 2, size * 0.3
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")  # filter: none
        for x in range(size):
            row += front if (x - centre) ** 2 + (y - centre * 0.8) ** 2 < radius**2 or y > size * 0.75 else back
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(rows))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
