"""The ``Meet`` port across several Google accounts of one Cloud project.

Google allows 10 ``spaces.create`` a minute per account and 100 per project. Each account's client paces its
own creations; a project-wide limiter holds the sum under the project's quota. A creation goes through the
account whose quota frees first; when Google answers RESOURCE_EXHAUSTED, that account waits exactly as long
as the server says and the next one is tried, so a busy account never holds up the others. A space's calls
and records are reached through the account that made it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from datemaker.adapters.meet.client import GoogleMeet
from datemaker.adapters.meet.pacing import RateLimiter
from datemaker.service.ports import Attendance, MeetError, MeetSpace, QuotaExhausted

logger = logging.getLogger(__name__)


class MeetAccounts:
    """One ``GoogleMeet`` client per account; see the module docstring."""

    def __init__(self, accounts: Sequence[GoogleMeet], project_per_minute: float = 100.0) -> None:
        if not accounts:
            raise ValueError("at least one Google account is needed")
        self.accounts = list(accounts)
        self._by_name = {client.account: client for client in self.accounts}
        self.project = RateLimiter(project_per_minute / 60.0)

    @property
    def names(self) -> list[str]:
        return list(self._by_name)

    @property
    def per_minute(self) -> float:
        """Spaces the quotas allow a minute, all accounts together."""
        accounts = sum(60.0 / client.limiter.interval for client in self.accounts)
        return min(accounts, 60.0 / self.project.interval)

    async def create_space(self) -> MeetSpace:
        attempts = 0
        while True:
            await self.project.acquire()
            client = min(self.accounts, key=lambda a: a.limiter.next_free_in())
            try:
                return await client.create_space(wait_for_quota=False)
            except QuotaExhausted as exc:
                attempts += 1
                if attempts >= client.options.max_attempts * len(self.accounts):
                    raise MeetError(f"Meet quota used up on every account: {exc}") from exc
                logger.info("%s; trying the account whose quota frees first", exc)

    def _account(self, name: str) -> GoogleMeet:
        if not name:  # a space made before accounts were recorded: by the first (then only) account
            return self.accounts[0]
        client = self._by_name.get(name)
        if client is None:
            raise MeetError(f"no Google account {name!r} among MEET_TOKEN_FILES ({', '.join(self._by_name)})")
        return client

    async def end_active_conference(self, space_name: str, account: str = "") -> None:
        await self._account(account).end_active_conference(space_name)

    async def attendance(
        self, space_name: str, account: str = "", since: datetime | None = None, until: datetime | None = None
    ) -> list[Attendance]:
        return await self._account(account).attendance(space_name, since=since, until=until)

    async def check(self) -> None:
        """Fail fast when a stored token is missing or unusable."""
        for client in self.accounts:
            await client.check()

    async def close(self) -> None:
        for client in self.accounts:
            await client.close()
