"""Helpers for the bot's tests: an in-memory datemaker speaking the protocol, and a harness driving the real
dispatcher and bot (through the outbox) against the Bot API emulator."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp

from chathub_bot.app import build_bot, build_dispatcher
from chathub_bot.config import BotSettings
from chathub_bot.emulator import BotApiEmulator, ChatMessage
from chathub_bot.fsm import ExpiringMemoryStorage
from chathub_bot.gateway import DatemakerGateway
from chathub_bot.i18n import LanguageBook, build_i18n
from chathub_bot.inbox import Inbox
from chathub_bot.outbox import Outbox
from chathub_common.delivery import Disposition
from contracts.commands import DATEMAKER_COMMANDS
from contracts.envelope import Incoming, Reply

TOKEN = "987654321:AAHarnessTokenForChathubBotTests_0123"


@dataclass
class FakeEvent:
    event_id: int
    starts_at: datetime
    timezone: str = "Europe/Moscow"
    capacity: int = 20
    registered: dict[int, str] = field(default_factory=dict)
    """user id → status (registered, waitlisted, confirmed)."""


class FakeDatemaker:
    """Answers the bot's commands from memory, through the gateway's real reply path.

    ``mode``: ``normal``; ``silent`` (never answers, so the bot times out); ``twice`` (every reply delivered
    twice, as a redelivery would).
    """

    def __init__(self) -> None:
        self.profiles: dict[int, dict[str, Any]] = {}
        self.events: dict[int, FakeEvent] = {}
        self.dates: set[tuple[int, int, int]] = set()
        self.ratings: list[tuple[int, int, int, str]] = []
        self.commands: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        self.mode = "normal"
        self.gateway: DatemakerGateway | None = None
        self.dispositions: list[Disposition] = []

    def add_event(self, event_id: int, *, starts_in: timedelta = timedelta(days=3), **fields: Any) -> FakeEvent:
        event = FakeEvent(event_id, datetime.now(UTC) + starts_in, **fields)
        self.events[event_id] = event
        return event

    async def publish(
        self,
        routing_key: str,
        body: bytes,
        *,
        type: str,
        message_id: str | None = None,
        correlation_id: str | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        args = json.loads(body)
        DATEMAKER_COMMANDS[type].model_validate(args)  # the bot only sends valid commands
        self.commands.append((type, args, dict(headers or {})))
        if self.mode == "silent":
            return message_id or ""
        reply = self.answer(type, args, int((headers or {})["user_id"]))
        incoming = Incoming(
            body=reply.to_body(),
            message_id=f"{message_id}.result",
            type=f"{type}.result",
            correlation_id=message_id,
            headers=dict(headers or {}),
        )
        copies = 2 if self.mode == "twice" else 1
        loop = asyncio.get_running_loop()
        for _ in range(copies):
            loop.call_soon(lambda: self.dispositions.append(self.gateway.take_reply(incoming)))  # type: ignore[union-attr]
        return message_id or ""

    def answer(self, command: str, args: dict[str, Any], user_id: int) -> Reply:
        handler = getattr(self, f"_{command}")
        try:
            return Reply.success(handler(args, user_id))
        except _Refusal as exc:
            return Reply.failure(exc.code, exc.message)

    def _profile(self, user_id: int) -> dict[str, Any]:
        profile = self.profiles.get(user_id)
        if profile is None:
            raise _Refusal("profile_required", "you have no profile yet")
        birthday = date.fromisoformat(profile["birthday"])
        today = datetime.now(UTC).date()
        age = today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))
        return {"profile": {"user_id": user_id, "age": age, **profile}}

    def _get_profile(self, args: dict[str, Any], user_id: int) -> dict[str, Any]:
        return self._profile(user_id)

    def _upsert_profile(self, args: dict[str, Any], user_id: int) -> dict[str, Any]:
        self.profiles[user_id] = dict(args)
        return self._profile(user_id)

    def _list_events(self, args: dict[str, Any], user_id: int) -> dict[str, Any]:
        events = []
        for event in sorted(self.events.values(), key=lambda e: e.starts_at):
            seated = [u for u, s in event.registered.items() if s != "waitlisted"]
            events.append(
                {
                    "event_id": event.event_id,
                    "starts_at": event.starts_at.isoformat(),
                    "timezone": event.timezone,
                    "capacity": event.capacity,
                    "registered": len(seated),
                    "spots_left": max(0, event.capacity - len(seated)),
                    "state": "NOT_STARTED",
                    "my_status": event.registered.get(user_id),
                }
            )
        return {"events": events}

    def _event(self, event_id: int) -> FakeEvent:
        if event_id not in self.events:
            raise _Refusal("event_not_found", f"there is no event {event_id}")
        return self.events[event_id]

    def _register_event(self, args: dict[str, Any], user_id: int) -> dict[str, Any]:
        self._profile(user_id)
        event = self._event(args["event_id"])
        if user_id in event.registered:
            return {"status": "already_registered"}
        seated = [u for u, s in event.registered.items() if s != "waitlisted"]
        status = "registered" if len(seated) < event.capacity else "waitlisted"
        event.registered[user_id] = status
        return {"status": status}

    def _cancel_registration(self, args: dict[str, Any], user_id: int) -> dict[str, Any]:
        event_ids = [args["event_id"]] if args["event_id"] else list(self.events)
        cancelled = []
        for event_id in event_ids:
            event = self._event(event_id)
            if event.registered.pop(user_id, None) is not None:
                cancelled.append(event_id)
            elif args["event_id"]:
                raise _Refusal("not_registered", "you are not registered")
        return {"cancelled": cancelled}

    def _confirm_registration(self, args: dict[str, Any], user_id: int) -> dict[str, Any]:
        event = self._event(args["event_id"])
        if user_id not in event.registered:
            raise _Refusal("not_registered", "you are not registered")
        if args["attending"]:
            event.registered[user_id] = "confirmed"
            return {"status": "confirmed"}
        del event.registered[user_id]
        return {"status": "declined"}

    def _rate_partner(self, args: dict[str, Any], user_id: int) -> dict[str, Any]:
        pair = (args["event_id"], *sorted((user_id, args["partner_id"])))
        if pair not in self.dates:
            raise _Refusal("not_your_partner", "you had no date with this person at this event")
        self.ratings.append((args["event_id"], user_id, args["partner_id"], args["verdict"]))
        return {"recorded": True}

    def _set_ready(self, args: dict[str, Any], user_id: int) -> dict[str, Any]:
        return {"ready": True}


class _Refusal(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ErrorLog(logging.Handler):
    """Collects ERROR records of the bot (a handler failing shows up here, not as an exception)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class BotHarness:
    """The real dispatcher, bot and outbox against an in-process emulator, with a :class:`FakeDatemaker`.

    Updates are fed with ``dp.feed_raw_update``; each helper returns the bot messages sent or edited in
    answer (the outbox waits for Telegram's acceptance, so they are all there when the handler returns).
    """

    def __init__(self, *, reply_timeout: float = 2.0, chat_rate: float = 50.0, global_rate: float = 200.0) -> None:
        self.emulator = BotApiEmulator(TOKEN, global_rate=global_rate, chat_rate=chat_rate)
        self.datemaker = FakeDatemaker()
        self.outbox = Outbox(global_rate=global_rate, chat_rate=chat_rate)
        self.gateway = DatemakerGateway(self.datemaker, "datemaker_test", timeout=reply_timeout)
        self.datemaker.gateway = self.gateway
        self.i18n = build_i18n()
        self.languages = LanguageBook()
        self.storage = ExpiringMemoryStorage()
        self.errors = ErrorLog()

    async def __aenter__(self) -> BotHarness:
        url = await self.emulator.start()
        self.bot = build_bot(TOKEN, self.outbox, url)
        self.dp = build_dispatcher(self.gateway, self.i18n, self.languages, self.storage)
        self.inbox = Inbox(self.bot, self.gateway, self.i18n, self.languages)
        logging.getLogger("chathub_bot").addHandler(self.errors)
        logging.getLogger("aiogram").addHandler(self.errors)
        return self

    async def __aexit__(self, *exc: object) -> None:
        logging.getLogger("chathub_bot").removeHandler(self.errors)
        logging.getLogger("aiogram").removeHandler(self.errors)
        await self.outbox.close()
        # AiohttpSession.close() waits 250 ms for TLS connections to close; there are none on loopback.
        if self.bot.session._session is not None:
            await self.bot.session._session.close()
        await self.emulator.stop()

    def user(self, user_id: int, language_code: str = "ru", **profile: Any) -> int:
        self.emulator.user(user_id, language_code=language_code, **profile)
        return user_id

    async def _feed(self, update: dict[str, Any], chat_id: int) -> list[ChatMessage]:
        before = self.emulator.version
        await self.dp.feed_raw_update(self.bot, update)
        return self.emulator.messages(chat_id, after=before, from_bot=True)

    async def say(self, user_id: int, text: str) -> list[ChatMessage]:
        return await self._feed(self.emulator.send_text(user_id, text), user_id)

    async def sticker(self, user_id: int) -> list[ChatMessage]:
        return await self._feed(self.emulator.send_sticker(user_id), user_id)

    async def photo(self, user_id: int) -> list[ChatMessage]:
        return await self._feed(self.emulator.send_photo(user_id), user_id)

    async def press(
        self, user_id: int, message: ChatMessage | int, text: str | None = None, *, data: str | None = None
    ) -> tuple[list[ChatMessage], str | None]:
        """Press a button; the messages sent or edited in answer, and the text of the callback answer."""
        message_id = message if isinstance(message, int) else message.message_id
        update = self.emulator.press(user_id, message_id, text=text, data=data)
        answered = await self._feed(update, user_id)
        query = self.emulator.callback_answer(update["callback_query"]["id"])
        return answered, query.answer_text

    def last(self, user_id: int) -> ChatMessage:
        return self.emulator.bot_messages(user_id)[-1]

    async def notify(self, command: str, body: dict[str, Any], user_id: int, /, **headers: Any) -> Disposition:
        """Deliver a command from datemaker to the bot's inbox, as the broker would."""
        incoming = Incoming(
            body=json.dumps(body).encode(),
            message_id=f"n-{command}-{user_id}-{len(self.datemaker.commands)}-{id(body)}",
            type=command,
            headers={"user_id": user_id, "chat_id": user_id, **headers},
        )
        return await self.inbox(incoming)

    async def create_profile(self, user_id: int, name: str = "Anna") -> None:
        """Walk the profile dialog with valid answers."""
        await self.say(user_id, "/start")
        await self.say(user_id, name)
        await self.press(user_id, self.last(user_id), data="p:g:F")
        await self.say(user_id, "17.05.1995")
        await self.say(user_id, "Moscow")
        await self.press(user_id, self.last(user_id), data="p:s:")
        await self.press(user_id, self.last(user_id), data="p:s:")
        assert user_id in self.datemaker.profiles, [m.text for m in self.emulator.bot_messages(user_id)]


