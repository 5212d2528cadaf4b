"""The Mini App's HTTP server (aiohttp): the page at ``/app/`` and its API under ``/app/api/`` (docs/protocol.md
section 8).

Every API call carries ``Authorization: tma <initData>``; the user it names is the only one the call acts for,
through the gateway's datemaker commands (the chat's rules, limits and idempotency), and within the same
per-user limit as the chat (:class:`~chathub_bot.guards.FloodGuard`). Answers are the wire's envelope:
``{"ok": true, "data": {...}}`` or ``{"ok": false, "error": {"code", "message"}}`` with an HTTP status that fits.
Telegram file ids never reach the page: a profile card says ``photo_url`` instead, served by the API to the
user themself and to their partners of tonight.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.utils.i18n import I18n
from aiohttp import web
from pydantic import ValidationError

from chathub_bot import metrics, validation
from chathub_bot.gateway import Actor, DatemakerError, DatemakerGateway, DatemakerUnavailable, profile_of
from chathub_bot.guards import FloodGuard
from chathub_bot.webapp.auth import Unauthorized, WebAppUser, check_init_data, from_header
from chathub_bot.webapp.photos import TelegramPhotos
from chathub_bot.webapp.texts import page_texts
from contracts import commands as c
from contracts.envelope import INT64_MAX
from contracts.errors import ErrorCode

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
ASSETS = ("app.js", "app.css")
MAX_BODY = 16 * 1024
"""The largest request body (a profile with a long bio is about 2 KB)."""
_ID = re.compile(r"[1-9][0-9]{0,18}")
PROFILE_FIELDS = ("name", "gender", "birthday", "city", "bio")
"""What the page may change in a profile (the username and language come from Telegram, the photo from the chat)."""

# Codes of the API beyond the contract's (docs/protocol.md section 8).
UNAUTHORIZED = "unauthorized"
TOO_MANY_REQUESTS = "too_many_requests"
UNAVAILABLE = "unavailable"
NOT_FOUND = "not_found"
ROUND_NOT_RUNNING = "round_not_running"
"""``partner_absent`` for a round that is not running now (datemaker's ``bad_request`` to a valid command)."""

STATUS_OF_CODE: dict[str, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.UNKNOWN_COMMAND: 400,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.EVENT_NOT_FOUND: 404,
    ErrorCode.NOT_YOUR_PARTNER: 403,
    ErrorCode.INTERNAL_ERROR: 500,
    "banned": 403,
}
"""HTTP status of a datemaker error; any other code is a rule saying no to the state things are in: 409."""


class ApiError(Exception):
    """An error answer of the API."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> web.Response:
        error = {"code": self.code, "message": self.message, **self.extra}
        headers = {"Retry-After": "1"} if self.status == 429 else None
        return _json({"ok": False, "error": error}, self.status, headers)


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    response = web.json_response(body, status=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def parse_id(text: str, what: str = "event") -> int:
    """A positive 64-bit id from a path segment; anything else is a bad request."""
    if not _ID.fullmatch(text) or int(text) > INT64_MAX:
        raise ApiError(400, ErrorCode.BAD_REQUEST, f"{what} ids are positive 64-bit integers")
    return int(text)


def public(data: Any) -> Any:
    """``data`` for the page: each card's ``photo_file_id`` becomes the ``photo_url`` the API serves it at."""
    if isinstance(data, list):
        return [public(item) for item in data]
    if not isinstance(data, dict):
        return data
    result = {key: public(value) for key, value in data.items() if key != "photo_file_id"}
    if data.get("photo_file_id") and "user_id" in data:
        result["photo_url"] = f"/app/api/photos/{int(data['user_id'])}"
    return result


def partner_cards(tonight: c.Tonight) -> Iterator[Any]:
    """Everyone the user meets or met tonight, as the reply shows them."""
    if tonight.date is not None:
        yield tonight.date.partner
        if tonight.date.next is not None:
            yield tonight.date.next.partner
    for rating in tonight.to_rate:
        yield rating.partner


Handler = Callable[[web.Request, WebAppUser, Actor], Awaitable[Any]]


class WebAppServer:
    """Serves the Mini App on ``host:port``; :attr:`port` is the bound one once started (0 picks a free one)."""

    def __init__(
        self,
        *,
        token: str,
        gateway: DatemakerGateway,
        bot: Bot,
        flood: FloodGuard,
        i18n: I18n,
        host: str = "127.0.0.1",
        port: int = 8080,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        more_routes: Callable[[web.Application], None] | None = None,
    ) -> None:
        self.token = token
        self.more_routes = more_routes
        """Adds routes served beside the Mini App (the Telegram webhook, when there is one)."""
        self.gateway = gateway
        self.flood = flood
        self.photos = TelegramPhotos(bot)
        self.host, self.port = host, port
        self.clock = clock
        self._runner: web.AppRunner | None = None
        self._assets = {name: (STATIC / name).read_bytes() for name in ASSETS}
        versions = {name: hashlib.sha256(body).hexdigest()[:12] for name, body in self._assets.items()}
        texts = json.dumps(page_texts(i18n), ensure_ascii=False).replace("</", "<\\/")
        index = (STATIC / "index.html").read_text(encoding="utf-8")
        index = index.replace("{{TEXTS}}", texts)
        for name, version in versions.items():
            index = index.replace(f"{{{{{name}}}}}", f"/app/static/{name}?v={version}")
        self._index = index.encode()

    # --- serving ------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._observe])
        r = app.router
        r.add_get("/app", self._to_index)
        r.add_get("/app/", self._page)
        r.add_get("/app/static/{name}", self._asset)
        r.add_get("/app/api/events", self._api(self._events))
        r.add_post("/app/api/events/{event_id}/registration", self._api(self._register))
        r.add_delete("/app/api/events/{event_id}/registration", self._api(self._cancel))
        r.add_post("/app/api/events/{event_id}/confirmation", self._api(self._confirm))
        r.add_post("/app/api/events/{event_id}/ratings", self._api(self._rate))
        r.add_post("/app/api/events/{event_id}/absence", self._api(self._absent))
        r.add_get("/app/api/me", self._api(self._me))
        r.add_put("/app/api/me", self._api(self._save_me))
        r.add_delete("/app/api/me", self._api(self._delete_me))
        r.add_get("/app/api/tonight", self._api(self._tonight))
        r.add_get("/app/api/matches", self._api(self._matches))
        r.add_get("/app/api/photos/{user_id}", self._api(self._photo))
        if self.more_routes is not None:
            self.more_routes(app)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        logger.info("Mini App on http://%s:%d/app/", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _observe(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Counts every request by route template and status; errors of the API become its JSON errors."""
        started = time.perf_counter()
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
        api = request.path.startswith("/app/api/")
        try:
            response = await handler(request)
        except ApiError as exc:
            response = exc.response()
        except web.HTTPException as exc:
            if not api:
                metrics.WEBAPP_REQUESTS.labels(route, request.method, str(exc.status)).inc()
                raise
            code = (
                ErrorCode.PAYLOAD_TOO_LARGE
                if exc.status == 413
                else NOT_FOUND
                if exc.status in (404, 405)
                else ErrorCode.BAD_REQUEST
            )
            response = ApiError(exc.status, code, exc.reason).response()
        except Exception:
            logger.exception("the Mini App failed on %s %s", request.method, route)
            response = ApiError(500, ErrorCode.INTERNAL_ERROR, "something went wrong on our side").response()
        metrics.WEBAPP_REQUESTS.labels(route, request.method, str(response.status)).inc()
        if api:
            metrics.WEBAPP_DURATION.labels(route).observe(time.perf_counter() - started)
        return response

    async def _to_index(self, request: web.Request) -> web.Response:
        raise web.HTTPPermanentRedirect(f"/app/{'?' + request.query_string if request.query_string else ''}")

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self._index,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Cache-Control": "no-cache",
                "Content-Security-Policy": (
                    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
                    "connect-src 'self'; frame-ancestors https://web.telegram.org https://*.telegram.org; "
                    "base-uri 'none'; form-action 'none'"
                ),
                "Referrer-Policy": "no-referrer",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def _asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self._assets:
            raise web.HTTPNotFound()
        content_type = "text/javascript" if name.endswith(".js") else "text/css"
        return web.Response(
            body=self._assets[name],
            content_type=content_type,
            charset="utf-8",
            headers={"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"},
        )

    # --- the API ------------------------------------------------------------------------------

    def _api(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def call(request: web.Request) -> web.StreamResponse:
            user = self._authenticate(request)
            served, _ = self.flood.allow(user.id)
            if not served:
                metrics.GUARDED.labels("flood").inc()
                raise ApiError(429, TOO_MANY_REQUESTS, "too many requests: wait a few seconds")
            try:
                result = await handler(request, user, Actor(user.id, user.id))
            except DatemakerUnavailable:
                raise ApiError(503, UNAVAILABLE, "the service is busy, try again in a minute") from None
            except DatemakerError as exc:
                raise ApiError(STATUS_OF_CODE.get(exc.code, 409), exc.code, exc.message) from None
            if isinstance(result, web.StreamResponse):
                return result
            data = result.model_dump(mode="json") if isinstance(result, c.Data) else result
            return _json({"ok": True, "data": public(data)})

        return call

    def _authenticate(self, request: web.Request) -> WebAppUser:
        try:
            init_data = from_header(request.headers.get("Authorization"))
            return check_init_data(init_data, self.token, self.clock())
        except Unauthorized as exc:
            logger.debug("Mini App request refused: %s", exc)
            raise ApiError(401, UNAUTHORIZED, "open the Mini App from Telegram") from None

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, ErrorCode.BAD_REQUEST, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, ErrorCode.BAD_REQUEST, "the body is not a JSON object")
        return body

    @staticmethod
    def _command(command: type[c.Command[Any]], values: dict[str, Any]) -> Any:
        try:
            return command.model_validate(values)
        except ValidationError as exc:
            fields = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
            raise ApiError(
                400, ErrorCode.BAD_REQUEST, f"invalid {', '.join(fields) or 'body'}", fields=fields
            ) from None

    async def _events(self, request: web.Request, user: WebAppUser, actor: Actor) -> c.Data:
        return await self.gateway.request(c.ListEvents(), actor)

    async def _register(self, request: web.Request, user: WebAppUser, actor: Actor) -> c.Data:
        event_id = parse_id(request.match_info["event_id"])
        return await self.gateway.request(c.RegisterEvent(event_id=event_id), actor)

    async def _cancel(self, request: web.Request, user: WebAppUser, actor: Actor) -> c.Data:
        event_id = parse_id(request.match_info["event_id"])
        return await self.gateway.request(c.CancelRegistration(event_id=event_id), actor)

    async def _confirm(self, request: web.Request, user: WebAppUser, actor: Actor) -> c.Data:
        event_id = parse_id(request.match_info["event_id"])
        body = await self._body(request)
        command = self._command(c.ConfirmRegistration, {"event_id": event_id, "attending": body.get("attending")})
        return await self.gateway.request(command, actor)

    async def _rate(self, request: web.Request, user: WebAppUser, actor: Actor) -> c.Data:
        event_id = parse_id(request.match_info["event_id"])
        body = await self._body(request)
        values = {"event_id": event_id, **{k: body.get(k) for k in ("partner_id", "verdict", "reason") if k in body}}
        return await self.gateway.request(self._command(c.RatePartner, values), actor)

    async def _absent(self, request: web.Request, user: WebAppUser, actor: Actor) -> dict[str, Any]:
        """ "My partner isn't here" for the round running now (the invitation's button in the chat). With
        ``rematched`` the answer also names the rescue partner (``partner``, their card), as tonight shows them."""
        event_id = parse_id(request.match_info["event_id"])
        body = await self._body(request)
        command = self._command(c.PartnerAbsent, {"event_id": event_id, "round": body.get("round")})
        try:
            result = await self.gateway.request(command, actor)
        except DatemakerError as exc:
            if exc.code != ErrorCode.BAD_REQUEST:
                raise
            # The command is valid (checked above): datemaker says the round is not running (yet, or any more).
            raise ApiError(409, ROUND_NOT_RUNNING, exc.message) from None
        data: dict[str, Any] = {**result.model_dump(mode="json"), "partner": None}
        if result.status == "rematched":
            tonight = await self.gateway.request(c.GetCurrentDate(), actor)
            date = tonight.date
            if date is not None and (date.event_id, date.round) == (command.event_id, command.round):
                data["partner"] = date.partner.model_dump(mode="json")
        return data

    async def _me(self, request: web.Request, user: WebAppUser, actor: Actor) -> c.Data:
        return await self.gateway.request(c.GetProfile(), actor)

    async def _save_me(self, request: web.Request, user: WebAppUser, actor: Actor) -> c.Data:
        body = await self._body(request)
        values = {key: body[key] for key in PROFILE_FIELDS if key in body}
        values["username"] = validation.telegram_username(user.username)
        values["language"] = validation.telegram_language(user.language_code)
        return await self.gateway.request(self._command(c.UpsertProfile, values), actor)

    async def _delete_me(self, request: web.Request, user: WebAppUser, actor: Actor) -> c.Data:
        return await self.gateway.request(c.DeleteMyData(), actor)

    async def _tonight(self, request: web.Request, user: WebAppUser, actor: Actor) -> c.Data:
        return await self.gateway.request(c.GetCurrentDate(), actor)

    async def _matches(self, request: web.Request, user: WebAppUser, actor: Actor) -> c.Data:
        return await self.gateway.request(c.ListMatches(), actor)

    async def _photo(self, request: web.Request, user: WebAppUser, actor: Actor) -> web.StreamResponse:
        """A profile photo, for its owner and for their partners tonight; nobody else's."""
        whose = parse_id(request.match_info["user_id"], "user")
        file_id: str | None = None
        if whose == user.id:
            profile = await profile_of(self.gateway, actor)
            file_id = profile.photo_file_id if profile else None
        else:
            tonight = await self.gateway.request(c.GetCurrentDate(), actor)
            file_id = next((p.photo_file_id for p in partner_cards(tonight) if p.user_id == whose), None)
        if not file_id:
            raise ApiError(404, NOT_FOUND, "no photo to show")
        try:
            photo = await self.photos.get(file_id)
        except Exception as exc:
            logger.warning("could not fetch a photo from Telegram: %r", exc)
            raise ApiError(503, UNAVAILABLE, "Telegram did not give the photo; try again later") from None
        if photo is None:
            raise ApiError(404, NOT_FOUND, "no photo to show")
        return web.Response(
            body=photo.content,
            content_type=photo.content_type,
            headers={"Cache-Control": "private, max-age=600", "X-Content-Type-Options": "nosniff"},
        )
