"""The real Meet adapter (google-apps-meet over gRPC) against the Meet API emulator on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import google.oauth2.credentials
import pytest
from aiohttp import web
from google.apps import meet_v2

from chathub_sim.meet import MeetEmulator
from datemaker.adapters.meet import MeetOptions, create_meet
from datemaker.adapters.meet.credentials import SCOPES
from datemaker.service.ports import MeetError

REPO = Path(__file__).resolve().parents[2]
FAST = MeetOptions(backoff_initial_seconds=0.01, backoff_max_seconds=0.5, call_timeout_seconds=10.0)
UNPACED = 600_000.0  # creations per minute: pacing out of the way


@pytest.fixture
async def emulator():
    emulator = MeetEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def meet(emulator, tmp_path):
    # The token file does not exist: a loopback endpoint needs none.
    adapter = create_meet(
        emulator.endpoint,
        str(tmp_path / "token.json"),
        "creds.json",
        UNPACED,
        project_creations_per_minute=UNPACED,
        options=FAST,
    )
    yield adapter
    await adapter.close()


def access(emulator: MeetEmulator, name: str) -> str:
    return meet_v2.SpaceConfig.AccessType(emulator.find_space(name).config.access_type).name


# ---------------------------------------------------------------------- create_space


async def test_create_space_is_open_and_never_updated_without_a_mask(emulator, meet):
    space = await meet.create_space()
    assert space.name.startswith("spaces/")
    assert space.meeting_uri == f"https://meet.google.com/{space.meeting_code}"
    assert access(emulator, space.name) == "OPEN"
    assert emulator.stats()["spaces_created"] == 1
    assert None not in emulator.update_masks


async def test_open_access_is_set_with_a_mask_when_creation_ignores_the_config(emulator, meet):
    emulator.honour_create_config = False  # as a server that takes no config at creation
    space = await meet.create_space()
    assert emulator.update_masks == [["config.access_type"]]
    stored = emulator.find_space(space.name)
    assert access(emulator, space.name) == "OPEN"
    # Only the masked field changed: the rest of the config kept the server's values.
    assert stored.config.entry_point_access == meet_v2.SpaceConfig.EntryPointAccess.ALL
    assert emulator.stats()["calls"] == {"CreateSpace": 1, "UpdateSpace": 1}


async def test_each_creation_is_a_fresh_space(emulator, meet):
    spaces = [await meet.create_space() for _ in range(3)]
    assert len({s.name for s in spaces}) == 3
    assert len({s.meeting_code for s in spaces}) == 3
    assert emulator.stats()["spaces_created"] == 3


# ---------------------------------------------------------------------- end_active_conference


async def test_end_active_conference_is_idempotent(emulator, meet):
    space = await meet.create_space()
    await meet.end_active_conference(space.name)  # nobody joined: nothing to end, no error
    emulator.join(space.meeting_uri, "Alice")
    emulator.join(space.meeting_code, "Bob")
    assert emulator.stats()["active_conferences"] == 1
    await meet.end_active_conference(space.name)
    assert emulator.stats()["active_conferences"] == 0
    assert emulator.stats()["conferences_ended"] == 1
    await meet.end_active_conference(space.name)  # again: still fine
    await meet.end_active_conference("spaces/doesNotExist")  # unknown space: nothing to end either
    assert emulator.stats()["conferences_ended"] == 1
    assert emulator.stats()["calls"]["EndActiveConference"] == 4


async def test_end_rejects_a_malformed_space_name(meet):
    with pytest.raises(MeetError, match="invalid Meet space name"):
        await meet.end_active_conference('spaces/x" OR 1')


# ---------------------------------------------------------------------- attendance


async def test_attendance_after_simulated_joins(emulator, meet):
    space = await meet.create_space()
    assert await meet.attendance(space.name) == []
    before = datetime.now(UTC)
    emulator.join(space.meeting_uri, "Alice")
    emulator.join(space.meeting_code, "Bob", kind="signedin", user="users/42")
    emulator.join(space.name, "+7 *** *** 12", kind="phone")
    emulator.leave(space.meeting_code, "+7 *** *** 12", kind="phone")

    during = await meet.attendance(space.name)
    assert {a.display_name: a.left_at is None for a in during} == {"Alice": True, "Bob": True, "+7 *** *** 12": False}
    await meet.end_active_conference(space.name)
    after = await meet.attendance(space.name)
    assert [a.display_name for a in after] == ["Alice", "Bob", "+7 *** *** 12"]  # by joining time
    for row in after:
        assert row.space_name == space.name
        assert before <= row.joined_at <= row.left_at <= datetime.now(UTC)


async def test_attendance_spans_every_conference_of_the_space(emulator, meet):
    space = await meet.create_space()
    other = await meet.create_space()
    emulator.join(space.meeting_code, "Alice")
    emulator.leave(space.meeting_code, "Alice")  # the call ends when its last person leaves
    first_left = (await meet.attendance(space.name))[0].left_at
    emulator.join(space.meeting_code, "Alice")  # a second conference in the same space
    emulator.join(space.meeting_code, "Bob")
    emulator.join(other.meeting_code, "Carol")
    await meet.end_active_conference(space.name)
    assert emulator.stats()["conference_records"] == 3
    rows = await meet.attendance(space.name)
    assert [a.display_name for a in rows] == ["Alice", "Bob"]
    assert rows[0].left_at > first_left
    assert [a.display_name for a in await meet.attendance(other.name)] == ["Carol"]


async def test_attendance_reads_every_page(emulator, meet):
    space = await meet.create_space()
    names = [f"guest {i:03}" for i in range(260)]  # more than one page of participants (250)
    for name in names:
        emulator.join(space.meeting_code, name)
    rows = await meet.attendance(space.name)
    assert sorted(a.display_name for a in rows) == names
    assert emulator.stats()["calls"]["ListParticipants"] == 2


# ---------------------------------------------------------------------- retries and errors


async def test_resource_exhausted_then_success(emulator, meet):
    emulator.fail_next(2, "RESOURCE_EXHAUSTED")
    space = await meet.create_space()
    assert access(emulator, space.name) == "OPEN"
    stats = emulator.stats()
    assert stats["calls"]["CreateSpace"] == 3
    assert stats["injected_failures"] == 2
    assert stats["spaces_created"] == 1


async def test_the_servers_retry_delay_is_honoured(emulator, meet):
    emulator.fail_next(1, "RESOURCE_EXHAUSTED", retry_after=0.3)
    started = time.monotonic()
    await meet.create_space()
    assert time.monotonic() - started >= 0.3


async def test_unavailable_is_retried_for_every_call(emulator, meet):
    emulator.fail_next(1, "UNAVAILABLE")
    space = await meet.create_space()
    emulator.join(space.meeting_code, "Alice")
    emulator.fail_next(1, "UNAVAILABLE", method="ListConferenceRecords")
    emulator.fail_next(1, "UNAVAILABLE", method="ListParticipants")
    assert [a.display_name for a in await meet.attendance(space.name)] == ["Alice"]
    emulator.fail_next(2, "UNAVAILABLE", method="EndActiveConference")
    await meet.end_active_conference(space.name)
    stats = emulator.stats()
    assert stats["conferences_ended"] == 1
    assert stats["calls"] == {
        "CreateSpace": 2,
        "ListConferenceRecords": 3,  # a failed listing is read again from the start
        "ListParticipants": 2,
        "EndActiveConference": 3,
    }


async def test_persistent_failure_is_a_meet_error_after_bounded_attempts(emulator, meet):
    emulator.fail_next(100, "UNAVAILABLE")
    with pytest.raises(MeetError, match=r"CreateSpace failed after 5 attempts: UNAVAILABLE"):
        await meet.create_space()
    assert emulator.stats()["calls"]["CreateSpace"] == FAST.max_attempts
    emulator.clear_failures()
    emulator.fail_next(100, "RESOURCE_EXHAUSTED", method="ListConferenceRecords")
    with pytest.raises(MeetError, match="RESOURCE_EXHAUSTED"):
        await meet.attendance("spaces/abc")


@pytest.mark.parametrize("code", ["INVALID_ARGUMENT", "PERMISSION_DENIED", "UNAUTHENTICATED", "INTERNAL"])
async def test_other_errors_are_not_retried(emulator, meet, code):
    emulator.fail_next(1, code)
    with pytest.raises(MeetError) as raised:
        await meet.create_space()
    assert emulator.stats()["calls"]["CreateSpace"] == 1
    if code in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
        assert "meet-login" in str(raised.value)


async def test_a_per_call_timeout_bounds_a_hanging_server(emulator, tmp_path):
    emulator.delay_next(2, 30.0)
    options = MeetOptions(call_timeout_seconds=0.2, max_attempts=2, backoff_initial_seconds=0.01)
    adapter = create_meet(emulator.endpoint, str(tmp_path / "t.json"), "c.json", UNPACED, options=options)
    try:
        started = time.monotonic()
        with pytest.raises(MeetError, match="DEADLINE_EXCEEDED"):
            await adapter.create_space()
        assert time.monotonic() - started < 3.0
        assert emulator.stats()["calls"]["CreateSpace"] == 2
    finally:
        await adapter.close()


# ---------------------------------------------------------------------- pacing


async def test_creations_are_paced(emulator, tmp_path):
    adapter = create_meet(
        emulator.endpoint, str(tmp_path / "t.json"), "c.json", 600.0, project_creations_per_minute=UNPACED, options=FAST
    )  # 1 per 0.1 s
    try:
        started = time.monotonic()
        await asyncio.gather(*(adapter.create_space() for _ in range(4)))
        elapsed = time.monotonic() - started
    finally:
        await adapter.close()
    assert 0.3 <= elapsed < 3.0
    assert emulator.stats()["spaces_created"] == 4


async def test_pacing_keeps_creations_within_the_servers_quota(emulator, tmp_path):
    emulator.set_creation_quota(2, window_seconds=0.4)
    adapter = create_meet(
        emulator.endpoint, str(tmp_path / "t.json"), "c.json", 240.0, project_creations_per_minute=UNPACED, options=FAST
    )  # 1 per 0.25 s
    try:
        for _ in range(4):
            await adapter.create_space()
    finally:
        await adapter.close()
    stats = emulator.stats()
    assert stats["quota_rejections"] == 0
    assert stats["calls"]["CreateSpace"] == 4


async def test_a_quota_rejection_waits_as_told_and_succeeds(emulator, meet):
    emulator.set_creation_quota(1, window_seconds=0.3)
    started = time.monotonic()
    await meet.create_space()
    await meet.create_space()  # rejected once (RetryInfo ~0.3 s), then let through
    assert time.monotonic() - started >= 0.25
    stats = emulator.stats()
    assert stats["quota_rejections"] >= 1
    assert stats["spaces_created"] == 2


async def test_a_quota_rejection_holds_back_the_other_creations(emulator, meet):
    emulator.fail_next(1, "RESOURCE_EXHAUSTED", retry_after=0.3)
    started = time.monotonic()
    await asyncio.gather(*(meet.create_space() for _ in range(3)))
    assert time.monotonic() - started >= 0.3
    stats = emulator.stats()
    assert stats["spaces_created"] == 3
    assert stats["calls"]["CreateSpace"] == 4  # the two others waited instead of hitting the quota too


async def test_several_accounts_share_creations_within_each_quota_and_the_projects(emulator, tmp_path):
    """Two accounts, each allowed 2 per window, the project 3: a creation goes through the account whose quota
    frees first; a RESOURCE_EXHAUSTED moves it to the other account; nothing exceeds a quota for long."""
    window = 1.0
    emulator.set_creation_quota(2, window_seconds=window, project_limit=3)
    files = []
    for name in ("anna", "boris"):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"token": f"token-of-{name}"}))
        files.append(str(path))
    adapter = create_meet(
        emulator.endpoint, files, "c.json", 120.0, project_creations_per_minute=180.0, options=FAST
    )  # paced as the quotas say: 2 a second per account, 3 a second in all
    try:
        started = time.monotonic()
        spaces = await asyncio.gather(*(adapter.create_space() for _ in range(6)))
        elapsed = time.monotonic() - started
    finally:
        await adapter.close()
    assert {s.account for s in spaces} == {"anna", "boris"}
    stats = emulator.stats()
    assert sorted(stats["spaces_created_by"]) == ["token-of-anna", "token-of-boris"]
    assert min(stats["spaces_created_by"].values()) >= 2
    assert elapsed >= 1.0  # six at three a second
    assert stats["quota_rejections"] <= 2  # paced at the quota itself: network jitter may cross it, rarely


async def test_a_busy_account_hands_the_creation_to_another(emulator, tmp_path):
    emulator.set_creation_quota(1, window_seconds=5.0)  # each account: one space per 5 s
    files = []
    for name in ("anna", "boris"):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"token": f"token-of-{name}"}))
        files.append(str(path))
    adapter = create_meet(
        emulator.endpoint, files, "c.json", UNPACED, project_creations_per_minute=UNPACED, options=FAST
    )  # pacing believes there is room: the server's 429 says otherwise
    try:
        started = time.monotonic()
        first, second = [await adapter.create_space() for _ in range(2)]
        assert time.monotonic() - started < 2.0  # the second went through the other account at once
    finally:
        await adapter.close()
    assert {first.account, second.account} == {"anna", "boris"}
    assert emulator.stats()["quota_rejections"] <= 1


async def test_a_spaces_calls_and_records_are_reached_through_the_account_that_made_it(emulator, tmp_path):
    files = []
    for name in ("anna", "boris"):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"token": f"token-of-{name}"}))
        files.append(str(path))
    adapter = create_meet(emulator.endpoint, files, "c.json", UNPACED, project_creations_per_minute=UNPACED)
    other = create_meet(emulator.endpoint, files[::-1], "c.json", UNPACED, project_creations_per_minute=UNPACED)
    try:
        space = await adapter.create_space()
        wrong = "boris" if space.account == "anna" else "anna"
        first = emulator.join(space.meeting_code, "Ann")
        assert first
        with pytest.raises(MeetError, match="denied"):
            await other.end_active_conference(space.name, wrong)
        await other.end_active_conference(space.name, space.account)
        await asyncio.sleep(0.3)
        late = datetime.now(UTC)
        emulator.join(space.meeting_code, "Bob")  # a second conference in the same space: the next date
        everyone = await adapter.attendance(space.name, space.account)
        second = await adapter.attendance(space.name, space.account, since=late)
    finally:
        await adapter.close()
        await other.close()
    assert sorted(a.display_name for a in everyone) == ["Ann", "Bob"]
    assert [a.display_name for a in second] == ["Bob"]


# ---------------------------------------------------------------------- Google's endpoint: the token


def _token(tmp_path, token_uri: str, *, expired: bool) -> Path:
    expiry = datetime.now(UTC) + (timedelta(hours=-1) if expired else timedelta(hours=1))
    path = tmp_path / "token.json"
    path.write_text(
        json.dumps(
            {
                "token": "ya29.old",
                "refresh_token": "1//refresh",
                "token_uri": token_uri,
                "client_id": "123.apps.googleusercontent.com",
                "client_secret": "secret",
                "scopes": list(SCOPES),
                "expiry": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    )
    return path


@pytest.mark.parametrize("endpoint", [None, "", "meet.googleapis.com:443"])
async def test_missing_token_file_is_a_clear_error_for_google(tmp_path, endpoint):
    adapter = create_meet(endpoint, str(tmp_path / "token.json"), str(tmp_path / "creds.json"))
    try:
        for call in (adapter.check, adapter.create_space):
            with pytest.raises(MeetError, match=r"token\.json not found.*`datemaker meet-login"):
                await call()
        with pytest.raises(MeetError, match="meet-login"):
            await adapter.attendance("spaces/abc")
    finally:
        await adapter.close()


async def test_an_unreadable_token_file_is_a_clear_error(tmp_path):
    (tmp_path / "token.json").write_text("{broken")
    adapter = create_meet(None, str(tmp_path / "token.json"), "creds.json")
    with pytest.raises(MeetError, match=r"unreadable.*meet-login"):
        await adapter.create_space()


@pytest.fixture
async def token_server(monkeypatch):
    """A stand-in for Google's token endpoint on loopback; ``answers`` decides the next reply.

    google-auth always sends a stored user token's refresh to Google's own token endpoint (it ignores
    the file's ``token_uri``), so the test points that constant at the stand-in.
    """
    answers: list[tuple[int, dict]] = []
    seen: list[dict] = []

    async def token(request: web.Request) -> web.Response:
        seen.append(dict(await request.post()))
        status, body = answers.pop(0)
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_post("/token", token)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    uri = f"http://127.0.0.1:{runner.addresses[0][1]}/token"
    monkeypatch.setattr(google.oauth2.credentials, "_GOOGLE_OAUTH2_TOKEN_ENDPOINT", uri)
    yield uri, answers, seen
    await runner.cleanup()


async def test_a_revoked_token_is_a_clear_error(tmp_path, token_server):
    uri, answers, seen = token_server
    answers.append((400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}))
    adapter = create_meet(None, str(_token(tmp_path, uri, expired=True)), "creds.json")
    with pytest.raises(MeetError, match=r"revoked or has expired.*7 days.*meet-login"):
        await adapter.create_space()
    assert seen and seen[0]["grant_type"] == "refresh_token"


async def test_an_expired_access_token_is_refreshed_and_stored(tmp_path, token_server):
    uri, answers, seen = token_server
    answers.append((200, {"access_token": "ya29.new", "expires_in": 3600, "token_type": "Bearer"}))
    path = _token(tmp_path, uri, expired=True)
    adapter = create_meet("meet.googleapis.com", str(path), "creds.json")
    await adapter.check()
    await adapter.check()  # valid now: no second refresh
    assert len(seen) == 1
    stored = json.loads(path.read_text())
    assert stored["token"] == "ya29.new" and stored["refresh_token"] == "1//refresh"


async def test_a_valid_token_needs_no_network(tmp_path):
    path = _token(tmp_path, "http://127.0.0.1:9/never-called", expired=False)
    adapter = create_meet(None, str(path), "creds.json")
    await adapter.check()


# ---------------------------------------------------------------------- the emulator as a process


async def _json(session: aiohttp.ClientSession, method: str, url: str, body: dict | None = None) -> dict:
    async with session.request(method, url, json=body) as response:
        payload = await response.json()
        assert response.status == 200, payload
        return payload


async def test_emulator_process_and_its_control_api(tmp_path):
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chathub_sim.meet",
        "--port",
        "0",
        "--control-port",
        "0",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        announced = json.loads(line)
        assert announced["endpoint"] == f"127.0.0.1:{announced['grpc_port']}"
        control = announced["control_url"]
        adapter = create_meet(announced["endpoint"], str(tmp_path / "t.json"), "c.json", UNPACED, options=FAST)
        async with aiohttp.ClientSession() as http:
            assert await _json(http, "GET", f"{control}/healthz") == {"ok": True}
            await _json(http, "POST", f"{control}/failures", {"count": 1, "code": "UNAVAILABLE"})
            space = await adapter.create_space()

            spaces = (await _json(http, "GET", f"{control}/spaces"))["spaces"]
            assert [(s["name"], s["access_type"]) for s in spaces] == [(space.name, "OPEN")]
            joined = await _json(
                http, "POST", f"{control}/join", {"meeting": space.meeting_uri, "display_name": "Alice"}
            )
            assert joined["participant"].startswith("conferenceRecords/")
            await _json(http, "POST", f"{control}/join", {"meeting": space.meeting_code, "display_name": "Bob"})
            assert await _json(
                http, "POST", f"{control}/leave", {"meeting": space.meeting_code, "display_name": "Bob"}
            ) == {"left": True}
            async with http.post(f"{control}/join", json={"meeting": "zzz-zzzz-zzz", "display_name": "X"}) as r:
                assert r.status == 404
            async with http.post(f"{control}/failures", json={"count": 1, "code": "NOPE"}) as r:
                assert r.status == 400

            rows = await adapter.attendance(space.name)
            assert [(a.display_name, a.left_at is None) for a in rows] == [("Alice", True), ("Bob", False)]
            await adapter.end_active_conference(space.name)

            stats = await _json(http, "GET", f"{control}/stats")
            assert stats["spaces_created"] == 1
            assert stats["conferences_ended"] == 1
            assert stats["calls"]["CreateSpace"] == 2  # one injected UNAVAILABLE, then success

            await _json(http, "POST", f"{control}/quota", {"limit": 0, "window_seconds": 60})
            impatient = create_meet(announced["endpoint"], "t.json", "c.json", options=MeetOptions(max_attempts=1))
            try:
                with pytest.raises(MeetError, match="RESOURCE_EXHAUSTED"):
                    await impatient.create_space()
            finally:
                await impatient.close()
            await _json(http, "POST", f"{control}/reset")
            assert (await _json(http, "GET", f"{control}/stats"))["spaces_created"] == 0
        await adapter.close()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=30)
    assert code == 0
