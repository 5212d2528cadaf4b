"""An asyncio client of the emulator's control API: simulated users driven from any process.

    async with EmulatorClient("http://127.0.0.1:8081") as emulator:
        alice = emulator.user(1001, first_name="Alice", language_code="en")
        await alice.send_text("/start")
        greeting = await alice.wait_for(contains="name")     # the bot's answer to that
        await alice.press(greeting, "Skip")                   # an inline button, by its label
        await alice.send_sticker()
        await alice.block()

Each action remembers the emulator's version at that moment; :meth:`SimulatedUser.wait_for` then waits
for a bot message sent or edited after it (the bot's reaction to the action).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

logger = logging.getLogger(__name__)


class EmulatorError(RuntimeError):
    """The control API refused a request."""


@dataclass(frozen=True)
class BotMessage:
    """A message of a chat as the control API shows it."""

    raw: dict[str, Any]

    @property
    def message_id(self) -> int:
        return int(self.raw["message_id"])

    @property
    def content(self) -> str:
        """Text or caption, formatting removed ('' for neither)."""
        return self.raw.get("text") or self.raw.get("caption") or ""

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        return self.raw.get("buttons") or []

    @property
    def button_texts(self) -> list[str]:
        return [button["text"] for row in self.buttons for button in row]

    @property
    def version(self) -> int:
        return int(self.raw["version"])

    @property
    def from_bot(self) -> bool:
        return self.raw.get("from") == "bot"

    def button(self, text_contains: str) -> dict[str, Any]:
        """The first button whose label contains ``text_contains``."""
        for row in self.buttons:
            for button in row:
                if text_contains in button["text"]:
                    return button
        raise LookupError(f"no button with {text_contains!r} in {self.button_texts}")


class EmulatorClient:
    """The control API of one emulator at ``base_url``."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> EmulatorClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.request(method, f"{self.base_url}{path}", json=json, params=params) as response:
            body = await response.json(content_type=None)
            if response.status >= 400:
                raise EmulatorError(f"{method} {path}: {response.status} {body}")
            return body

    async def info(self) -> dict[str, Any]:
        """``{"token", "bot", "url", "limits"}``."""
        return await self.request("GET", "/_emu/info")

    def user(self, user_id: int, **profile: Any) -> SimulatedUser:
        """A simulated user; ``profile`` (first_name, username, language_code, ...) is sent with the first action."""
        return SimulatedUser(self, user_id, profile)

    async def stats(self) -> dict[str, Any]:
        return await self.request("GET", "/_emu/stats")

    async def reset_stats(self) -> dict[str, Any]:
        return await self.request("POST", "/_emu/stats/reset")

    async def set_limits(
        self, global_rate: float | None = None, chat_rate: float | None = None, enabled: bool | None = None
    ) -> dict[str, Any]:
        body = {k: v for k, v in {"global_rate": global_rate, "chat_rate": chat_rate, "enabled": enabled}.items()}
        return await self.request("PUT", "/_emu/limits", json={k: v for k, v in body.items() if v is not None})


class SimulatedUser:
    """One Telegram user talking to the bot through the emulator."""

    def __init__(self, client: EmulatorClient, user_id: int, profile: dict[str, Any]) -> None:
        self.client = client
        self.id = user_id
        self._profile = dict(profile)
        self.since = 0
        """Emulator version at this user's last action."""

    async def _act(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        payload = {**self._profile, **(body or {})}
        self._profile = {}
        answer = await self.client.request("POST", f"/_emu/users/{self.id}/{action}", json=payload)
        self.since = answer.get("version", self.since)
        return answer

    async def update_profile(self, **profile: Any) -> dict[str, Any]:
        return await self.client.request("POST", f"/_emu/users/{self.id}", json=profile)

    async def send_text(self, text: str) -> int:
        """Write to the bot; the message id."""
        return (await self._act("text", {"text": text}))["message_id"]

    async def send_sticker(self, emoji: str = "😀") -> int:
        return (await self._act("sticker", {"emoji": emoji}))["message_id"]

    async def send_photo(self, caption: str | None = None) -> str:
        """Send a photo; its file id."""
        return (await self._act("photo", {"caption": caption} if caption else {}))["file_id"]

    async def press(self, message: BotMessage | int, text: str | None = None, *, data: str | None = None) -> str:
        """Press the inline button labelled ``text`` (or send any callback ``data``); the callback query id."""
        message_id = message.message_id if isinstance(message, BotMessage) else message
        body: dict[str, Any] = {"message_id": message_id}
        if data is not None:
            body["data"] = data
        else:
            body["text"] = text
        return (await self._act("press", body))["callback_query_id"]

    async def callback_answer(self, query_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The bot's answer to a button press (waits until it answered)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            answer = await self.client.request("GET", f"/_emu/callbacks/{query_id}")
            if answer["answered"] or asyncio.get_running_loop().time() > deadline:
                return answer
            await asyncio.sleep(0.05)

    async def block(self) -> None:
        await self._act("block")

    async def unblock(self) -> None:
        await self._act("unblock")

    async def messages(self, after: int = 0, wait: float = 0.0, sender: str = "bot") -> list[BotMessage]:
        """Messages of this user's chat changed after version ``after`` (``sender``: bot, user or all)."""
        answer = await self.client.request(
            "GET", f"/_emu/chats/{self.id}/messages", params={"after": after, "wait": wait, "from": sender}
        )
        return [BotMessage(m) for m in answer["messages"] if not m["deleted"]]

    async def last_message(self) -> BotMessage | None:
        found = await self.messages()
        return found[-1] if found else None

    async def wait_for(
        self,
        predicate: Callable[[BotMessage], bool] | None = None,
        *,
        contains: str | None = None,
        after: int | None = None,
        timeout: float = 10.0,
    ) -> BotMessage:
        """The first bot message sent or edited after ``after`` (default: this user's last action) that matches."""
        since = self.since if after is None else after
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        def matches(message: BotMessage) -> bool:
            if contains is not None and contains.lower() not in message.content.lower():
                return False
            return predicate is None or predicate(message)

        seen: list[str] = []
        while True:
            remaining = deadline - loop.time()
            found = await self.messages(after=since, wait=max(0.0, min(remaining, 5.0)))
            for message in found:
                if matches(message):
                    return message
            if found:
                seen = [m.content[:80] for m in found][-3:]
                since = max(since, *(m.version for m in found))
            if loop.time() >= deadline:
                raise TimeoutError(f"user {self.id}: no bot message matched (latest: {seen})")
