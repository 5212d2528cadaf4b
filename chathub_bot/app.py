"""Composition root of the bot: Telegram (aiogram, paced), RabbitMQ, i18n, dialogs and ops."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
import time
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramUnauthorizedError
from aiogram.fsm.storage.base import BaseStorage
from aiogram.methods import GetMe
from aiogram.types import BotCommand, MenuButtonWebApp, WebAppInfo
from aiogram.utils.i18n import I18n
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from chathub_bot.config import BotSettings
from chathub_bot.fsm import ExpiringMemoryStorage, ReleasingEventIsolation
from chathub_bot.gateway import DatemakerGateway
from chathub_bot.guards import FloodGuard, setup_guards
from chathub_bot.handlers import routers
from chathub_bot.i18n import LOCALES, LanguageBook, LocaleMiddleware, build_i18n
from chathub_bot.inbox import Inbox
from chathub_bot.late import LateReplies
from chathub_bot.pacing import (
    PAID_BROADCAST_RATE,
    Pacer,
    PacingMiddleware,
    TelegramLiveness,
    TelegramMetricsMiddleware,
)
from chathub_bot.state import LiveBoards, MemoryBoards, open_state
from chathub_bot.webapp.server import WebAppServer
from chathub_common.ops_http import OpsServer
from chathub_common.rabbit import Broker

logger = logging.getLogger(__name__)


def build_bot(
    token: str,
    pacer: Pacer,
    api_base: str | None = None,
    *,
    request_timeout: float = 30.0,
    liveness: TelegramLiveness | None = None,
) -> Bot:
    """An aiogram bot whose every paced call goes through ``pacer``; ``api_base`` points it at an emulator;
    ``liveness`` hears of every answer from Telegram."""
    api = TelegramAPIServer.from_base(api_base) if api_base else PRODUCTION
    session = AiohttpSession(api=api, timeout=request_timeout)
    session.middleware(PacingMiddleware(pacer))
    session.middleware(TelegramMetricsMiddleware(liveness))
    return Bot(
        token,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


def build_dispatcher(
    gateway: DatemakerGateway,
    i18n: I18n,
    languages: LanguageBook,
    storage: BaseStorage | None = None,
    flood: FloodGuard | None = None,
    boards: LiveBoards | None = None,
) -> Dispatcher:
    """The dispatcher with the guards and every feature router; handlers get ``gateway`` and ``boards`` (the live
    boards kept up to date) injected."""
    storage = ExpiringMemoryStorage() if storage is None else storage  # (an empty storage is falsy)
    dispatcher = Dispatcher(storage=storage, events_isolation=ReleasingEventIsolation())
    dispatcher["gateway"] = gateway
    dispatcher["boards"] = MemoryBoards() if boards is None else boards
    LocaleMiddleware(i18n, languages).setup(dispatcher)
    setup_guards(dispatcher, flood)
    dispatcher.include_routers(*routers())
    return dispatcher


def command_menu(i18n: I18n, locale: str) -> list[BotCommand]:
    from chathub_bot.handlers.start import participant_menu

    with i18n.context(), i18n.use_locale(locale):
        return participant_menu()


def menu_button_text(i18n: I18n) -> str:
    with i18n.context(), i18n.use_locale(i18n.default_locale):
        from aiogram.utils.i18n import gettext as _

        return _("Chathub")


class ChathubBot:
    """The running bot: polling Telegram, consuming its queue, serving ``/metrics``, ``/healthz``, ``/readyz``."""

    def __init__(self, settings: BotSettings) -> None:
        self.settings = settings
        s = settings
        self.pacer = Pacer(
            global_rate=s.tg_bot_global_rate,
            chat_rate=s.tg_bot_chat_rate,
            paid_rate=PAID_BROADCAST_RATE if s.tg_paid_broadcast else None,
            max_attempts=s.tg_bot_send_attempts,
        )
        self.liveness = TelegramLiveness()
        self.bot = build_bot(s.token(), self.pacer, s.tg_api_base, liveness=self.liveness)
        self.broker = Broker(
            s.rabbitmq_url(),
            exchange=s.rabbitmq_exchange,
            env=s.chathub_env,
            connection_name="chathub_bot",
            prefetch=s.tg_bot_prefetch,
            publish_timeout=s.tg_bot_publish_timeout,
        )
        self.state = open_state(s.redis_url, s.chathub_env, dialog_ttl=s.tg_bot_dialog_ttl)
        """Dialogs, pending requests and delivered ids, outliving this process (Redis)."""
        self.i18n = build_i18n(s.tg_bot_default_locale)
        self.languages = LanguageBook()
        self.gateway = DatemakerGateway(
            self.broker,
            s.datemaker_queue,
            timeout=s.tg_bot_reply_timeout,
            store=self.state.pending,
            on_late=LateReplies(self.bot, self.i18n, self.languages, self.state.dialogs),
        )
        self.flood = FloodGuard(s.tg_bot_user_burst, s.tg_bot_user_rate)
        """One limit per user, shared by the chat and the Mini App."""
        self.dispatcher = build_dispatcher(
            self.gateway, self.i18n, self.languages, self.state.dialogs, self.flood, self.state.boards
        )
        self.inbox = Inbox(
            self.bot,
            self.gateway,
            self.i18n,
            self.languages,
            webapp_url=s.webapp_url,
            liveness=self.liveness,
            hold_seconds=s.tg_bot_hold_seconds,
            delivered=self.state.delivered,
        )
        self.webapp = WebAppServer(
            more_routes=self._webhook_route if s.tg_webhook_url else None,
            token=s.token(),
            gateway=self.gateway,
            bot=self.bot,
            flood=self.flood,
            i18n=self.i18n,
            host=s.webapp_host,
            port=s.webapp_port,
        )
        self.ops = OpsServer(
            s.metrics_port,
            {"broker": self._broker_ready, "telegram": self._telegram_ready, "state": self.state.ping},
            host=s.ops_host,
        )
        self._polling: asyncio.Task[None] | None = None
        self._presenting: asyncio.Task[None] | None = None
        self._stopping = False
        self._telegram_checked = (0.0, False)

    async def start(self) -> None:
        """Start what users need (the broker consumer, polling, the Mini App) regardless of the bot's menu and
        commands, which are set in the background, again and again until Telegram takes them."""
        await self.broker.connect()
        await self.ops.start()
        await self.broker.consume(self.settings.bot_queue, self.inbox)
        await self.webapp.start()
        receive = self._by_webhook() if self.settings.tg_webhook_url else self._poll()
        self._polling = asyncio.create_task(receive, name="updates")
        self._presenting = asyncio.create_task(self._present(), name="commands-and-menu")
        await self._resume_boards()
        logger.info("chathub_bot consuming %s, commands to %s", self.settings.bot_queue, self.settings.datemaker_queue)

    async def _resume_boards(self) -> None:
        """Go on refreshing the organizers' live boards an earlier process kept up to date."""
        from chathub_bot.handlers.organizer import resume_boards

        try:
            resumed = await resume_boards(self.bot, self.gateway, self.state.boards, self.i18n)
        except Exception as exc:  # the state store is down: boards are not worth failing the start for
            logger.warning("live boards not taken up: %r", exc)
            return
        if resumed:
            logger.info("took up %d live board(s) an earlier process kept up to date", resumed)

    def _webhook_route(self, app: web.Application) -> None:
        """Telegram's updates by webhook, at the path of ``TG_WEBHOOK_URL``, checked by their secret token."""
        assert self.settings.tg_webhook_url is not None
        handler = SimpleRequestHandler(self.dispatcher, self.bot, secret_token=webhook_secret(self.settings.token()))
        handler.register(app, path=urlsplit(self.settings.tg_webhook_url).path or "/")

    async def _by_webhook(self) -> None:
        """Ask Telegram to deliver updates to ``TG_WEBHOOK_URL``, again every 5 s until it agrees."""
        url = self.settings.tg_webhook_url
        assert url is not None
        while not self._stopping:
            try:
                await self.bot.set_webhook(
                    url,
                    secret_token=webhook_secret(self.settings.token()),
                    allowed_updates=self.dispatcher.resolve_used_update_types(),
                )
                logger.info("updates come by webhook to %s", url)
                return
            except (asyncio.CancelledError, TelegramUnauthorizedError):
                raise
            except Exception as exc:
                logger.warning("setWebhook failed (%r); trying again in 5s", exc)
                await asyncio.sleep(5.0)

    async def _present(self, first_wait: float = 5.0, longest_wait: float = 300.0) -> None:
        """Set the command menu in every language and the menu button: nice to have, never in the way. A call
        Telegram refuses or cannot take is logged and tried again later (5 s, doubling up to 5 minutes)."""
        calls = [(f"setMyCommands ({locale})", lambda locale=locale: self._set_commands(locale)) for locale in LOCALES]
        if self.settings.webapp_url:
            calls.append(("setChatMenuButton", self._set_menu_button))
        wait = first_wait
        while calls and not self._stopping:
            failed = []
            for name, call in calls:
                try:
                    await call()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    logger.warning("%s failed (%r); trying again in %.0fs", name, exc, wait)
                    failed.append((name, call))
            calls = failed
            if calls:
                await asyncio.sleep(wait)
                wait = min(wait * 2, longest_wait)

    async def _set_commands(self, locale: str) -> None:
        language = None if locale == self.i18n.default_locale else locale
        await self.bot.set_my_commands(command_menu(self.i18n, locale), language_code=language)

    async def _set_menu_button(self) -> None:
        """With ``WEBAPP_URL``, the chat's menu button opens the Mini App."""
        url = self.settings.webapp_url
        assert url is not None
        await self.bot.set_chat_menu_button(
            menu_button=MenuButtonWebApp(text=menu_button_text(self.i18n), web_app=WebAppInfo(url=url))
        )

    async def _poll(self) -> None:
        """Poll Telegram until stopped, starting again after failures (Telegram unreachable at start, ...)."""
        while not self._stopping:
            try:
                try:
                    await self.bot.delete_webhook(drop_pending_updates=False)
                except (asyncio.CancelledError, TelegramUnauthorizedError):
                    raise
                except Exception as exc:  # polling tells whether a webhook is in the way
                    logger.warning("deleteWebhook failed (%r); polling all the same", exc)
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
        if self._presenting is not None:
            self._presenting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._presenting
        self.inbox.release_held()  # those held for Telegram go to the back of the queue, not back to it
        await self.broker.stop_consuming(grace)  # deliveries in flight reach Telegram and are acknowledged
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
        from chathub_bot.handlers.organizer import stop_boards

        await stop_boards()
        if not await self.pacer.drain(1.0):
            logger.warning("%d messages not sent before stopping", self.pacer.depth + self.pacer.in_flight)
        await self.pacer.close()  # deliveries whose send is cancelled here are redelivered later
        await self.broker.close()
        await self.state.close()
        await self.bot.session.close()
        await self.webapp.stop()
        await self.ops.stop()


def webhook_secret(token: str) -> str:
    """The secret Telegram sends with each webhook update (derived from the token: nothing more to configure)."""
    return hashlib.sha256(f"chathub webhook {token}".encode()).hexdigest()


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
