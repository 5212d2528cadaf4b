"""What Telegram does when it opens a Mini App: it signs the init data with the bot's token (the WebAppData
HMAC-SHA256 rule) and opens the page with the launch parameters in the URL fragment."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

LIGHT_THEME: dict[str, str] = {
    "bg_color": "#ffffff",
    "text_color": "#000000",
    "hint_color": "#707579",
    "link_color": "#3390ec",
    "button_color": "#3390ec",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#f4f4f5",
    "header_bg_color": "#ffffff",
    "accent_text_color": "#3390ec",
    "section_bg_color": "#ffffff",
    "section_header_text_color": "#3390ec",
    "subtitle_text_color": "#707579",
    "destructive_text_color": "#e53935",
}
"""``themeParams`` as Telegram's clients send them (its light theme)."""


def sign_init_data(token: str, fields: Mapping[str, str]) -> str:
    """``fields`` as a query string with the ``hash`` Telegram adds: HMAC-SHA256 of the sorted ``key=value``
    lines, keyed with HMAC-SHA256("WebAppData", token)."""
    check = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    signature = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": signature}, quote_via=quote)


def init_data(
    token: str, user: Mapping[str, Any], *, auth_date: float | None = None, start_param: str | None = None
) -> str:
    """Signed init data for ``user`` (a Telegram ``User`` object), opened at ``auth_date`` (now by default)."""
    fields = {
        "query_id": "AAH" + hashlib.sha256(f"{user['id']}:{time.time_ns()}".encode()).hexdigest()[:24],
        "user": json.dumps(dict(user), separators=(",", ":"), ensure_ascii=False),
        "auth_date": str(int(time.time() if auth_date is None else auth_date)),
    }
    if start_param:
        fields["start_param"] = start_param
    return sign_init_data(token, fields)


def launch_url(url: str, data: str, *, theme: Mapping[str, str] | None = None, platform: str = "android") -> str:
    """``url`` as Telegram opens it: the launch parameters in its fragment (``#tgWebAppData=...&...``)."""
    fragment = urlencode(
        {
            "tgWebAppData": data,
            "tgWebAppVersion": "8.0",
            "tgWebAppPlatform": platform,
            "tgWebAppThemeParams": json.dumps(dict(theme or LIGHT_THEME), separators=(",", ":")),
        },
        quote_via=quote,
    )
    return f"{url.split('#', 1)[0]}#{fragment}"
