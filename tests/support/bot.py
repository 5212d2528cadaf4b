"""Helpers for the bot's tests: a harness driving the real dispatcher and bot (through the pacer) against the
Bot API emulator and the real datemaker, and the bot as a child process."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import asyncpg

from chathub_bot.app import build_bot, build_dispatcher
from chathub_bot.config import BotSettings
from chathub_bot.fsm import ExpiringMemoryStorage
from chathub_bot.gateway import DatemakerGateway
from chathub_bot.guards import FloodGuard
from chathub_bot.i18n import LanguageBook, build_i18n
from chathub_bot.inbox import Inbox
from chathub_bot.pacing import Pacer
from chathub_bot.state import MemoryBoards, forget_all
from chathub_bot.webapp.server import WebAppServer
from chathub_common.delivery import Disposition
from chathub_common.rabbit import Broker
from chathub_sim.telegram import BotApiEmulator, ChatMessage
from contracts.envelope import Incoming

TOKEN = "987654321:AAHarnessTokenForChathubBotTests_0123"


class ErrorLog(logging.Handler):
    """Collects ERROR records of the bot (a handler failing shows up here, not as an exception)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class BotHarness:
    """The real dispatcher, bot and pacer against an in-process emulator, talking to the real datemaker through
    the real broker (the run's queues; a datemaker must be consuming them, e.g. the ``datemaker`` fixture).

    Updates are fed with ``dp.feed_raw_update``; each helper returns the bot messages sent or edited in
    answer (the pacer waits for Telegram's acceptance, so they are all there when the handler returns).
    Replies arrive on the bot's queue and complete the gateway's pending requests, as in the bot.
    """

    def __init__(
        self,
        settings: Any,
        pool: asyncpg.Pool,
        *,
        reply_timeout: float = 5.0,
        chat_rate: float = 50.0,
        global_rate: float = 200.0,
        flood: FloodGuard | None = None,
        webapp_url: str | None = None,
    ) -> None:
        self.settings = settings
        self.webapp_url = webapp_url
        self.pool = pool
        self.emulator = BotApiEmulator(TOKEN, global_rate=global_rate, chat_rate=chat_rate)
        self.pacer = Pacer(global_rate=global_rate, chat_rate=chat_rate)
        self.broker = Broker(
            settings.rabbitmq_url(),
            exchange=settings.rabbitmq_exchange,
            env=settings.chathub_env,
            connection_name="tests-bot-harness",
        )
        self.gateway = DatemakerGateway(self.broker, settings.command_queue, timeout=reply_timeout)
        self.i18n = build_i18n()
        self.languages = LanguageBook()
        self.storage = ExpiringMemoryStorage()
        self.boards = MemoryBoards()
        """The organizers' live boards kept up to date (Redis in the bot)."""
        self.errors = ErrorLog()
        self.replies = 0
        """Replies received from datemaker."""
        self.duplicate_replies = False
        """Hand every reply to the gateway twice, as a redelivery would."""
        self.dispositions: list[Disposition] = []
        self.notifications: list[Incoming] = []
        """Commands from datemaker that reached the bot's queue (acknowledged, not sent: see :meth:`notify`)."""
        self.flood = FloodGuard(burst=1000, per_second=1000.0) if flood is None else flood  # tests are fast
        self._notified = 0

    async def __aenter__(self) -> BotHarness:
        url = await self.emulator.start()
        self.bot = build_bot(TOKEN, self.pacer, url)
        self.dp = build_dispatcher(self.gateway, self.i18n, self.languages, self.storage, self.flood, self.boards)
        self.inbox = Inbox(self.bot, self.gateway, self.i18n, self.languages, webapp_url=self.webapp_url)
        self.webapp = WebAppServer(
            token=TOKEN, gateway=self.gateway, bot=self.bot, flood=self.flood, i18n=self.i18n, port=0
        )
        await self.webapp.start()
        self.webapp_base = f"http://127.0.0.1:{self.webapp.port}"
        """The Mini App's server (the page at ``/app/``, the API under ``/app/api/``)."""
        await self.broker.connect()
        await self.broker.consume(self.settings.bot_queue, self._on_bot_queue)
        logging.getLogger("chathub_bot").addHandler(self.errors)
        logging.getLogger("aiogram").addHandler(self.errors)
        return self

    async def __aexit__(self, *exc: object) -> None:
        from chathub_bot.handlers.organizer import stop_boards

        await stop_boards()
        logging.getLogger("chathub_bot").removeHandler(self.errors)
        logging.getLogger("aiogram").removeHandler(self.errors)
        await self.webapp.stop()
        await self.broker.stop_consuming()
        await self.broker.close()
        await self.pacer.close()
        # AiohttpSession.close() waits 250 ms for TLS connections to close; there are none on loopback.
        if self.bot.session._session is not None:
            await self.bot.session._session.close()
        await self.emulator.stop()

    async def _on_bot_queue(self, incoming: Incoming) -> Disposition:
        if not incoming.correlation_id:
            self.notifications.append(incoming)  # tests hand notifications to the inbox themselves (notify)
            return Disposition.ACK
        self.replies += 1
        disposition = await self.gateway.take_reply(incoming)
        self.dispositions.append(disposition)
        if self.duplicate_replies:
            self.dispositions.append(await self.gateway.take_reply(incoming))
        return disposition

    async def silence(self) -> None:
        """From now on, commands go to a queue nobody reads: datemaker never answers."""
        channel = await self.broker._publish_channel.get_underlay_channel()  # type: ignore[union-attr]
        name = f"{self.settings.command_queue}.silent"
        await channel.queue_declare(name, auto_delete=True)
        await channel.queue_bind(name, self.settings.rabbitmq_exchange, routing_key=name)
        self.gateway.routing_key = name

    def speak(self) -> None:
        """Commands go to datemaker again."""
        self.gateway.routing_key = self.settings.command_queue

    def user(self, user_id: int, language_code: str = "ru", **profile: Any) -> int:
        self.emulator.user(user_id, language_code=language_code, **profile)
        return user_id

    async def profile(self, user_id: int) -> dict[str, Any] | None:
        """The user's row in datemaker's database."""
        row = await self.pool.fetchrow("SELECT * FROM users WHERE user_id = $1", user_id)
        return dict(row) if row else None

    async def _feed(self, update: dict[str, Any], chat_id: int) -> list[ChatMessage]:
        before = self.emulator.version
        await self.dp.feed_raw_update(self.bot, update)
        return self.emulator.messages(chat_id, after=before, from_bot=True)

    async def say(self, user_id: int, text: str) -> list[ChatMessage]:
        return await self._feed(self.emulator.send_text(user_id, text), user_id)

    async def say_in_group(self, user_id: int, group_id: int, text: str) -> list[ChatMessage]:
        """The user writes ``text`` in a group the bot is in; the bot's answers in that group."""
        return await self._feed(self.emulator.send_text(user_id, text, in_group=group_id), group_id)

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
        self._notified += 1
        incoming = Incoming(
            body=json.dumps(body).encode(),
            message_id=f"n-{command}-{user_id}-{self._notified}",
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
        await self.press(user_id, self.last(user_id), data="p:s:")  # partner ages
        await self.press(user_id, self.last(user_id), data="p:s:")  # bio
        await self.press(user_id, self.last(user_id), data="p:s:")  # photo
        assert await self.profile(user_id), [m.text for m in self.emulator.bot_messages(user_id)]


# --- the whole bot, against real RabbitMQ ---------------------------------------------------------


async def forget_bot_state() -> None:
    """Forget the dialogs a bot of an earlier test left in Redis for this test run's users."""
    settings = BotSettings(_env_file=None)
    await forget_all(settings.redis_url, settings.chathub_env)


def live_settings(emulator: BotApiEmulator, **overrides: Any) -> BotSettings:
    """Bot settings for this test run's broker (the environment the ``test_env`` fixture exported) and ``emulator``;
    fast limits unless overridden."""
    values: dict[str, Any] = {
        "tg_bot_token": emulator.token,
        "tg_api_base": emulator.url,
        "metrics_port": 0,
        "webapp_port": 0,
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
        "WEBAPP_PORT": "0",
        "TG_BOT_POLLING_TIMEOUT": "1",
        "TG_BOT_USER_BURST": "1000",  # tests act far faster than people (the flood limit has tests of its own)
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


@asynccontextmanager
async def running_bot(emulator: BotApiEmulator, **extra: str) -> AsyncIterator[BotProcess]:
    """``python -m chathub_bot`` against ``emulator`` (``extra``: more environment) for the block; it must then
    stop cleanly, having logged no error."""
    process = BotProcess(bot_environment(emulator.url, emulator.token, **extra))
    await forget_bot_state()
    await process.start()
    yield process
    code = await process.stop()
    assert code == 0, "\n".join(process.log[-30:])
    errors = [line for line in process.log if " ERROR " in line or "Traceback" in line]
    assert not errors, "\n".join(errors)
