"""Who joined a date's call. The Meet API knows people only by the name they show in the call, which
need not be their profile name, so the rule is deliberately generous."""

from __future__ import annotations

from collections.abc import Iterable


def _normalized(name: str) -> str:
    return " ".join(name.split()).casefold()


def joined_call(name: str, attendees: Iterable[str]) -> bool:
    """Whether the person called ``name`` joined a date's call whose attendees showed ``attendees``:
    one of them showed that name, or two different people were there (so both of the pair were)."""
    shown = {_normalized(a) for a in attendees if a.strip()}
    return _normalized(name) in shown or len(shown) >= 2
