"""datemaker's settings, read from the environment (docs/protocol.md section 1). Nothing else reads it."""

from __future__ import annotations

import getpass
from urllib.parse import quote

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from chathub_common.rabbit import amqp_url
from contracts import topology
from datemaker.domain.spaces import ACCOUNT_CREATIONS_PER_MINUTE, PROJECT_CREATIONS_PER_MINUTE, Quota, SpacePolicy


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (some containers)
        return "postgres"


class Settings(BaseSettings):
    """Every variable has a default that works against services on localhost."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    chathub_env: str = Field("dev", pattern=r"^[a-z0-9_]{1,48}$")
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_db: str = "chathub"
    datemaker_postgres_user: str = Field(default_factory=_os_user)
    datemaker_postgres_password: str = ""
    rabbitmq_host: str = "127.0.0.1"
    rabbitmq_port: int = 5672
    rabbitmq_virtual_host: str = "/"
    rabbitmq_ssl: bool = False
    datemaker_rabbitmq_username: str = "guest"
    datemaker_rabbitmq_password: str = "guest"
    rabbitmq_exchange: str = topology.DEFAULT_EXCHANGE
    meet_creds_file: str = "creds.json"
    meet_token_file: str = "token.json"
    meet_token_files: str | None = None
    """Comma-separated stored tokens, one per Google account (default: MEET_TOKEN_FILE alone)."""
    meet_api_endpoint: str | None = None
    meet_creations_per_minute: float = Field(
        ACCOUNT_CREATIONS_PER_MINUTE, gt=0, description="Google's spaces.create quota per account"
    )
    meet_project_creations_per_minute: float = Field(
        PROJECT_CREATIONS_PER_MINUTE, gt=0, description="Google's spaces.create quota per Cloud project"
    )
    meet_space_policy: SpacePolicy = SpacePolicy.AUTO
    metrics_port: int = 9101
    debug: bool = False
    ops_host: str = "127.0.0.1"
    """Address of /metrics, /healthz and /readyz (0.0.0.0 exposes them beyond this machine)."""

    # Tuning (additions to the contract; the defaults suit one instance on a small machine).
    datemaker_prefetch: int = Field(64, ge=1, le=1000)
    datemaker_db_pool_size: int = Field(16, ge=2, le=200)
    publish_timeout_seconds: float = Field(10.0, gt=0)
    datemaker_hold_seconds: float = Field(
        600.0,
        gt=0,
        le=1500,  # within RabbitMQ's 30-minute acknowledgement timeout, which would close the channel
        description="how long a command waits out a database outage before going to the queue's back",
    )
    reconcile_seconds: float = Field(2.0, gt=0, description="how often event timelines are re-read, schedules kept")
    meet_retry_seconds: float = Field(2.0, gt=0, description="first wait before retrying a refused Meet call")
    results_delay_seconds: float = Field(60.0, ge=0, description="wait after an event before reading attendance")
    link_lead_seconds: float = Field(30.0, ge=0, description="how long before its round a meeting link goes out")
    retention_days: int = Field(90, ge=1, description="finished events' personal data is deleted after this many days")

    @property
    def meet_tokens(self) -> list[str]:
        """The stored tokens, one per Google account."""
        files = [f.strip() for f in (self.meet_token_files or "").split(",") if f.strip()]
        return files or [self.meet_token_file]

    def meet_quota(self) -> Quota:
        return Quota(len(self.meet_tokens), self.meet_creations_per_minute, self.meet_project_creations_per_minute)

    @property
    def command_queue(self) -> str:
        return topology.datemaker_queue(self.chathub_env)

    @property
    def bot_queue(self) -> str:
        return topology.bot_queue(self.chathub_env)

    def postgres_dsn(self, database: str | None = None) -> str:
        user = quote(self.datemaker_postgres_user, safe="")
        password = quote(self.datemaker_postgres_password, safe="")
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@{self.postgres_host}:{self.postgres_port}/{database or self.postgres_db}"

    def rabbitmq_url(self) -> str:
        return amqp_url(
            self.rabbitmq_host,
            self.rabbitmq_port,
            self.rabbitmq_virtual_host,
            self.datemaker_rabbitmq_username,
            self.datemaker_rabbitmq_password,
            tls=self.rabbitmq_ssl,
        )
