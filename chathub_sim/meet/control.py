"""HTTP control API of the Meet emulator, for a process that is not the emulator's (the demo, e2e tests).

Every answer is JSON. Endpoints:

- ``GET  /healthz``  → ``{"ok": true}``
- ``GET  /stats``    → the emulator's counters (``MeetEmulator.stats()``)
- ``GET  /spaces``   → ``{"spaces": [{"name", "meeting_code", "meeting_uri", "access_type", "active_conference"}]}``
- ``POST /join``     ``{"meeting": code | link | "spaces/..", "display_name", "kind"?: "anonymous"|"signedin"|"phone",
  "user"?}`` → ``{"participant": "conferenceRecords/../participants/.."}`` (404 for an unknown meeting)
- ``POST /leave``    same body → ``{"left": true|false}``
- ``POST /failures`` ``{"count", "code"?: "RESOURCE_EXHAUSTED"|"UNAVAILABLE"|..., "method"?: "CreateSpace",
  "retry_after"?}`` → ``{"ok": true}``; ``{"count": 0}`` clears pending failures and delays
- ``POST /delays``   ``{"count", "seconds", "method"?: "CreateSpace"}`` → ``{"ok": true}`` (slow answers)
- ``POST /quota``    ``{"limit": int | null, "project_limit"?: int | null, "window_seconds"?: 60}`` →
  ``{"ok": true}`` (per account, and for all accounts together)
- ``POST /reset``    → ``{"ok": true}`` (forget all state)
"""

from __future__ import annotations

import logging

from aiohttp import web

from chathub_sim.http_json import json_object
from chathub_sim.meet.server import MeetEmulator, UnknownMeeting

logger = logging.getLogger(__name__)

EMULATOR_KEY = web.AppKey("meet_emulator", MeetEmulator)


def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def _healthz(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def _stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR_KEY].stats())


async def _spaces(request: web.Request) -> web.Response:
    return web.json_response({"spaces": request.app[EMULATOR_KEY].describe_spaces()})


async def _presence(request: web.Request, joining: bool) -> web.Response:
    body = await json_object(request)
    meeting, display_name = body.get("meeting"), body.get("display_name")
    if not isinstance(meeting, str) or not isinstance(display_name, str) or not display_name:
        return _bad_request("meeting and display_name (strings) are required")
    kind = body.get("kind", "anonymous")
    user = body.get("user")
    emulator = request.app[EMULATOR_KEY]
    try:
        if joining:
            return web.json_response({"participant": emulator.join(meeting, display_name, kind=kind, user=user)})
        return web.json_response({"left": emulator.leave(meeting, display_name, kind=kind, user=user)})
    except UnknownMeeting as exc:
        return web.json_response({"error": str(exc)}, status=404)
    except ValueError as exc:
        return _bad_request(str(exc))


async def _join(request: web.Request) -> web.Response:
    return await _presence(request, joining=True)


async def _leave(request: web.Request) -> web.Response:
    return await _presence(request, joining=False)


async def _failures(request: web.Request) -> web.Response:
    body = await json_object(request)
    count = body.get("count")
    if not isinstance(count, int) or count < 0:
        return _bad_request("count must be a non-negative integer")
    emulator = request.app[EMULATOR_KEY]
    if count == 0:
        emulator.clear_failures()
        return web.json_response({"ok": True})
    retry_after = body.get("retry_after")
    try:
        emulator.fail_next(
            count,
            str(body.get("code", "RESOURCE_EXHAUSTED")),
            method=str(body.get("method", "CreateSpace")),
            retry_after=float(retry_after) if retry_after is not None else None,
        )
    except (KeyError, ValueError):
        return _bad_request("code must be a gRPC status code name other than OK")
    return web.json_response({"ok": True})


async def _delays(request: web.Request) -> web.Response:
    body = await json_object(request)
    count, seconds = body.get("count"), body.get("seconds")
    if not isinstance(count, int) or count < 0 or not isinstance(seconds, int | float) or seconds < 0:
        return _bad_request("count must be a non-negative integer and seconds a non-negative number")
    request.app[EMULATOR_KEY].delay_next(count, float(seconds), method=str(body.get("method", "CreateSpace")))
    return web.json_response({"ok": True})


async def _quota(request: web.Request) -> web.Response:
    body = await json_object(request)
    limit = body.get("limit")
    project = body.get("project_limit")
    window = body.get("window_seconds", 60.0)
    counts_ok = all(v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0) for v in (limit, project))
    if not counts_ok or not isinstance(window, int | float) or window <= 0:
        return _bad_request("limit and project_limit must be non-negative integers or null, window_seconds positive")
    request.app[EMULATOR_KEY].set_creation_quota(limit, float(window), project)
    return web.json_response({"ok": True})


async def _reset(request: web.Request) -> web.Response:
    request.app[EMULATOR_KEY].reset()
    return web.json_response({"ok": True})


def make_control_app(emulator: MeetEmulator) -> web.Application:
    """The aiohttp application controlling ``emulator``."""
    app = web.Application()
    app[EMULATOR_KEY] = emulator
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/stats", _stats)
    app.router.add_get("/spaces", _spaces)
    app.router.add_post("/join", _join)
    app.router.add_post("/leave", _leave)
    app.router.add_post("/failures", _failures)
    app.router.add_post("/delays", _delays)
    app.router.add_post("/quota", _quota)
    app.router.add_post("/reset", _reset)
    return app


class ControlServer:
    """Serves ``make_control_app(emulator)`` on ``host:port`` (0 = any free port)."""

    def __init__(self, emulator: MeetEmulator, host: str = "127.0.0.1") -> None:
        self.emulator = emulator
        self.host = host
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    async def start(self, port: int = 0) -> int:
        runner = web.AppRunner(make_control_app(self.emulator), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, port)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        logger.info("Meet emulator control API on http://%s:%d", self.host, self.port)
        return self.port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
