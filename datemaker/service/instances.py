"""How running datemaker instances share the events: each event (and the space pool) belongs to one living
instance, chosen by rendezvous hashing, so N instances run about 1/N of the events each and an instance
that stops (or dies: it stops saying it is alive) hands its events over within seconds. The instance that
runs an event still takes its lease, and every step still checks its progress under the event's row lock:
two instances that disagree for a moment wait for each other, they never repeat a step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Protocol

POOL_KEY = 0
"""The space pool's key among the events' (no event has id 0)."""


def owner(key: int, instances: Collection[str]) -> str | None:
    """The instance that runs ``key`` (an event id): the one with the highest hash of (instance, key)."""
    if not instances:
        return None
    return max(instances, key=lambda instance: (_weight(instance, key), instance))


def _weight(instance: str, key: int) -> int:
    digest = hashlib.blake2b(f"{instance}/{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class Instances(Protocol):
    """Who is running: this instance says it is alive, and learns who else is."""

    instance_id: str

    async def alive(self) -> list[str]:
        """Say this instance is alive; the instances alive now (this one included)."""
        ...

    async def leave(self) -> None:
        """This instance stops: the others take its events at once."""
        ...
