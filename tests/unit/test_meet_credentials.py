"""The stored Google token: every way it can be unusable is a MeetError that says to run meet-login."""

import argparse
import json
import stat
from datetime import UTC, datetime, timedelta

import pytest
from google.oauth2.credentials import Credentials

from datemaker.adapters.meet import credentials as meet_credentials
from datemaker.adapters.meet.credentials import (
    SCOPES,
    MeetCredentialsError,
    UserCredentials,
    load_credentials,
    save_credentials,
)
from datemaker.service.ports import MeetError


def token_info(**overrides):
    info = {
        "token": "ya29.access",
        "refresh_token": "1//refresh",
        "token_uri": "https://oauth2.googleapis.com/token",
        "client_id": "123.apps.googleusercontent.com",
        "client_secret": "secret",
        "scopes": list(SCOPES),
        "expiry": (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    info.update(overrides)
    return info


def write(path, content):
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_missing_file(tmp_path):
    with pytest.raises(MeetCredentialsError, match=r"not found.*`datemaker meet-login"):
        load_credentials(tmp_path / "token.json")
    assert issubclass(MeetCredentialsError, MeetError)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "unreadable"),
        ("[1, 2]", "not an authorized-user token"),
        ({"token": "x"}, "not usable"),
        (token_info(scopes=["https://www.googleapis.com/auth/calendar"]), "was granted"),
    ],
)
def test_unusable_file(tmp_path, content, match):
    path = write(tmp_path / "token.json", content)
    with pytest.raises(MeetCredentialsError, match=rf"{match}.*meet-login"):
        load_credentials(path)


def test_a_directory_is_unreadable(tmp_path):
    with pytest.raises(MeetCredentialsError, match="unreadable"):
        load_credentials(tmp_path)


def test_valid_token_loads_without_network(tmp_path):
    creds = load_credentials(write(tmp_path / "token.json", token_info()))
    assert creds.valid and creds.refresh_token == "1//refresh"
    assert creds.scopes == list(SCOPES)


def test_scopes_as_a_string_are_accepted(tmp_path):
    creds = load_credentials(write(tmp_path / "token.json", token_info(scopes=" ".join(SCOPES))))
    assert creds.scopes == list(SCOPES)


async def test_fresh_uses_a_valid_token_as_is(tmp_path):
    store = UserCredentials(str(write(tmp_path / "token.json", token_info())))
    creds = await store.fresh()
    assert creds.token == "ya29.access"
    assert await store.fresh() is creds


async def test_expired_token_without_refresh_token(tmp_path):
    path = write(tmp_path / "token.json", token_info(refresh_token=None, expiry="2020-01-01T00:00:00Z"))
    with pytest.raises(MeetCredentialsError, match=r"expired.*meet-login"):
        await UserCredentials(str(path)).fresh()


def test_save_is_private_and_loadable(tmp_path):
    creds = Credentials(
        token="t",
        refresh_token="r",
        token_uri="https://oauth2.googleapis.com/token",
        client_id="c",
        client_secret="s",
        scopes=list(SCOPES),
    )
    path = tmp_path / "sub" / "token.json"
    save_credentials(creds, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_credentials(path).refresh_token == "r"
    assert [p.name for p in path.parent.iterdir()] == ["token.json"]  # no temporary left behind


def test_login_needs_the_client_secrets_file(tmp_path):
    with pytest.raises(MeetError, match=r"not found.*Desktop app.*MEET_CREDS_FILE"):
        meet_credentials.login(str(tmp_path / "creds.json"), str(tmp_path / "token.json"))


def test_login_rejects_a_bad_client_secrets_file(tmp_path):
    creds_file = write(tmp_path / "creds.json", {"something": "else"})
    with pytest.raises(MeetError, match="not usable"):
        meet_credentials.login(str(creds_file), str(tmp_path / "token.json"))


def installed_client(tmp_path):
    return write(
        tmp_path / "creds.json",
        {
            "installed": {
                "client_id": "123.apps.googleusercontent.com",
                "client_secret": "secret",
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": "https://oauth2.googleapis.com/token",
                "redirect_uris": ["http://localhost"],
            }
        },
    )


def google_consents(monkeypatch, seen=None):
    """Google's consent round trip (which needs a browser and Google) answers with a token."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    seen = {} if seen is None else seen

    def fake_run_local_server(self, **kwargs):  # the browser round trip, which needs Google
        seen.update(kwargs, scopes=self.oauth2session.scope)
        return Credentials(
            token="t",
            refresh_token="r",
            token_uri="https://oauth2.googleapis.com/token",
            client_id="123.apps.googleusercontent.com",
            client_secret="secret",
            scopes=list(SCOPES),
        )

    monkeypatch.setattr(InstalledAppFlow, "run_local_server", fake_run_local_server)
    return seen


def test_login_stores_the_token_the_flow_returns(tmp_path, monkeypatch):
    seen = google_consents(monkeypatch)
    token_file = tmp_path / "token.json"
    meet_credentials.login(str(installed_client(tmp_path)), str(token_file), port=8765, open_browser=False)
    assert seen["port"] == 8765 and seen["open_browser"] is False
    assert seen["access_type"] == "offline" and seen["prompt"] == "consent"
    assert list(seen["scopes"]) == list(SCOPES)
    assert load_credentials(token_file).refresh_token == "r"


def test_meet_login_command_reports_a_missing_client_file(tmp_path, capsys):
    from datemaker.cli import meet_login
    from datemaker.config import Settings

    settings = Settings(meet_creds_file=str(tmp_path / "creds.json"), meet_token_file=str(tmp_path / "token.json"))
    code = meet_login.run(argparse.Namespace(port=0, no_browser=True, add=False, token_file=None), settings)
    out, err = capsys.readouterr()
    assert code == 2
    assert "7 days" in out
    assert "creds.json not found" in err
    assert not (tmp_path / "token.json").exists()


def test_meet_login_is_a_subcommand():
    from datemaker.__main__ import build_parser

    args = build_parser().parse_args(["meet-login", "--port", "9000", "--no-browser"])
    assert args.port == 9000 and args.no_browser
    assert args.run.__module__ == "datemaker.cli.meet_login"


def test_meet_login_add_stores_one_more_account_and_says_what_to_set(tmp_path, monkeypatch, capsys):
    from datemaker.cli import meet_login
    from datemaker.config import Settings

    google_consents(monkeypatch)
    first, second = tmp_path / "token.json", tmp_path / "token-2.json"
    second.write_text("{}")  # taken by someone else's file: the next number is used
    settings = Settings(
        meet_creds_file=str(installed_client(tmp_path)), meet_token_file=str(first), meet_token_files=None
    )
    code = meet_login.run(argparse.Namespace(port=0, no_browser=True, add=True, token_file=None), settings)
    out, _ = capsys.readouterr()
    third = tmp_path / "token-3.json"
    assert code == 0 and load_credentials(third).refresh_token == "r"
    assert f"MEET_TOKEN_FILES={first},{third}" in out and "same account twice" in out
    assert not first.exists()


def test_next_token_file_skips_the_files_in_use():
    from datemaker.cli.meet_login import next_token_file

    assert next_token_file(["/etc/chathub/token.json"]) == "/etc/chathub/token-2.json"
    assert next_token_file(["/a/token.json", "/a/token-2.json"]) == "/a/token-3.json"
    assert next_token_file(["/a/google"]) == "/a/google-2.json"
