"""Shared fixtures. Integration fixtures use the real PostgreSQL and RabbitMQ on localhost, each test
run with its own database, exchange and queue names (removed at the end)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from datemaker.domain.spaces import ACCOUNT_CREATIONS_PER_MINUTE, PROJECT_CREATIONS_PER_MINUTE
from tests.support.amqp import BotSide, drop_topology
from tests.support.factories import reset_database

RUN_ID = uuid.uuid4().hex[:10]
TIME_SCALE = int(os.environ.get("CHATHUB_TEST_TIME_SCALE", "150"))
"""Tests compress a night about this much (2-second rounds for 5-minute ones); Google's Meet quotas are
compressed with it, not switched off. ``bench/meet_quota_live.py`` runs the quota's case less compressed."""


def _test_environment(meet_endpoint: str) -> dict[str, str]:
    return {
        "CHATHUB_ENV": f"t{RUN_ID}",
        "RABBITMQ_EXCHANGE": f"chathub_t{RUN_ID}",
        "POSTGRES_DB": f"chathub_t{RUN_ID}",
        "METRICS_PORT": "0",
        "WEBAPP_PORT": "0",
        "MEET_API_ENDPOINT": meet_endpoint,
        "MEET_CREATIONS_PER_MINUTE": str(ACCOUNT_CREATIONS_PER_MINUTE * TIME_SCALE),
        "MEET_PROJECT_CREATIONS_PER_MINUTE": str(PROJECT_CREATIONS_PER_MINUTE * TIME_SCALE),
        "RECONCILE_SECONDS": "0.5",
        "RESULTS_DELAY_SECONDS": "0.5",
        "MEET_RETRY_SECONDS": "0.05",
    }


@pytest.fixture(scope="session")
async def meet():
    """The Meet API emulator, for the whole run (tests reset what they rely on)."""
    from chathub_sim.meet import MeetEmulator

    emulator = MeetEmulator(
        creation_quota=ACCOUNT_CREATIONS_PER_MINUTE,
        project_quota=PROJECT_CREATIONS_PER_MINUTE,
        quota_window_seconds=60 / TIME_SCALE,
        default_access_type="OPEN",
    )
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture(scope="session")
def test_env(meet) -> dict[str, str]:
    """Environment of this test run; also exported so that child processes inherit it."""
    env = _test_environment(meet.endpoint)
    os.environ.update(env)
    return env


@pytest.fixture(scope="session")
def settings(test_env):
    from datemaker.config import Settings

    return Settings()


@pytest.fixture(scope="session")
async def database(settings) -> AsyncIterator[str]:
    """A migrated database of this run; its DSN."""
    from datemaker.app import prepare_database

    await prepare_database(settings)
    yield settings.postgres_dsn()
    conn = await asyncpg.connect(settings.postgres_dsn("postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{settings.postgres_db}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def pool(database) -> AsyncIterator[asyncpg.Pool]:
    from datemaker.adapters.postgres.store import create_pool

    pool = await create_pool(database, size=8)
    yield pool
    await pool.close()


@pytest.fixture
async def clean_db(pool) -> asyncpg.Pool:
    """The run's database emptied of users, events and processed messages."""
    await reset_database(pool)
    return pool


@pytest.fixture(scope="session")
async def topology(settings) -> AsyncIterator[None]:
    yield
    await drop_topology(settings)


@pytest.fixture(scope="session")
async def datemaker(settings, database, topology):
    """datemaker running in this process against the run's database and queues."""
    from datemaker.app import Datemaker

    service = Datemaker(settings)
    await service.start()
    yield service
    await service.stop()


@pytest.fixture
async def bot(settings, topology) -> AsyncIterator[BotSide]:
    """A client on the bot's side of the broker: sends commands to datemaker and collects replies."""
    side = BotSide(settings)
    await side.start()
    yield side
    await side.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_collection_modifyitems(config, items):
    # Unit tests first (they fail fastest); tests that restart the machine's services last.
    def order(item):
        path = str(item.fspath)
        return 2 if path.endswith("test_restarts.py") else 0 if "/unit/" in path else 1

    items.sort(key=order)


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll an async or sync predicate until it is truthy; its value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)


@pytest.fixture
async def isolated(settings, tmp_path):
    """Settings with a database and queues of their own, for datemaker processes a test starts itself
    (the in-process datemaker neither runs their events nor consumes their messages)."""
    from datemaker.adapters.postgres.store import create_pool
    from datemaker.app import prepare_database
    from tests.support.processes import Isolated, isolated_settings

    own = isolated_settings(settings, own_database=True)
    await prepare_database(own)
    pool = await create_pool(own.postgres_dsn(), size=4)
    side = BotSide(own)
    await side.start()
    try:
        yield Isolated(own, pool, side, tmp_path)
    finally:
        await side.stop()
        await pool.close()
        await drop_topology(own)
        conn = await asyncpg.connect(own.postgres_dsn("postgres"))
        await conn.execute(f'DROP DATABASE IF EXISTS "{own.postgres_db}" WITH (FORCE)')
        await conn.close()
