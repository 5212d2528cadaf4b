"""The bot's settings, read from the environment (PROTOCOL.md section 1). Nothing else in the bot reads it."""

from __future__ import annotations

import logging

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from chathub_common.rabbit import amqp_url
from contracts import topology

logger = logging.getLogger(__name__)


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
    """Attempts of one Telegram call through network or server errors (429s are waited out, not counted)."""
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
                "`python -m chathub_bot.emulator --port 0`) and export TG_BOT_TOKEN=<digits>:<secret>."
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
