"""Prometheus metrics of the bot (``chathub_`` prefix, base units, no user ids in labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
GUARDED = Counter(
    "chathub_bot_updates_guarded_total",
    "Updates the bot did not serve: from a group (one line pointing to a private chat), or a user going too fast",
    ["reason"],
)
EXPIRED = Counter(
    "chathub_bot_messages_expired_total",
    "Messages from datemaker dropped because they arrived past their expires_at (a link after its round)",
    ["command"],
)
HELD = Gauge(
    "chathub_bot_messages_held",
    "Messages from datemaker held while Telegram is unreachable (sent, expired or deferred once it answers)",
)
PAID_BROADCASTS = Counter(
    "chathub_telegram_paid_broadcasts_total",
    "Messages sent with allow_paid_broadcast beyond the free 30 a second (Telegram charges 0.1 Stars each)",
)
WEBAPP_REQUESTS = Counter(
    "chathub_webapp_requests_total",
    "Requests to the Mini App: page loads and API calls, by route template (never an id), method and HTTP status",
    ["route", "method", "status"],
)
WEBAPP_DURATION = Histogram(
    "chathub_webapp_request_duration_seconds",
    "How long the Mini App's API took to answer, by route template",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
