"""Prometheus metrics of the bot (``chathub_`` prefix, base units, no user ids in labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

TELEGRAM_SENDS = Counter(
    "chathub_telegram_sends_total",
    "Calls to the Telegram Bot API, by method and outcome (ok, retry_after, forbidden, bad_request, network_error)",
    ["method", "outcome"],
)
TELEGRAM_RETRY_AFTER = Counter(
    "chathub_telegram_retry_after_total", "HTTP 429 (Too Many Requests) answers received from Telegram"
)
OUTBOX_DEPTH = Gauge("chathub_bot_outbox_messages", "Telegram sends waiting in the bot's outbox (not yet in flight)")
OUTBOX_IN_FLIGHT = Gauge("chathub_bot_outbox_in_flight", "Telegram sends of the outbox currently in flight")
UNDELIVERABLE = Counter(
    "chathub_telegram_undeliverable_total",
    "Messages the bot could not deliver and gave up on (user blocked the bot, chat gone, ...)",
    ["reason"],
)
BOT_COMMANDS_RECEIVED = Counter(
    "chathub_bot_commands_total",
    "Commands from datemaker handled by the bot, by command and outcome",
    ["command", "outcome"],
)
BOT_DEAD_LETTERED = Counter(
    "chathub_bot_messages_dead_lettered_total", "Messages the bot sent to its dead-letter queue", ["reason"]
)
DATEMAKER_REPLIES = Counter(
    "chathub_bot_replies_total",
    "Replies from datemaker received by the bot (ok, late, duplicate, invalid)",
    ["outcome"],
)
DATEMAKER_CALLS = Counter(
    "chathub_bot_datemaker_calls_total",
    "Commands the bot sent to datemaker, by command and outcome (ok, error, timeout, unpublished)",
    ["command", "outcome"],
)
