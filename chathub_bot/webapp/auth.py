"""Telegram's init data, checked: the signature with the bot token (the WebAppData HMAC-SHA256 rule), its
age, and a user of ours. Pure: the time is an argument."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aiogram.utils.web_app import safe_parse_webapp_init_data

from contracts.envelope import INT64_MAX

MAX_AGE = timedelta(hours=24)
"""Init data older than this is refused (Telegram signs it when the Mini App opens)."""
MAX_SKEW = timedelta(minutes=5)
"""Init data from the future (a clock ahead of ours) is accepted this far."""
MAX_LENGTH = 4096
"""Real init data is a few hundred bytes; anything this long is not Telegram's."""
SCHEME = "tma"


class Unauthorized(Exception):
    """The request does not carry valid init data: it is answered 401 (the reason is logged, not shown)."""


@dataclass(frozen=True)
class WebAppUser:
    """The user the Mini App was opened by, as Telegram signed it."""

    id: int
    first_name: str
    username: str | None = None
    language_code: str | None = None


def from_header(authorization: str | None) -> str:
    """The init data of an ``Authorization: tma <initData>`` header."""
    if not authorization:
        raise Unauthorized("no Authorization header")
    scheme, _, init_data = authorization.strip().partition(" ")
    if scheme.lower() != SCHEME or not init_data.strip():
        raise Unauthorized("the Authorization header is not `tma <initData>`")
    return init_data.strip()


def check_init_data(init_data: str, token: str, now: datetime, max_age: timedelta = MAX_AGE) -> WebAppUser:
    """The user of ``init_data`` once its signature (made with ``token``) and its age hold, else
    :class:`Unauthorized`."""
    if len(init_data) > MAX_LENGTH:
        raise Unauthorized("init data too long")
    try:
        parsed = safe_parse_webapp_init_data(token, init_data)
    except ValueError as exc:  # aiogram's "Invalid init data signature", or pydantic's ValidationError
        raise Unauthorized(f"init data refused: {type(exc).__name__}") from None
    except Exception as exc:  # a signed but unreadable document: still not ours to trust
        raise Unauthorized(f"init data unreadable: {type(exc).__name__}") from None
    auth_date = parsed.auth_date
    if auth_date.tzinfo is None:
        raise Unauthorized("auth_date without a time zone")
    if now - auth_date > max_age:
        raise Unauthorized("init data expired")
    if auth_date - now > MAX_SKEW:
        raise Unauthorized("init data from the future")
    user = parsed.user
    if user is None or not 0 < user.id <= INT64_MAX or user.is_bot:
        raise Unauthorized("init data without a user")
    return WebAppUser(user.id, user.first_name, user.username, user.language_code)
