"""Restarting the local PostgreSQL and RabbitMQ, for fault tests (they affect everything on the machine)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def can_restart() -> str | None:
    """None when the local services can be restarted here, else why not."""
    if not shutil.which("rabbitmqctl") or not shutil.which("pg_ctlcluster"):
        return "the Debian rabbitmq-server and postgresql packages are needed to restart the services"
    if not Path("/etc/postgresql").is_dir():
        return "no local PostgreSQL cluster"
    return None


def _cluster() -> tuple[str, str]:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]
    return version, "main"


async def stop_rabbitmq() -> None:
    await asyncio.to_thread(_run, "rabbitmqctl", "stop_app")


async def start_rabbitmq() -> None:
    await asyncio.to_thread(_run, "rabbitmqctl", "start_app")


async def stop_postgres() -> None:
    await asyncio.to_thread(_run, "pg_ctlcluster", "--skip-systemctl-redirect", *_cluster(), "stop", "-m", "fast")


async def start_postgres() -> None:
    """Start the cluster (already running is fine)."""

    def start() -> None:
        done = subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", *_cluster(), "start"], capture_output=True, timeout=120
        )
        if done.returncode not in (0, 2):  # 2: already running
            raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout, done.stderr)

    await asyncio.to_thread(start)
