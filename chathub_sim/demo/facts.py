"""What happened during the demo, as plain data: what each person saw and did, and what the plan said.

Times are wall-clock seconds (``time.time()``). A message's ``seen_at`` is when the simulated person's
long poll of the Bot API emulator returned it: an upper bound on when the emulator accepted it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Invite:
    """A meeting link a person received."""

    round: int
    """1-based, as the message says."""
    url: str
    seen_at: float


@dataclass(frozen=True)
class Rating:
    """A Like / Dislike / Report button a person pressed after a date."""

    partner_id: int
    verdict: str
    recorded: bool
    """The bot answered without an error (datemaker stored it)."""
    at: float
    """When the bot's answer arrived."""


@dataclass
class PersonFacts:
    """One simulated participant: who they are, and everything they saw and did."""

    user_id: int
    name: str
    gender: str
    language: str
    confirms: bool
    """Whether this person means to confirm (some never answer the request)."""
    profile_saved: bool = False
    registered: bool = False
    asked_to_confirm: bool = False
    confirmed: bool = False
    taking_part: bool = False
    """Told "you are in"."""
    not_taking_part: bool = False
    """Told there is no place for them this time."""
    invites: list[Invite] = field(default_factory=list)
    sit_outs: list[int] = field(default_factory=list)
    joined_rounds: list[int] = field(default_factory=list)
    """Rounds in whose call the person joined (the Meet emulator accepted the join)."""
    ratings: list[Rating] = field(default_factory=list)
    final: bool = False
    matches: tuple[int, ...] | None = None
    """User ids in the matches message; None while no matches message arrived."""
    problems: list[str] = field(default_factory=list)
    """What went wrong for this person on the way (a bot answer that never came, a refused action)."""
    mini_app: bool = False
    """Registered (and confirmed) in the Mini App rather than with the chat's buttons."""
    app_dates: list[tuple[int, str | None]] = field(default_factory=list)
    """(round, link) of tonight's date as the Mini App showed it, read when each invitation came."""
    app_matches: tuple[int, ...] | None = None
    """User ids of the matches the Mini App listed, read when the matches message came."""

    @property
    def seated(self) -> bool:
        return self.taking_part or bool(self.invites)

    def liked(self, at_or_before: float | None = None) -> set[int]:
        """Partners this person liked (recorded), optionally only those recorded by ``at_or_before``."""
        return {
            r.partner_id
            for r in self.ratings
            if r.verdict == "like" and r.recorded and (at_or_before is None or r.at <= at_or_before)
        }


@dataclass(frozen=True)
class RecordedDate:
    """A date of the plan (from the database): two people, a round, and the Meet link made for it."""

    round: int
    """1-based."""
    people: tuple[int, int]
    url: str | None


@dataclass(frozen=True)
class EventFacts:
    """The event as datemaker recorded it."""

    event_id: int
    start: float
    round_seconds: int
    break_seconds: int
    rounds: int
    """Rounds planned."""
    state: str
    finished_at: float | None
    dates: tuple[RecordedDate, ...] = ()

    def round_start(self, round_no: int) -> float:
        return self.start + (round_no - 1) * (self.round_seconds + self.break_seconds)


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str
