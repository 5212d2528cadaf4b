"""Composition root of the bot: Telegram (aiogram, through the outbox), RabbitMQ, i18n, dialogs and ops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.methods import GetMe
from aiogram.types import BotCommand
from aiogram.utils.i18n import I18n

from chathub_bot.config import BotSettings
from chathub_bot.fsm import ExpiringMemoryStorage
from chathub_bot.gateway import DatemakerGateway
from chathub_bot.handlers import routers
from chathub_bot.i18n import LOCALES, LanguageBook, LocaleMiddleware, build_i18n
from chathub_bot.inbox import Inbox
from chathub_bot.outbox import Outbox, OutboxMiddleware, TelegramMetricsMiddleware
from chathub_common.delivery import Disposition
from chathub_common.ops_http import OpsServer
from chathub_common.rabbit import Broker
from contracts.envelope import Incoming

logger = logging.getLogger(__name__)


def build_bot(token: str, outbox: Outbox, api_base: str | None = None, *, request_timeout: float = 30.0) -> Bot:
    """An aiogram bot whose every paced call goes through ``outbox``; ``api_base`` points it at an emulator."""
    api = TelegramAPIServer.from_base(api_base) if api_base else PRODUCTION
    session = AiohttpSession(api=api, timeout=request_timeout)
    session.middleware(OutboxMiddleware(outbox))
    session.middleware(TelegramMetricsMiddleware())
    return Bot(
        token,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


def build_dispatcher(
    gateway: DatemakerGateway, i18n: I18n, languages: LanguageBook, storage: BaseStorage | None = None
) -> Dispatcher:
    """The dispatcher with every feature router; handlers get ``gateway`` injected."""
    dispatcher = Dispatcher(storage=storage or ExpiringMemoryStorage(), events_isolation=SimpleEventIsolation())
    dispatcher["gateway"] = gateway
    LocaleMiddleware(i18n, languages).setup(dispatcher)
    dispatcher.include_routers(*routers())
    return dispatcher


def command_menu(i18n: I18n, locale: str) -> list[BotCommand]:
    with i18n.context(), i18n.use_locale(locale):
        from aiogram.utils.i18n import gettext as _

        return [
            BotCommand(command="date", description=_("Upcoming events")),
            BotCommand(command="profile", description=_("Your profile")),
            BotCommand(command="help", description=_("What I can do")),
        ]


class ChathubBot:
    """The running bot: polling Telegram, consuming its queue, serving ``/metrics``, ``/healthz``, ``/readyz``."""

    def __init__(self, settings: BotSettings) -> None:
        self.settings = settings
        s = settings
        self.outbox = Outbox(
            global_rate=s.tg_bot_global_rate, chat_rate=s.tg_bot_chat_rate, max_attempts=s.tg_bot_send_attempts
        )
        self.bot = build_bot(s.token(), self.outbox, s.tg_api_base)
        self.broker = Broker(
            s.rabbitmq_url(),
            exchange=s.rabbitmq_exchange,
            env=s.chathub_env,
            connection_name="chathub_bot",
            prefetch=s.tg_bot_prefetch,
            publish_timeout=s.tg_bot_publish_timeout,
        )
        self.gateway = DatemakerGateway(self.broker, s.datemaker_queue, timeout=s.tg_bot_reply_timeout)
        self.i18n = build_i18n(s.tg_bot_default_locale)
        self.languages = LanguageBook()
        self.dispatcher = build_dispatcher(
            self.gateway, self.i18n, self.languages, ExpiringMemoryStorage(s.tg_bot_dialog_ttl)
        )
        self.inbox = Inbox(self.bot, self.gateway, self.i18n, self.languages)
        self.ops = OpsServer(s.metrics_port, {"broker": self._broker_ready, "telegram": self._telegram_ready})
        self._polling: asyncio.Task[None] | None = None
        self._stopping = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._telegram_checked = (0.0, False)

    async def start(self) -> None:
        await self.broker.connect()
        await self.ops.start()
        await self.broker.consume(self.settings.bot_queue, self._consume)
        self._polling = asyncio.create_task(self._poll(), name="polling")
        logger.info("chathub_bot consuming %s, commands to %s", self.settings.bot_queue, self.settings.datemaker_queue)

    async def _consume(self, incoming: Incoming) -> Disposition:
        self._in_flight += 1
        self._idle.clear()
        try:
            return await self.inbox(incoming)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _prepare_telegram(self) -> None:
        await self.bot.delete_webhook(drop_pending_updates=False)
        await self.bot.set_my_commands(command_menu(self.i18n, self.i18n.default_locale))
        for locale in LOCALES:
            if locale != self.i18n.default_locale:
                await self.bot.set_my_commands(command_menu(self.i18n, locale), language_code=locale)

    async def _poll(self) -> None:
        """Poll Telegram until stopped, starting again after failures (Telegram unreachable at start, ...)."""
        while not self._stopping:
            try:
                await self._prepare_telegram()
                await self.dispatcher.start_polling(
                    self.bot,
                    handle_signals=False,
                    close_bot_session=False,
                    polling_timeout=self.settings.tg_bot_polling_timeout,
                    allowed_updates=self.dispatcher.resolve_used_update_types(),
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("polling stopped (%r); starting again in 5s", exc)
            if not self._stopping:
                await asyncio.sleep(5.0)

    async def _broker_ready(self) -> bool:
        return self.broker.connected

    async def _telegram_ready(self) -> bool:
        """Telegram answered ``getMe`` (checked at most every 10 s)."""
        checked_at, ok = self._telegram_checked
        if time.monotonic() - checked_at < 10.0:
            return ok
        try:
            await self.bot(GetMe(), request_timeout=2)
            ok = True
        except Exception as exc:
            logger.info("Telegram not reachable: %r", exc)
            ok = False
        self._telegram_checked = (time.monotonic(), ok)
        return ok

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking messages, let what is in flight reach Telegram (up to ``grace`` s), then disconnect."""
        self._stopping = True
        await self.broker.stop_consuming()
        with contextlib.suppress(RuntimeError):  # not polling
            await self.dispatcher.stop_polling()
        if self._polling is not None:
            try:
                async with asyncio.timeout(grace):
                    await asyncio.shield(self._polling)
            except (TimeoutError, Exception):
                self._polling.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._polling
        if not await self.outbox.drain(grace):
            logger.warning("%d messages not sent before stopping", self.outbox.depth + self.outbox.in_flight)
        await self.outbox.close()
        with contextlib.suppress(TimeoutError):  # deliveries whose send was cancelled are redelivered later
            async with asyncio.timeout(1.0):
                await self._idle.wait()
        await asyncio.sleep(0.05)  # the broker adapter acknowledges a delivery just after the consumer returns
        await self.broker.close()
        await self.bot.session.close()
        await self.ops.stop()


async def serve(settings: BotSettings) -> None:
    """Run the bot until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    bot = ChathubBot(settings)
    try:
        await bot.start()
        await stop.wait()
        logger.info("stopping")
    finally:
        await bot.stop()
