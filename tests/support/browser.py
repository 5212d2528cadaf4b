"""A real headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium, for the Mini App's
browser tests. Selenium blocks: every call runs in a thread, so the event loop (and the in-process datemaker
on it) goes on meanwhile."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""The closed network refuses background connections: Chromium is told not to try."""

TELEGRAM_CLIENT = """
window.__telegram = [];
window.TelegramWebviewProxy = {postEvent: function (name, data) { window.__telegram.push([name, JSON.parse(data)]); }};
"""
"""What Telegram's mobile clients put in a Mini App's page: the proxy the page posts its web events to."""


def chromium_or_skip() -> None:
    """Skip the test, saying why, where Chromium, its driver or Selenium is missing."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists():
            pytest.skip(f"{path} is missing (Debian: apt-get install -y {package}; scripts/ensure-tools.sh tries)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed (requirements-dev.txt)")


class Browser:
    """One Chromium with a fresh profile, at a phone's size (``width`` × ``height`` CSS pixels)."""

    def __init__(self, width: int = 390, height: int = 844, *, telegram_client: bool = True) -> None:
        self.width, self.height = width, height
        self.telegram_client = telegram_client
        self._profile = tempfile.mkdtemp(prefix="chathub-chromium-")
        self.driver: Any = None
        self._client_script: str | None = None

    async def _run(self, call: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(call, *args)

    async def start(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*FLAGS, f"--user-data-dir={self._profile}"):
            options.add_argument(flag)
        options.add_experimental_option(
            "mobileEmulation",
            {
                "deviceMetrics": {"width": self.width, "height": self.height, "pixelRatio": 2.0},
                "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/156.0 Mobile Safari/537.36",
            },
        )
        self.driver = await self._run(lambda: webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER))))
        if self.telegram_client:
            await self.act_as_telegram(True)

    async def act_as_telegram(self, on: bool) -> None:
        """Pages opened from now on get (or no longer get) the Telegram client's web-event proxy."""
        if on and self._client_script is None:
            found = await self._run(
                self.driver.execute_cdp_cmd, "Page.addScriptToEvaluateOnNewDocument", {"source": TELEGRAM_CLIENT}
            )
            self._client_script = found["identifier"]
        elif not on and self._client_script is not None:
            await self._run(
                self.driver.execute_cdp_cmd,
                "Page.removeScriptToEvaluateOnNewDocument",
                {"identifier": self._client_script},
            )
            self._client_script = None

    async def stop(self) -> None:
        if self.driver is not None:
            await self._run(self.driver.quit)
        shutil.rmtree(self._profile, ignore_errors=True)

    async def open(self, url: str) -> None:
        await self._run(self.driver.get, url)

    async def js(self, script: str, *args: Any) -> Any:
        return await self._run(self.driver.execute_script, script, *args)

    async def click(self, css: str) -> None:
        """Click the first element matching ``css`` (scrolled into view first, as a finger would)."""
        clicked = await self.js(
            "const el = document.querySelector(arguments[0]); if (!el) return false;"
            "el.scrollIntoView({block: 'center'}); el.click(); return true;",
            css,
        )
        assert clicked, f"nothing to click at {css}"

    async def wait_for(self, script: str, *args: Any, timeout: float = 15.0, what: str = "") -> Any:
        """Poll a JavaScript expression (``return ...``) until it is truthy; its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = await self.js(script, *args)
            if value:
                return value
            if loop.time() > deadline:
                text = await self.js("return document.body.innerText")
                raise TimeoutError(f"{what or script} not seen in {timeout:.0f} s; the page shows:\n{text}")
            await asyncio.sleep(0.2)

    async def text(self, css: str = "body") -> str:
        return await self.js("const el = document.querySelector(arguments[0]); return el ? el.innerText : ''", css)

    async def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        await self._run(self.driver.save_screenshot, str(path))
        return path

    async def telegram_events(self) -> list[tuple[str, dict[str, Any]]]:
        """The web events the page posted to the Telegram client so far."""
        return [tuple(item) for item in await self.js("return window.__telegram || []")]
