"""``python -m chathub_sim.demo`` as a user runs it: a whole event with the emulators, datemaker and the bot as
processes, and simulated people going through the bot from /start to their matches. This is also the bot's
full-journey end-to-end test. The demo gets queues and a database of its own and removes them at the end."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKS = (
    "everyone got through the bot's dialogs",
    "everyone confirmed was seated or told why",
    "every link went to exactly one pair",
    "nobody met anyone twice",
    "every link was delivered before its round started",
    "every match is mutual",
    "every mutual like became a match",
    "every seated person got the final message",
    "the Mini App agreed with the chat",
)


def demo(*args: str) -> list[str]:
    name = f"demot{uuid.uuid4().hex[:8]}"
    return [sys.executable, "-m", "chathub_sim.demo", "--env", name, "--database", f"chathub_{name}", *args]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CHATHUB_ENV", "POSTGRES_DB", "METRICS_PORT")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def pids_in(output: str) -> list[int]:
    return [int(pid) for pid in re.findall(r"\(pid (\d+)\)", output)]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not running
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_whole_event_passes_every_check(tmp_path):
    report = tmp_path / "report.json"
    command = demo("--fast", "--rounds", "2", "--cleanup", "--log-dir", str(tmp_path), "--report-json", str(report))
    run = subprocess.run(command, cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=240)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    for check in CHECKS:
        assert re.search(rf"✔ pass\s*│\s*{re.escape(check)}", run.stdout), (check, run.stdout)
    assert "✘" not in run.stdout and "All 9 checks passed." in run.stdout

    result = json.loads(report.read_text())
    assert result["exit_code"] == 0
    assert [c["name"] for c in result["checks"] if c["passed"]] == list(CHECKS)
    tally = result["tally"]
    assert (tally["participants"], tally["registered"], tally["confirmed"]) == (8, 8, 7)
    assert tally["seated"] == 7 and tally["dates_held"] == tally["dates_planned"] > 0
    assert tally["matches"] >= 1, "someone liked each other and got the other's contact"
    figures = result["figures"]
    assert figures["state"] == "FINISHED"
    # the pool makes spaces ahead for a full event; the ones a no-show leaves unused wait for the next event
    assert figures["meet"]["spaces_created"] >= tally["dates_planned"] == figures["meet"]["conferences_ended"]
    assert figures["telegram"]["too_many_requests"] == 0
    assert figures["command_count"] > 0 and figures["command_p99"] is not None
    assert set(figures["exit_codes"].values()) == {0}
    assert "/metrics" in figures["metrics_url"]

    pids = pids_in(output)
    assert len(pids) == 4, output
    assert not [pid for pid in pids if alive(pid)], "a process of the demo is still running"


def test_interrupted_demo_stops_everything_it_started(tmp_path):
    process = subprocess.Popen(
        demo("--fast", "--cleanup", "--log-dir", str(tmp_path)),
        cwd=ROOT,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = ""
    try:
        assert process.stdout is not None
        for line in process.stdout:  # until the four processes are started
            output += line
            if "started datemaker" in line:
                break
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
        output += rest
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, output
    assert "interrupted" in output
    pids = pids_in(output)
    assert len(pids) == 4, output
    deadline = time.monotonic() + 5
    while [pid for pid in pids if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in pids if alive(pid)], output


def test_an_unreachable_broker_or_database_says_how_to_start_them():
    for variable, service in (("RABBITMQ_PORT", "RabbitMQ"), ("POSTGRES_PORT", "PostgreSQL")):
        port = closed_port()
        run = subprocess.run(
            demo("--fast"),
            cwd=ROOT,
            env=environment(**{variable: str(port)}),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 3, run.stdout + run.stderr
        assert f"{service} is not reachable at 127.0.0.1:{port} (connection refused)" in run.stderr
        assert "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start" in run.stderr
        assert "rabbitmq-server -detached" in run.stderr
        assert "docker compose -f docker/compose.yaml up -d postgres rabbitmq" in run.stderr
        assert "started" not in run.stdout  # nothing was started
