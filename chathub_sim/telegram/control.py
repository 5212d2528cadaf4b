"""The emulator's control API (``/_emu/...``): simulated users over HTTP, for tests and the demo.

Every body is JSON. A user is created on first use; any call about a user may carry ``first_name``,
``last_name``, ``username`` and ``language_code`` to set them.

- ``GET /_emu/info``: ``{"token", "bot", "url", "limits"}``
- ``POST /_emu/users/{id}`` (profile fields): the user
- ``POST /_emu/users/{id}/text`` ``{"text"}``: ``{"update_id", "message_id", "version"}``
- ``POST /_emu/users/{id}/sticker`` ``{"emoji"?}``: the same
- ``POST /_emu/users/{id}/photo`` ``{"caption"?}``: the same, plus ``file_id``
- ``POST /_emu/users/{id}/press`` ``{"message_id", "text"}`` (a button by its label) or
  ``{"message_id", "data"}`` (any callback data): ``{"update_id", "callback_query_id", "version"}``
- ``POST /_emu/users/{id}/block`` and ``.../unblock``: ``{"blocked"}``
- ``POST /_emu/users/{id}/webapp`` ``{"url"?}``: the user opens the bot's Mini App (``url``, else the menu
  button's) as Telegram opens it: ``{"url"`` (with the launch parameters in its fragment), ``"init_data"}``
  (signed with the bot's token)
- ``GET /_emu/callbacks/{query_id}``: ``{"answered", "text", "show_alert", "data"}``
- ``GET /_emu/chats/{id}/messages?after=V&wait=S&from=bot``: ``{"version", "messages": [...]}``
- ``GET /_emu/stats``, ``POST /_emu/stats/reset``: counters of what the bot did
- ``GET /_emu/limits``, ``PUT /_emu/limits`` ``{"global_rate", "chat_rate", "enabled"}``: the rate limits

``messages`` lists the chat's messages changed after version ``after`` (0: all), waiting up to ``wait``
seconds for at least one; each has ``message_id``, ``from`` (bot/user), ``text``, ``caption``, ``source``
(as the bot sent it, with markup), ``photo``, ``sticker``, ``buttons`` (rows of ``{"text",
"callback_data" | "url"}``), ``edits``, ``version``, ``deleted``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from chathub_sim.http_json import json_object

if TYPE_CHECKING:
    from chathub_sim.telegram.server import BotApiEmulator

logger = logging.getLogger(__name__)

_PROFILE_FIELDS = ("first_name", "last_name", "username", "language_code")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def add_control_routes(app: web.Application, emulator: BotApiEmulator) -> None:
    """Register the ``/_emu/`` routes of ``emulator`` on ``app``."""

    def user_route(action: Callable[[int, dict[str, Any]], dict[str, Any]]) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                user_id = int(request.match_info["user_id"])
            except ValueError:
                return _error(400, "the user id must be an integer")
            if user_id <= 0:
                return _error(400, "the user id must be positive")
            body = await json_object(request)
            emulator.user(user_id, **{k: body[k] for k in _PROFILE_FIELDS if k in body})
            try:
                return web.json_response(action(user_id, body))
            except (LookupError, ValueError, TypeError) as exc:
                return _error(404 if isinstance(exc, LookupError) else 400, str(exc))

        return handle

    def sent(update: dict[str, Any]) -> dict[str, Any]:
        message = update["message"]
        answer = {"update_id": update["update_id"], "message_id": message["message_id"], "version": emulator.version}
        if "photo" in message:
            answer["file_id"] = message["photo"][-1]["file_id"]
        return answer

    def profile(user_id: int, body: dict[str, Any]) -> dict[str, Any]:
        user = emulator.user(user_id)
        return {**user.to_telegram(), "blocked": user.blocked}

    def text(user_id: int, body: dict[str, Any]) -> dict[str, Any]:
        value = body.get("text")
        if not isinstance(value, str) or not value:
            raise ValueError('give {"text": "..."}')
        return sent(emulator.send_text(user_id, value))

    def sticker(user_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return sent(emulator.send_sticker(user_id, str(body.get("emoji") or "😀")))

    def photo(user_id: int, body: dict[str, Any]) -> dict[str, Any]:
        caption = body.get("caption")
        return sent(emulator.send_photo(user_id, str(caption) if caption else None))

    def press(user_id: int, body: dict[str, Any]) -> dict[str, Any]:
        update = emulator.press(user_id, int(body["message_id"]), text=body.get("text"), data=body.get("data"))
        return {
            "update_id": update["update_id"],
            "callback_query_id": update["callback_query"]["id"],
            "version": emulator.version,
        }

    def webapp(user_id: int, body: dict[str, Any]) -> dict[str, Any]:
        url = body.get("url")
        opened = emulator.open_web_app(user_id, str(url) if url else None)
        return {"url": opened, "init_data": emulator.init_data(user_id)}

    def block(user_id: int, body: dict[str, Any]) -> dict[str, Any]:
        emulator.block(user_id, True)
        return {"blocked": True}

    def unblock(user_id: int, body: dict[str, Any]) -> dict[str, Any]:
        emulator.block(user_id, False)
        return {"blocked": False}

    async def info(request: web.Request) -> web.Response:
        return web.json_response(
            {"token": emulator.token, "bot": emulator.bot_user, "url": emulator.url, "limits": limits_view()}
        )

    async def callback(request: web.Request) -> web.Response:
        try:
            return web.json_response(emulator.callback_answer(request.match_info["query_id"]).view())
        except KeyError:
            return _error(404, "no such callback query")

    async def messages(request: web.Request) -> web.Response:
        try:
            chat_id = int(request.match_info["chat_id"])
            after = int(request.query.get("after", "0"))
            wait = min(float(request.query.get("wait", "0")), 60.0)
        except ValueError:
            return _error(400, "chat id, after and wait must be numbers")
        sender = request.query.get("from", "all")
        from_bot = {"bot": True, "user": False}.get(sender)

        def found() -> list[dict[str, Any]]:
            return [m.view() for m in emulator.messages(chat_id, after=after, from_bot=from_bot)]

        loop_version = after
        result = found()
        if not result and wait > 0:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            while not result and (remaining := deadline - loop.time()) > 0:
                loop_version = await emulator.wait_changed(loop_version, remaining)
                result = found()
        return web.json_response({"version": emulator.version, "messages": result})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(emulator.stats.view())

    async def reset_stats(request: web.Request) -> web.Response:
        emulator.reset_stats()
        return web.json_response(emulator.stats.view())

    def limits_view() -> dict[str, Any]:
        limits = emulator.limits
        return {"global_rate": limits.global_rate, "chat_rate": limits.chat_rate, "enabled": limits.enabled}

    async def get_limits(request: web.Request) -> web.Response:
        return web.json_response(limits_view())

    async def put_limits(request: web.Request) -> web.Response:
        body = await json_object(request)
        limits = emulator.limits
        try:
            global_rate = float(body.get("global_rate", limits.global_rate))
            chat_rate = float(body.get("chat_rate", limits.chat_rate))
        except (TypeError, ValueError):
            return _error(400, "rates must be numbers")
        if global_rate <= 0 or chat_rate <= 0:
            return _error(400, "rates must be positive")
        limits.configure(global_rate, chat_rate, bool(body.get("enabled", limits.enabled)))
        return web.json_response(limits_view())

    routes = app.router
    routes.add_get("/_emu/info", info)
    routes.add_post("/_emu/users/{user_id}", user_route(profile))
    routes.add_post("/_emu/users/{user_id}/text", user_route(text))
    routes.add_post("/_emu/users/{user_id}/sticker", user_route(sticker))
    routes.add_post("/_emu/users/{user_id}/photo", user_route(photo))
    routes.add_post("/_emu/users/{user_id}/press", user_route(press))
    routes.add_post("/_emu/users/{user_id}/webapp", user_route(webapp))
    routes.add_post("/_emu/users/{user_id}/block", user_route(block))
    routes.add_post("/_emu/users/{user_id}/unblock", user_route(unblock))
    routes.add_get("/_emu/callbacks/{query_id}", callback)
    routes.add_get("/_emu/chats/{chat_id}/messages", messages)
    routes.add_get("/_emu/stats", stats)
    routes.add_post("/_emu/stats/reset", reset_stats)
    routes.add_get("/_emu/limits", get_limits)
    routes.add_put("/_emu/limits", put_limits)