# --- the whole bot, against real RabbitMQ ---------------------------------------------------------


def live_settings(emulator: BotApiEmulator, **overrides: Any) -> BotSettings:
    """Bot settings for this test run's broker (the environment the ``test_env`` fixture exported) and ``emulator``;
    fast limits unless overridden."""
    values: dict[str, Any] = {
        "tg_bot_token": emulator.token,
        "tg_api_base": emulator.url,
        "metrics_port": 0,
        "tg_bot_global_rate": emulator.limits.global_rate,
        "tg_bot_chat_rate": emulator.limits.chat_rate,
        "tg_bot_polling_timeout": 1,
        "tg_bot_reply_timeout": 5.0,
    }
    values.update(overrides)
    return BotSettings(_env_file=None, **values)


def bot_environment(emulator_url: str, token: str, **extra: str) -> dict[str, str]:
    """The environment of a ``python -m chathub_bot`` child process (inherits the test run's variables)."""
    return {
        **os.environ,
        "TG_BOT_TOKEN": token,
        "TG_API_BASE": emulator_url,
        "METRICS_PORT": "0",
        "TG_BOT_POLLING_TIMEOUT": "1",
        **extra,
    }


class BotProcess:
    """``python -m chathub_bot`` as a child process; :attr:`ops_url` once it serves ``/readyz``."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: asyncio.subprocess.Process | None = None
        self.ops_url: str | None = None
        self.log: list[str] = []
        self._reader: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 30.0) -> None:

        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "chathub_bot", env=self.env, stderr=asyncio.subprocess.PIPE
        )
        port: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def read() -> None:
            assert self.process is not None and self.process.stderr is not None
            async for raw in self.process.stderr:
                line = raw.decode(errors="replace").rstrip()
                self.log.append(line)
                found = re.search(r"metrics and health on http://[^:]+:(\d+)/", line)
                if found and not port.done():
                    port.set_result(int(found.group(1)))
            if not port.done():
                port.set_exception(RuntimeError("the bot exited:\n" + "\n".join(self.log[-20:])))

        self._reader = asyncio.create_task(read())
        self.ops_url = f"http://127.0.0.1:{await asyncio.wait_for(port, timeout)}"
        await self.wait_ready(timeout)

    async def wait_ready(self, timeout: float) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with aiohttp.ClientSession() as session:
            while True:
                async with session.get(f"{self.ops_url}/readyz") as response:
                    body = await response.json()
                    if response.status == 200:
                        return body
                if loop.time() > deadline:
                    raise TimeoutError(f"the bot is not ready: {body}\n" + "\n".join(self.log[-20:]))
                await asyncio.sleep(0.2)

    async def metrics(self) -> str:
        async with aiohttp.ClientSession() as session, session.get(f"{self.ops_url}/metrics") as response:
            return await response.text()

    async def stop(self, timeout: float = 20.0) -> int:
        if self.process is None:
            return 0
        if self.process.returncode is None:
            self.process.terminate()
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.process.kill()
            code = await self.process.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        return code
