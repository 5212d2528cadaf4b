"""``python -m datemaker plan`` run for real in a subprocess: JSON in, JSON out, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

VALID = {
    "participants": [
        {"id": 1, "gender": "F", "birthday": "1996-04-01", "city": "msk", "manual_score": 2, "seeking": ["M"]},
        {"id": 2, "gender": "M", "birthday": "1995-04-01", "city": "msk", "manual_score": 2},
        {"id": 3, "gender": "M", "birthday": "1990-01-01", "city": "spb"},
        {"id": 5, "gender": "M", "birthday": "1990-01-01", "city": "spb", "seeking": ["M"]},
    ],
    "blocked": [],
    "met_before": [[1, 3]],
    "group_size": 20,
    "max_rounds": 10,
    "mode": "bipartite",
    "seed": 0,
}


def _valid_with(**changes) -> str:
    data = json.loads(json.dumps(VALID))
    data.update(changes)
    return json.dumps(data)


def _participant_with(**changes) -> str:
    data = json.loads(json.dumps(VALID))
    data["participants"][0].update(changes)
    return json.dumps(data)


BAD = {
    "malformed JSON": '{"participants": [',
    "not JSON at all": "participants: none",
    "empty input": "",
    "not an object": "[1, 2]",
    "empty participant list": _valid_with(participants=[]),
    "duplicate id": _valid_with(participants=[VALID["participants"][0], VALID["participants"][0]]),
    "unknown gender": _participant_with(gender="X"),
    "impossible date": _participant_with(birthday="2023-02-30"),
    "date in another format": _participant_with(birthday="01.04.1996"),
    "zero group size": _valid_with(group_size=0),
    "negative group size": _valid_with(group_size=-5),
    "zero rounds": _valid_with(max_rounds=0),
    "negative rounds": _valid_with(max_rounds=-2),
    "blocked pair with unknown id": _valid_with(blocked=[[1, 404]]),
    "met_before pair with unknown id": _valid_with(met_before=[[404, 2]]),
    "unknown mode": _valid_with(mode="everyone"),
    "deeply nested JSON": "[" * 100_000 + "]" * 100_000,
}


def _run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    return subprocess.run(
        [sys.executable, "-m", "datemaker", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Every case run once, two at a time (each run pays Python's and numpy/scipy's start-up)."""
    folder = tmp_path_factory.mktemp("plan_cli")
    jobs: dict[str, tuple[list[str], str | None]] = {}
    valid = folder / "valid.json"
    valid.write_text(json.dumps(VALID))
    jobs["valid file"] = (["plan", "--input", str(valid)], None)
    jobs["valid stdin"] = (["plan", "--input", "-"], json.dumps(VALID))
    jobs["missing file"] = (["plan", "--input", str(folder / "nowhere.json")], None)
    binary = folder / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    jobs["not UTF-8"] = (["plan", "--input", str(binary)], None)
    for name, text in BAD.items():
        path = folder / f"{len(jobs)}.json"
        path.write_text(text)
        jobs[name] = (["plan", "--input", str(path)], None)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_run, args, stdin) for name, (args, stdin) in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("case", ["valid file", "valid stdin"])
def test_a_valid_request_prints_the_plan(results, case):
    done = results[case]
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["groups"][0]["members"] == [1, 2, 3]
    assert plan["groups"][0]["rounds"][0] == {"round": 0, "pairs": [[1, 2]], "sitting_out": [3]}
    assert plan["groups"][0]["rounds"][1] == {"round": 1, "pairs": [[1, 3]], "sitting_out": [2]}
    assert plan["unseated"] == [{"id": 5, "reason": "no compatible partner"}]
    assert plan["stats"]["participants"] == 4 and plan["stats"]["seated"] == 3 and plan["stats"]["dates"] == 2
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("case", [*BAD, "missing file", "not UTF-8"])
def test_bad_input_exits_non_zero_with_one_line(results, case):
    done = results[case]
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("datemaker plan: ")
    assert done.stdout == ""


def test_the_error_line_says_what_is_wrong(results):
    assert "2023-02-30" in results["impossible date"].stderr
    assert "duplicate id" in results["duplicate id"].stderr
    assert "404" in results["blocked pair with unknown id"].stderr
    assert "malformed JSON" in results["malformed JSON"].stderr


def test_help_shows_an_example_input_that_plans():
    import json

    from datemaker.cli.plan import EXAMPLE
    from datemaker.domain.planning import PlanRequest, plan_event

    example = EXAMPLE.split("\n\n")[0].split(":", 1)[1]
    plan = plan_event(PlanRequest.from_json(json.loads(example)))
    assert plan.to_json()["stats"]["seated"] == 2  # 7 is blocked from the only woman
