"""Reading what datemaker sent to participants, for lifecycle tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sent:
    user_id: int
    type: str
    body: dict[str, Any]
    message_id: str
    received_at: float


def notifications(bot: Any, event_id: int | None = None) -> list[Sent]:
    """Commands datemaker sent to the bot (not replies), in arrival order."""
    sent = []
    for message in bot.notifications:
        body = json.loads(message.body)
        if event_id is not None and body.get("event_id") != event_id:
            continue
        sent.append(Sent(message.headers["user_id"], message.type, body, message.message_id, message.timestamp or 0))
    return sent


def by_user(sent: list[Sent]) -> dict[int, list[Sent]]:
    result: dict[int, list[Sent]] = {}
    for item in sent:
        result.setdefault(item.user_id, []).append(item)
    return result


def types_of(items: list[Sent]) -> list[str]:
    return [i.type for i in items]
