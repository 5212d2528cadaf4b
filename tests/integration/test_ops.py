"""What operators rely on: health endpoints, metrics that Prometheus really scrapes, readiness that tells
the truth when the database or the broker goes away."""

import asyncio
import json
import shutil
import subprocess
import urllib.request

import pytest

from tests.conftest import wait_for
from tests.support.processes import ServiceProcess, free_port, isolated_settings, service_env
from tests.support.promtool import check_metrics
from tests.support.proxy import Proxy


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


async def fetch(url: str) -> tuple[int, str]:
    return await asyncio.to_thread(get, url)


@pytest.fixture
def ops_url(datemaker) -> str:
    return f"http://127.0.0.1:{datemaker.ops.port}"


async def test_health_and_readiness(ops_url):
    assert await fetch(f"{ops_url}/healthz") == (200, '{"status": "alive"}')
    status, body = await fetch(f"{ops_url}/readyz")
    assert status == 200 and json.loads(body) == {"ready": True, "checks": {"database": True, "broker": True}}


async def test_metrics_follow_conventions_and_pass_promtool(ops_url, bot, clean_db):
    await bot.call("list_events", {}, user_id=5)
    status, text = await fetch(f"{ops_url}/metrics")
    assert status == 200
    for name in ("chathub_commands_processed_total", "chathub_command_duration_seconds_bucket", "chathub_events",
                 "chathub_queue_messages", "process_cpu_seconds_total", "process_resident_memory_bytes"):  # fmt: skip
        assert name in text, name
    assert "user_id" not in text
    check_metrics(text)


async def test_a_real_prometheus_scrapes_datemaker(ops_url, datemaker, bot, clean_db, tmp_path):
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("prometheus is not installed (Debian package prometheus; make test installs it where it can)")
    await bot.call("list_events", {}, user_id=5)
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: datemaker\n    static_configs: [{{targets: ['127.0.0.1:{datemaker.ops.port}']}}]\n"
    )
    port = free_port()
    server = subprocess.Popen(
        [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    query = (
        f"http://127.0.0.1:{port}/api/v1/query?query=chathub_commands_processed_total%7Bcommand%3D%22list_events%22%7D"
    )

    async def answered():
        status, body = await fetch(query)
        return status == 200 and json.loads(body)["data"]["result"]

    try:
        result = await wait_for(answered, timeout=30, interval=0.5)
    finally:
        server.terminate()
        server.wait(10)
    assert result[0]["metric"]["job"] == "datemaker" and float(result[0]["value"][1]) >= 1


async def test_readiness_reports_the_database_and_the_broker_going_away_and_coming_back(settings, tmp_path):
    own = isolated_settings(settings)
    pg, mq = (
        Proxy(settings.postgres_host, settings.postgres_port),
        Proxy(settings.rabbitmq_host, settings.rabbitmq_port),
    )
    await pg.start()
    await mq.start()
    port = free_port()
    env = service_env(own, POSTGRES_PORT=str(pg.port), RABBITMQ_PORT=str(mq.port), METRICS_PORT=str(port))
    service = ServiceProcess("datemaker", ["serve", "--no-migrate"], env, tmp_path / "datemaker.log").start()
    readyz = f"http://127.0.0.1:{port}/readyz"

    async def status_is(code):
        return (await fetch(readyz))[0] == code

    try:
        await wait_for(lambda: status_is(200), timeout=30, interval=0.2)
        await pg.cut()
        await wait_for(lambda: status_is(503), timeout=15, interval=0.2)
        assert json.loads((await fetch(readyz))[1])["checks"] == {"database": False, "broker": True}
        await pg.restore()
        await wait_for(lambda: status_is(200), timeout=30, interval=0.2)
        await mq.cut()
        await wait_for(lambda: status_is(503), timeout=15, interval=0.2)
        assert json.loads((await fetch(readyz))[1])["checks"] == {"database": True, "broker": False}
        await mq.restore()
        await wait_for(lambda: status_is(200), timeout=40, interval=0.2)
        assert (await fetch(f"http://127.0.0.1:{port}/healthz"))[0] == 200
    finally:
        service.stop()
        await pg.cut()
        await mq.cut()
        from tests.support.amqp import drop_topology

        await drop_topology(own)


async def test_the_daily_retention_job_runs_in_the_service(datemaker):
    """The scheduler awaits the job (a coroutine function), so the purge really happens."""
    job = datemaker.scheduler._scheduler.get_job("daily")
    assert job is not None and asyncio.iscoroutinefunction(job.func)
    await job.func()  # runs the purge once against the run's database
