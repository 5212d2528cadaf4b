"""What the demo runs: how many people, and the event's timeline compressed into seconds.

Time is compressed only through the event's own columns (``round_seconds``, ``break_seconds``,
``rules_lead_seconds``, ``confirm_open_seconds``, ``confirm_deadline_seconds``); the clock is never faked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

REAL_ROUND_SECONDS = 300
"""A round at a real event (the seed's five minutes)."""


@dataclass(frozen=True)
class DemoOptions:
    """The demo's knobs. :meth:`default` is ``make demo``; :meth:`fast` is the small run the tests use."""

    participants: int = 40
    women: int = 17
    silent: int = 3
    """Participants who register but never answer the confirmation request."""
    rounds: int = 4
    """The event's ``max_rounds`` (the planner may plan fewer when the people allow fewer distinct dates)."""
    round_seconds: int = 8
    break_seconds: int = 6
    rules_lead_seconds: int = 4
    planning_gap_seconds: int = 3
    """From the confirmation deadline (planning, "you are in" messages, Meet spaces) to the rules."""
    registration_seconds: int | None = None
    """From the event's creation to the confirmation deadline; by default, enough for everyone to sign up."""
    think_seconds: tuple[float, float] = (0.4, 1.2)
    """How long a person takes to answer the bot (uniform between the two)."""
    arrival_seconds: float = 4.0
    """People start talking to the bot spread over this many seconds."""
    seed: int = 2024
    env: str = "demo"
    """``CHATHUB_ENV`` of the demo: its queue names (``datemaker_<env>``, ``tg_bot_<env>``)."""
    database: str = "chathub_demo"
    """Recreated at every run, so that runs are repeatable."""
    cleanup: bool = False
    """Drop the database and delete the queues at the end (tests); by default they are kept for inspection."""
    keep_running: bool = False
    """After the summary, keep the services running (for /metrics) until Ctrl-C."""
    log_dir: str | None = None
    report_json: str | None = None
    """Also write the summary and the checks as JSON to this file."""
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def time_scale(self) -> float:
        """How much faster than a real night the demo runs (a real round is 5 minutes). Meet's creation
        quotas are scaled by it, so the demo meets them as a real night would."""
        return REAL_ROUND_SECONDS / self.round_seconds

    @classmethod
    def default(cls) -> DemoOptions:
        return cls()

    @classmethod
    def fast(cls) -> DemoOptions:
        return cls(
            participants=8,
            women=4,
            silent=1,
            rounds=3,
            round_seconds=3,
            break_seconds=4,
            rules_lead_seconds=3,
            planning_gap_seconds=2,
            think_seconds=(0.05, 0.25),
            arrival_seconds=0.5,
        )

    def with_overrides(self, **changes: object) -> DemoOptions:
        """A copy with the given fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def men(self) -> int:
        return self.participants - self.women

    def problems(self) -> list[str]:
        """Why these options cannot make an event (empty when they can)."""
        found = []
        if self.participants < 2:
            found.append("--participants must be at least 2")
        if not 1 <= self.women < self.participants:
            found.append("--women must be at least 1 and leave at least one man")
        if not 0 <= self.silent <= self.participants - 2:
            found.append("--silent must leave at least two people who confirm")
        if self.rounds < 1:
            found.append("--rounds must be at least 1")
        if self.round_seconds < 1:
            found.append("--round-seconds must be at least 1")
        if self.planning_gap_seconds < 1:
            found.append("the planning gap must be at least 1 s")
        if self.break_seconds < 2:
            found.append("--break-seconds must be at least 2 (people rate their partner in the break)")
        if self.rules_lead_seconds < 1:
            found.append("--rules-lead-seconds must be at least 1")
        if self.registration_seconds is not None and self.registration_seconds < 5:
            found.append("--registration-seconds must be at least 5")
        low, high = self.think_seconds
        if not 0 <= low <= high:
            found.append("think time must be 0 <= low <= high")
        return found


@dataclass(frozen=True)
class EventTimeline:
    """The event's columns, and the moments they make, for an event created at ``created``."""

    created: datetime
    start: datetime
    round_seconds: int
    break_seconds: int
    rules_lead_seconds: int
    confirm_open_seconds: int
    confirm_deadline_seconds: int
    max_rounds: int
    users_limit: int

    @property
    def confirmations_open(self) -> datetime:
        return self.start - timedelta(seconds=self.confirm_open_seconds)

    @property
    def deadline(self) -> datetime:
        return self.start - timedelta(seconds=self.confirm_deadline_seconds)

    def round_start(self, round_no: int) -> datetime:
        """Start of round ``round_no`` (1-based, as people count)."""
        return self.start + timedelta(seconds=(round_no - 1) * (self.round_seconds + self.break_seconds))

    def round_end(self, round_no: int) -> datetime:
        return self.round_start(round_no) + timedelta(seconds=self.round_seconds)

    def finish(self, rounds: int | None = None) -> datetime:
        """When the last break (the time to rate the last partner) ends and the event finishes."""
        return self.round_end(rounds or self.max_rounds) + timedelta(seconds=self.break_seconds)

    def columns(self) -> dict[str, int]:
        """The ``dating_events`` columns besides ``start_dttm``."""
        return {
            "users_limit": self.users_limit,
            "round_seconds": self.round_seconds,
            "break_seconds": self.break_seconds,
            "rules_lead_seconds": self.rules_lead_seconds,
            "confirm_open_seconds": self.confirm_open_seconds,
            "confirm_deadline_seconds": self.confirm_deadline_seconds,
            "max_rounds": self.max_rounds,
        }


MESSAGES_TO_CONFIRM = 13
"""Bot messages a person reads from /start to "you are confirmed"."""


def registration_window(options: DemoOptions) -> int:
    """Seconds from the event's creation to the confirmation deadline.

    Each person answers about a dozen bot messages before confirming, each after thinking a little, and
    Telegram lets the bot send one message per second to a chat: the window covers that, the arrivals and
    the bot's 30 messages per second shared by everyone, with a margin.
    """
    if options.registration_seconds is not None:
        return options.registration_seconds
    low, high = options.think_seconds
    per_person = MESSAGES_TO_CONFIRM * max(1.0, (low + high) / 2 + 0.35)
    everyone = options.participants * MESSAGES_TO_CONFIRM / 30
    return math.ceil(1.2 * (options.arrival_seconds + max(per_person, everyone)) + 4 + options.participants * 0.1)


def event_timeline(options: DemoOptions, created: datetime) -> EventTimeline:
    """The compressed timeline: confirmations open 60% into the registration window (people who registered
    by then are asked together, later ones as they register), close at its end, then planning, rules and
    rounds."""
    window = registration_window(options)
    start_in = window + options.planning_gap_seconds + options.rules_lead_seconds
    opens_after = max(1, round(window * 0.6))
    return EventTimeline(
        created=created,
        start=created + timedelta(seconds=start_in),
        round_seconds=options.round_seconds,
        break_seconds=options.break_seconds,
        rules_lead_seconds=options.rules_lead_seconds,
        confirm_open_seconds=start_in - opens_after,
        confirm_deadline_seconds=start_in - window,
        max_rounds=options.rounds,
        users_limit=options.participants,
    )
