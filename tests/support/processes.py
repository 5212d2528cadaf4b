"""Running the services as real processes in tests, with their own queue names."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def isolated_settings(settings: Any, *, own_database: bool = False, **overrides: Any) -> Any:
    """A fresh set of queues (so the in-process datemaker does not consume them), and with
    ``own_database`` a database of its own (so it does not run their events either)."""
    suffix = uuid.uuid4().hex[:8]
    update = {
        "chathub_env": f"{settings.chathub_env}x{suffix}",
        "rabbitmq_exchange": f"{settings.rabbitmq_exchange}x{suffix}",
    }
    if own_database:
        update["postgres_db"] = f"{settings.postgres_db}x{suffix}"
    unknown = set(overrides) - set(type(settings).model_fields)
    if unknown:
        raise TypeError(f"not settings: {sorted(unknown)}")
    update.update(overrides)
    return settings.model_copy(update=update)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_env(settings: Any, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "CHATHUB_ENV": settings.chathub_env,
            "RABBITMQ_EXCHANGE": settings.rabbitmq_exchange,
            "POSTGRES_DB": settings.postgres_db,
            "METRICS_PORT": "0",
            "WEBAPP_PORT": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


@dataclass
class Isolated:
    """A test's own database and queues, with a pool on the database and a client on the bot's side."""

    settings: Any
    pool: Any
    bot: Any
    logs: Path

    def datemaker(self, name: str = "datemaker", **env: str) -> ServiceProcess:
        """A datemaker process on these settings (not started)."""
        return ServiceProcess(
            "datemaker", ["serve", "--no-migrate"], service_env(self.settings, **env), self.logs / f"{name}.log"
        )


class ServiceProcess:
    """``python -m <module> <args>`` as a child process; killed at the end if still running."""

    def __init__(self, module: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.module, self.args, self.env, self.log = module, args, env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> ServiceProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args], cwd=ROOT, env=self.env, stdout=handle, stderr=handle
        )
        return self

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode if self.process else None
