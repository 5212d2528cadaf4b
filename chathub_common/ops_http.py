"""The operations endpoint of each service: ``/metrics``, ``/healthz`` (alive), ``/readyz`` (dependencies up)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

logger = logging.getLogger(__name__)

Check = Callable[[], Awaitable[bool]]


class OpsServer:
    """Serves metrics and health on ``port``; readiness runs every check with a short timeout."""

    def __init__(
        self,
        port: int,
        checks: Mapping[str, Check],
        registry: CollectorRegistry = REGISTRY,
        *,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.port = port
        self._checks = dict(checks)
        self._registry = registry
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        host = self.host
        app = web.Application()
        app.router.add_get("/metrics", make_aiohttp_handler(self._registry))
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        logger.info("metrics and health on http://%s:%d/metrics", host, self.port)

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def _readyz(self, request: web.Request) -> web.Response:
        results: dict[str, bool] = {}
        for name, check in self._checks.items():
            try:
                async with asyncio.timeout(2.0):
                    results[name] = bool(await check())
            except Exception:
                results[name] = False
        ready = all(results.values())
        return web.json_response({"ready": ready, "checks": results}, status=200 if ready else 503)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
