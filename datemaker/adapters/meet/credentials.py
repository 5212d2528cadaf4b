"""The Google user's OAuth credentials for the Meet API: stored token, refresh, and the one-time login.

Only user OAuth works for creating Meet spaces: an operator runs ``datemaker meet-login`` once
(the installed-app flow with the OAuth client in ``MEET_CREDS_FILE``); the authorized-user token it stores
in ``MEET_TOKEN_FILE`` is then refreshed automatically. Every failure to use it is a ``MeetError`` that
says what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials

from datemaker.service.ports import MeetError

logger = logging.getLogger(__name__)

SCOPES: tuple[str, ...] = ("https://www.googleapis.com/auth/meetings.space.created",)
"""``meetings.space.created`` covers creating spaces, updating and ending their calls, and reading the
conference records and participants of the spaces the app created; no broader (readonly) scope is needed."""

LOGIN_HINT = "run `datemaker meet-login` to authorize datemaker again"
TESTING_STATUS_WARNING = (
    "Note: if the Google Cloud OAuth app is left in 'Testing' publishing status, Google issues refresh "
    "tokens that expire after 7 days, and Meet calls then fail until meet-login is run again. "
    "Publish the app ('In production') for a token that lasts."
)


class MeetCredentialsError(MeetError):
    """The stored Google token is missing, unreadable, revoked or expired: someone must run meet-login."""


def load_credentials(token_file: str | os.PathLike[str]) -> Credentials:
    """The authorized-user credentials stored in ``token_file`` (no network call)."""
    path = Path(token_file)
    try:
        info: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MeetCredentialsError(f"Google Meet token file {path} not found: {LOGIN_HINT}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise MeetCredentialsError(f"Google Meet token file {path} is unreadable ({exc}): {LOGIN_HINT}") from exc
    if not isinstance(info, dict):
        raise MeetCredentialsError(f"Google Meet token file {path} is not an authorized-user token: {LOGIN_HINT}")
    granted = info.get("scopes")
    if isinstance(granted, str):
        granted = granted.split()
    if granted is not None and not set(SCOPES) <= set(granted):
        raise MeetCredentialsError(
            f"Google Meet token file {path} was granted {sorted(granted)}, not {list(SCOPES)}: {LOGIN_HINT}"
        )
    try:
        credentials = Credentials.from_authorized_user_info(info, scopes=list(granted or SCOPES))
    except ValueError as exc:
        raise MeetCredentialsError(f"Google Meet token file {path} is not usable ({exc}): {LOGIN_HINT}") from exc
    return credentials


def save_credentials(credentials: Credentials, token_file: str | os.PathLike[str]) -> None:
    """Write the token atomically, readable by the owner only."""
    path = Path(token_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(credentials.to_json())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


class UserCredentials:
    """The token in ``token_file``, loaded on first use and refreshed (in a thread) whenever it is not valid.

    The gRPC channel's auth plugin would refresh an expired token by itself too; refreshing here first
    turns a revoked or expired refresh token into a clear ``MeetCredentialsError`` instead of an opaque
    UNAVAILABLE from the plugin.
    """

    def __init__(self, token_file: str) -> None:
        self.token_file = token_file
        self._credentials: Credentials | None = None
        self._lock = asyncio.Lock()

    async def load(self) -> Credentials:
        """The stored credentials, as they are (no network call)."""
        async with self._lock:
            if self._credentials is None:
                self._credentials = await asyncio.to_thread(load_credentials, self.token_file)
            return self._credentials

    async def fresh(self) -> Credentials:
        """Valid credentials, refreshed if needed; ``MeetCredentialsError`` when that is impossible."""
        async with self._lock:
            if self._credentials is None:
                self._credentials = await asyncio.to_thread(load_credentials, self.token_file)
            if not self._credentials.valid:
                await asyncio.to_thread(self._refresh, self._credentials)
            return self._credentials

    def _refresh(self, credentials: Credentials) -> None:
        if not credentials.refresh_token:
            raise MeetCredentialsError(f"the Google token in {self.token_file} has expired: {LOGIN_HINT}")
        try:
            credentials.refresh(Request())
        except auth_exceptions.RefreshError as exc:
            raise MeetCredentialsError(
                f"Google refused to refresh the Meet token in {self.token_file} ({exc}); it was revoked or has "
                f"expired (an OAuth app in 'Testing' status gets refresh tokens that last 7 days): {LOGIN_HINT}"
            ) from exc
        logger.info("refreshed the Google Meet access token")
        try:
            save_credentials(credentials, self.token_file)
        except OSError as exc:  # the refreshed token still works in memory
            logger.warning("could not store the refreshed Meet token in %s: %s", self.token_file, exc)


def login(creds_file: str, token_file: str, *, port: int = 0, open_browser: bool = True) -> Credentials:
    """Run the installed-app OAuth flow once and store the user's token in ``token_file``.

    ``creds_file`` is the OAuth client ("Desktop app") JSON downloaded from the Google Cloud console.
    A local web server on ``port`` (0 = any free port) receives Google's redirect.
    """
    from google_auth_oauthlib.flow import InstalledAppFlow

    if not Path(creds_file).is_file():
        raise MeetError(
            f"OAuth client secrets file {creds_file} not found: create an OAuth client ID of type 'Desktop app' "
            "in the Google Cloud console (APIs & Services > Credentials) of a project with the Google Meet REST "
            "API enabled, download its JSON and set MEET_CREDS_FILE to its path"
        )
    try:
        flow = InstalledAppFlow.from_client_secrets_file(creds_file, scopes=list(SCOPES))
    except (OSError, ValueError) as exc:
        raise MeetError(f"OAuth client secrets file {creds_file} is not usable: {exc}") from exc
    credentials = flow.run_local_server(port=port, open_browser=open_browser, access_type="offline", prompt="consent")
    if not credentials.refresh_token:
        raise MeetError("Google returned no refresh token; revoke datemaker's access in your Google account and retry")
    save_credentials(credentials, token_file)
    return credentials
