"""The bot's settings, read from the environment (docs/protocol.md section 1). Nothing else in the bot reads it."""

from __future__ import annotations

import logging
import re

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chathub_common.rabbit import amqp_url
from contracts import topology

logger = logging.getLogger(__name__)


_WEBAPP_URL = re.compile(r"^(https://[^\s/?#]+|http://(127\.0\.0\.1|localhost)(:\d+)?)(/[^\s#]*)?$")
"""Telegram opens Mini Apps over HTTPS only (its test environment, like the emulator, also on the loopback)."""


class MissingTokenError(RuntimeError):
    """``TG_BOT_TOKEN`` is not set: the bot cannot talk to Telegram."""


class BotSettings(BaseSettings):
    """Every variable but ``TG_BOT_TOKEN`` has a default that works against services on localhost."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    chathub_env: str = Field("dev", pattern=r"^[a-z0-9_]{1,48}$")
    tg_bot_token: SecretStr | None = None
    tg_api_base: str | None = None
    """Base URL of a Bot API server (an emulator in tests and the demo); Telegram's own when unset."""
    rabbitmq_host: str = "127.0.0.1"
    rabbitmq_port: int = 5672
    rabbitmq_virtual_host: str = "/"
    rabbitmq_ssl: bool = False
    rabbitmq_exchange: str = topology.DEFAULT_EXCHANGE
    tg_bot_rabbitmq_username: str = "guest"
    tg_bot_rabbitmq_password: SecretStr = SecretStr("guest")
    metrics_port: int = 9102
    debug: bool = False
    ops_host: str = "127.0.0.1"
    """Address of /metrics, /healthz and /readyz (0.0.0.0 exposes them beyond this machine)."""
    webapp_port: int = Field(8080, ge=0, le=65535)
    """Port of the Mini App (the page at /app/, its API under /app/api/); 0 picks a free one."""
    webapp_url: str | None = None
    """The Mini App's public HTTPS address (e.g. https://chathub.example.org/app/): the menu button and the
    invitations open it. Unset: no button (the page is still served)."""
    tg_webhook_url: str | None = None
    """When set, Telegram delivers updates to this HTTPS address (e.g. https://chathub.example.org/telegram/hook)
    instead of the bot polling: the bot serves it on WEBAPP_PORT at the address's path. Unset: polling."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    """Where the bot keeps dialogs, pending requests and delivered ids so that they outlive it; empty: in memory."""
    webapp_host: str = "127.0.0.1"
    """Address the Mini App listens on (an addition; 0.0.0.0 behind a reverse proxy in another container)."""

    @field_validator("webapp_url", "tg_webhook_url")
    @classmethod
    def _https_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not _WEBAPP_URL.match(value):
            name = (info.field_name or "").upper()
            raise ValueError(f"{name} must be an https:// address (http:// only on 127.0.0.1 or localhost)")
        return value

    # Tuning (additions to the contract; the defaults follow Telegram's published limits).
    tg_bot_prefetch: int = Field(1024, ge=1, le=65535)
    """Deliveries in flight: large, so that urgent messages are never stuck in the broker behind others."""
    tg_bot_reply_timeout: float = Field(5.0, gt=0)
    """Seconds to wait for datemaker's reply before telling the user the service is busy."""
    tg_bot_global_rate: float = Field(30.0, gt=0)
    """Messages per second the bot sends to all chats together."""
    tg_bot_chat_rate: float = Field(1.0, gt=0)
    """Messages per second the bot sends to one chat."""
    tg_bot_send_attempts: int = Field(5, ge=1, le=50)
    """Attempts of one Telegram call through network or server errors (429s are waited out, not counted); a
    message owed to a user is then held until Telegram answers again (``tg_bot_hold_seconds``)."""
    tg_bot_hold_seconds: float = Field(600.0, gt=0, le=1500)  # within RabbitMQ's 30-minute ack timeout
    """How long a message from datemaker is held while Telegram is unreachable before a fresh copy goes to the
    back of the queue (within the broker's 30-minute acknowledgement timeout); it is never dropped for that."""
    tg_paid_broadcast: bool = False
    """Urgent messages (links, time left) beyond 30 a second go as paid broadcasts (up to 1,000 a second)."""
    tg_bot_user_burst: int = Field(10, ge=1, le=1000)
    """Updates one user may send at once before the bot slows them down."""
    tg_bot_user_rate: float = Field(1.0, gt=0)
    """Updates per second one user is served after their burst."""
    tg_bot_dialog_ttl: float = Field(3600.0, gt=0)
    """Seconds of silence after which a half-finished dialog is forgotten."""
    tg_bot_default_locale: str = Field("ru", pattern=r"^(ru|en)$")
    tg_bot_publish_timeout: float = Field(5.0, gt=0)
    tg_bot_polling_timeout: int = Field(10, ge=0, le=50)

    @property
    def bot_queue(self) -> str:
        return topology.bot_queue(self.chathub_env)

    @property
    def datemaker_queue(self) -> str:
        return topology.datemaker_queue(self.chathub_env)

    def token(self) -> str:
        """The bot token; raises :class:`MissingTokenError` when it is not configured."""
        token = self.tg_bot_token.get_secret_value().strip() if self.tg_bot_token else ""
        if not token:
            raise MissingTokenError(
                "TG_BOT_TOKEN is not set. Get a token from @BotFather (or use the emulator's, e.g. "
                "`python -m chathub_sim.telegram --port 0`) and export TG_BOT_TOKEN=<digits>:<secret>."
            )
        return token

    def rabbitmq_url(self) -> str:
        return amqp_url(
            self.rabbitmq_host,
            self.rabbitmq_port,
            self.rabbitmq_virtual_host,
            self.tg_bot_rabbitmq_username,
            self.tg_bot_rabbitmq_password.get_secret_value(),
            tls=self.rabbitmq_ssl,
        )
