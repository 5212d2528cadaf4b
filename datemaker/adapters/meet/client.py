"""The Google Meet adapter: the ``Meet`` port over the ``google-apps-meet`` async gRPC clients.

- ``create_space`` asks for an OPEN space (anyone with the link joins without knocking) and, should the
  server not apply the config at creation, sets it with ``UpdateSpace`` and an explicit
  ``update_mask=config.access_type`` (never without a mask: that would reset the fields not sent).
  Creations are paced by a rate limiter (Meet allows about 10 ``spaces.create`` per minute per user).
- RESOURCE_EXHAUSTED (429), UNAVAILABLE and DEADLINE_EXCEEDED are retried with exponential back-off
  (honouring the server's RetryInfo) a bounded number of times; every call has its own timeout; any
  other failure, or the last retry's, is a ``MeetError``.
- ``end_active_conference`` treats "no active conference" (FAILED_PRECONDITION) and an unknown space
  (NOT_FOUND) as done.
- ``attendance`` lists the space's conference records and their participants.

Against a loopback endpoint (the emulator) the clients share one insecure gRPC channel and send no
credentials; otherwise they reach Google with the user's OAuth token (``credentials.UserCredentials``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import grpc
from google.api_core import exceptions as api_exceptions
from google.api_core.client_options import ClientOptions
from google.apps import meet_v2
from google.apps.meet_v2.services.conference_records_service.transports import (
    ConferenceRecordsServiceGrpcAsyncIOTransport,
)
from google.apps.meet_v2.services.spaces_service.transports import SpacesServiceGrpcAsyncIOTransport
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2

from datemaker.adapters.meet.credentials import LOGIN_HINT, UserCredentials
from datemaker.adapters.meet.endpoint import MeetEndpoint, parse_endpoint
from datemaker.adapters.meet.pacing import RateLimiter, backoff_delay

if TYPE_CHECKING:
    from datemaker.adapters.meet.accounts import MeetAccounts
from datemaker.service.ports import Attendance, MeetError, MeetSpace, QuotaExhausted

logger = logging.getLogger(__name__)

T = TypeVar("T")

OPEN = meet_v2.SpaceConfig.AccessType.OPEN
ACCESS_TYPE_MASK = "config.access_type"
RETRYABLE: tuple[type[Exception], ...] = (
    api_exceptions.ResourceExhausted,
    api_exceptions.ServiceUnavailable,
    api_exceptions.DeadlineExceeded,
    auth_exceptions.TransportError,
)
_SPACE_NAME = re.compile(r"^spaces/[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class MeetOptions:
    """Tuning of the adapter; the defaults suit Google's quotas."""

    creations_per_minute: float = 10.0
    """CreateSpace calls let through per minute on average (Google allows about 10 per minute per user)."""
    creation_burst: int = 1
    """CreateSpace calls let through back to back before pacing applies."""
    max_attempts: int = 5
    """Attempts of one call, the first included, on RESOURCE_EXHAUSTED / UNAVAILABLE / DEADLINE_EXCEEDED."""
    backoff_initial_seconds: float = 2.0
    backoff_max_seconds: float = 60.0
    call_timeout_seconds: float = 30.0
    """Deadline of each single RPC (the library's default for CreateSpace is 60 s, with no retry)."""


def _retry_hint(exc: Exception) -> float | None:
    """Seconds from the error's google.rpc.RetryInfo, when the server sent one."""
    for detail in getattr(exc, "details", None) or ():
        if isinstance(detail, error_details_pb2.RetryInfo) and detail.HasField("retry_delay"):
            return detail.retry_delay.ToTimedelta().total_seconds()
    return None


def _describe(exc: Exception) -> str:
    """A one-line account of an API error (its details, printed by ``str``, span many lines)."""
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        code = exc.grpc_status_code.name if exc.grpc_status_code is not None else exc.code
        return f"{code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def _utc(value: datetime) -> datetime:
    """A plain timezone-aware datetime from the library's DatetimeWithNanoseconds."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond, tzinfo=UTC
    )


def participant_identity(participant: meet_v2.Participant) -> tuple[tuple[str, str], str]:
    """``(key, display name)`` of a participant: the same person across a space's conferences has one key.

    Signed-in users are keyed by their user id; anonymous and phone users only have a display name.
    """
    if "signedin_user" in participant:
        user = participant.signedin_user
        return ("signedin", user.user or user.display_name), user.display_name or user.user
    if "phone_user" in participant:
        return ("phone", participant.phone_user.display_name), participant.phone_user.display_name
    return ("anonymous", participant.anonymous_user.display_name), participant.anonymous_user.display_name


def merge_attendance(space_name: str, participants: Iterable[meet_v2.Participant]) -> list[Attendance]:
    """One ``Attendance`` per person: earliest join and latest leave over all the space's conferences.

    ``left_at`` is None while the person is still in a call. Sorted by joining time.
    """
    merged: dict[tuple[str, str], tuple[str, datetime, datetime | None, bool]] = {}
    for participant in participants:
        started = participant.earliest_start_time
        if started is None:
            continue
        key, name = participant_identity(participant)
        joined = _utc(started)
        ended = participant.latest_end_time
        left = _utc(ended) if ended is not None else None
        if key in merged:
            _, first, last, present = merged[key]
            joined = min(joined, first)
            present = present or left is None
            left = max((t for t in (left, last) if t is not None), default=None)
        else:
            present = left is None
        merged[key] = (name, joined, left, present)
    rows = [
        Attendance(space_name=space_name, display_name=name, joined_at=joined, left_at=None if present else left)
        for name, joined, left, present in merged.values()
    ]
    rows.sort(key=lambda a: (a.joined_at, a.display_name))
    return rows


class GoogleMeet:
    """The ``Meet`` port on the Google Meet REST API (gRPC transport); see the module docstring.

    Clients are created on first use, inside the running event loop. Call ``close()`` when done.
    """

    def __init__(
        self,
        endpoint: MeetEndpoint,
        credentials: UserCredentials | None,
        options: MeetOptions | None = None,
        *,
        account: str = "default",
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if credentials is None and not endpoint.loopback:
            raise ValueError("credentials are required for a non-loopback Meet endpoint")
        self.endpoint = endpoint
        self.account = account
        self.options = options or MeetOptions()
        self._credentials = None if endpoint.loopback else credentials
        # The emulator has no OAuth: it tells accounts (and their quotas) apart by the bearer token sent.
        bearer = _emulator_token(credentials, account)
        self._metadata = (("authorization", f"Bearer {bearer}"),) if endpoint.loopback else ()
        self.limiter = limiter or RateLimiter(
            self.options.creations_per_minute / 60.0, burst=self.options.creation_burst
        )
        self._sleep = sleep
        self._spaces: meet_v2.SpacesServiceAsyncClient | None = None
        self._records: meet_v2.ConferenceRecordsServiceAsyncClient | None = None
        self._channels: list[grpc.aio.Channel] = []
        self._connect_lock = asyncio.Lock()

    # ------------------------------------------------------------------ the port

    async def create_space(self, *, wait_for_quota: bool = True) -> MeetSpace:
        """A new space with OPEN access (see the module docstring for pacing and retries). With
        ``wait_for_quota`` false, a RESOURCE_EXHAUSTED is not retried: it holds this account back for the
        server's delay and raises ``QuotaExhausted`` (another account may create meanwhile)."""
        spaces, _ = await self._clients()
        timeout = self.options.call_timeout_seconds
        metadata = self._metadata
        request = meet_v2.CreateSpaceRequest(space=meet_v2.Space(config=meet_v2.SpaceConfig(access_type=OPEN)))
        space = await self._call(
            "CreateSpace",
            lambda: spaces.create_space(request=request, retry=None, timeout=timeout, metadata=metadata),
            paced=True,
            wait_for_quota=wait_for_quota,
        )
        if space.config.access_type != OPEN:
            update = meet_v2.UpdateSpaceRequest(
                space=meet_v2.Space(name=space.name, config=meet_v2.SpaceConfig(access_type=OPEN)),
                update_mask=field_mask_pb2.FieldMask(paths=[ACCESS_TYPE_MASK]),
            )
            space = await self._call(
                "UpdateSpace",
                lambda: spaces.update_space(request=update, retry=None, timeout=timeout, metadata=metadata),
            )
            if space.config.access_type != OPEN:
                raise MeetError(f"the Meet API left {space.name} with access {space.config.access_type.name}, not OPEN")
        logger.debug("created Meet space %s (%s) with account %s", space.name, space.meeting_uri, self.account)
        return MeetSpace(
            name=space.name, meeting_uri=space.meeting_uri, meeting_code=space.meeting_code, account=self.account
        )

    async def end_active_conference(self, space_name: str, account: str = "") -> None:
        """End the space's call; no call running (or no such space) is not an error."""
        self._check_space_name(space_name)
        spaces, _ = await self._clients()
        timeout = self.options.call_timeout_seconds

        async def end() -> bool:
            try:
                await spaces.end_active_conference(
                    name=space_name, retry=None, timeout=timeout, metadata=self._metadata
                )
            except api_exceptions.FailedPrecondition:
                logger.debug("no active conference in %s", space_name)
                return False
            except api_exceptions.NotFound as exc:
                logger.warning("ending the call of %s: no such space (%s)", space_name, exc.message)
                return False
            return True

        if await self._call("EndActiveConference", end):
            logger.info("ended the active conference of %s", space_name)

    async def attendance(
        self, space_name: str, account: str = "", since: datetime | None = None, until: datetime | None = None
    ) -> list[Attendance]:
        """Everyone who joined a conference in the space (one that began between ``since`` and ``until``, when
        given), earliest join and latest leave per person."""
        self._check_space_name(space_name)
        _, records = await self._clients()
        timeout = self.options.call_timeout_seconds
        metadata = self._metadata

        async def fetch() -> list[meet_v2.Participant]:
            found: list[meet_v2.Participant] = []
            listing = meet_v2.ListConferenceRecordsRequest(filter=f'space.name = "{space_name}"', page_size=100)
            conferences = await records.list_conference_records(
                request=listing, retry=None, timeout=timeout, metadata=metadata
            )
            async for conference in conferences:
                began = _utc(conference.start_time)
                if (since is not None and began < since) or (until is not None and began >= until):
                    continue  # another date's call in the same space
                request = meet_v2.ListParticipantsRequest(parent=conference.name, page_size=250)
                participants = await records.list_participants(
                    request=request, retry=None, timeout=timeout, metadata=metadata
                )
                found.extend([participant async for participant in participants])
            return found

        return merge_attendance(space_name, await self._call("attendance", fetch))

    # ------------------------------------------------------------------ additions

    async def check(self) -> None:
        """Fail fast: ``MeetError`` when the stored token is missing or unusable (nothing to check on loopback)."""
        if self._credentials is not None:
            await self._call("token check", _nothing)

    async def close(self) -> None:
        """Close the gRPC channels."""
        channels, self._channels = self._channels, []
        self._spaces = self._records = None
        for channel in channels:
            await channel.close()

    async def __aenter__(self) -> GoogleMeet:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ plumbing

    @staticmethod
    def _check_space_name(space_name: str) -> None:
        if not _SPACE_NAME.match(space_name):
            raise MeetError(f"invalid Meet space name {space_name!r} (expected spaces/<id>)")

    async def _call_credentials(self) -> None:
        if self._credentials is not None:
            await self._credentials.fresh()

    async def _clients(
        self,
    ) -> tuple[meet_v2.SpacesServiceAsyncClient, meet_v2.ConferenceRecordsServiceAsyncClient]:
        async with self._connect_lock:
            if self._spaces is None or self._records is None:
                if self.endpoint.loopback:
                    channel = grpc.aio.insecure_channel(self.endpoint.grpc_target)
                    self._channels = [channel]
                    anonymous = AnonymousCredentials()
                    self._spaces = meet_v2.SpacesServiceAsyncClient(
                        transport=SpacesServiceGrpcAsyncIOTransport(channel=channel, credentials=anonymous)
                    )
                    self._records = meet_v2.ConferenceRecordsServiceAsyncClient(
                        transport=ConferenceRecordsServiceGrpcAsyncIOTransport(channel=channel, credentials=anonymous)
                    )
                    logger.info("Meet API: emulator at %s (insecure channel)", self.endpoint.address)
                else:
                    assert self._credentials is not None
                    user = await self._credentials.load()  # refreshed by _call, within its retries
                    options = ClientOptions(api_endpoint=self.endpoint.address)
                    spaces = meet_v2.SpacesServiceAsyncClient(credentials=user, client_options=options)
                    records = meet_v2.ConferenceRecordsServiceAsyncClient(credentials=user, client_options=options)
                    self._channels = [spaces.transport.grpc_channel, records.transport.grpc_channel]
                    self._spaces, self._records = spaces, records
                    logger.info("Meet API: %s with the user's OAuth token", self.endpoint.address)
            return self._spaces, self._records

    async def _call(
        self,
        what: str,
        operation: Callable[[], Awaitable[T]],
        *,
        paced: bool = False,
        wait_for_quota: bool = True,
    ) -> T:
        """Run ``operation`` with pacing, bounded retries and errors turned into ``MeetError``."""
        opts = self.options
        attempt = 0
        while True:
            attempt += 1
            if paced:
                waited = await self.limiter.acquire()
                if waited > 0:
                    logger.debug("%s paced: waited %.2f s", what, waited)
            try:
                await self._call_credentials()
                return await operation()
            except RETRYABLE as exc:
                hint = _retry_hint(exc)
                if paced and not wait_for_quota and isinstance(exc, api_exceptions.ResourceExhausted):
                    delay = (
                        hint
                        if hint is not None
                        else backoff_delay(attempt, opts.backoff_initial_seconds, opts.backoff_max_seconds)
                    )
                    self.limiter.defer(delay)  # this account waits exactly as long as the server says
                    raise QuotaExhausted(
                        f"Meet quota of account {self.account} used up for {delay:.1f} s ({_describe(exc)})",
                        retry_after=delay,
                    ) from exc
                if attempt >= opts.max_attempts:
                    raise MeetError(f"Meet {what} failed after {attempt} attempts: {_describe(exc)}") from exc
                delay = backoff_delay(attempt, opts.backoff_initial_seconds, opts.backoff_max_seconds, server_hint=hint)
                logger.warning("Meet %s failed (%s); retry %d in %.2f s", what, _describe(exc), attempt, delay)
                if paced and isinstance(exc, api_exceptions.ResourceExhausted):
                    self.limiter.defer(delay)  # every creation waits, not only this one
                else:
                    await self._sleep(delay)
            except api_exceptions.Unauthenticated as exc:
                raise MeetError(f"the Meet API rejected the Google token ({exc.message}): {LOGIN_HINT}") from exc
            except api_exceptions.PermissionDenied as exc:
                raise MeetError(
                    f"the Meet API denied {what} ({exc.message}); check that the Meet REST API is enabled in the "
                    f"OAuth client's project and that the token has the needed scope: {LOGIN_HINT}"
                ) from exc
            except api_exceptions.GoogleAPICallError as exc:
                raise MeetError(f"Meet {what} failed: {_describe(exc)}") from exc


async def _nothing() -> None:
    return None


def _emulator_token(credentials: UserCredentials | None, account: str) -> str:
    """What identifies the account to the emulator: the stored token's access token when there is one."""
    if credentials is not None:
        try:
            token = json.loads(Path(credentials.token_file).read_text(encoding="utf-8")).get("token")
        except (OSError, ValueError, AttributeError):
            token = None
        if isinstance(token, str) and token:
            return token
    return account


def account_name(token_file: str) -> str:
    """How a Google account is called in the pool: its token file's name without the extension."""
    return Path(token_file).stem or token_file


def create_meet(
    endpoint: str | None,
    token_files: str | Sequence[str],
    creds_file: str,
    creations_per_minute: float = 10.0,
    *,
    project_creations_per_minute: float = 100.0,
    options: MeetOptions | None = None,
) -> MeetAccounts:
    """The Meet adapter for ``MEET_API_ENDPOINT`` / ``MEET_TOKEN_FILES`` / ``MEET_CREDS_FILE``: one client per
    stored token (Google account), all in one Cloud project.

    ``endpoint`` None or empty means Google; a loopback ``host:port`` means the emulator (no OAuth: each
    account is told apart by its token file's access token, or its name). Nothing is read or connected here:
    a missing or unusable token shows as a ``MeetError`` on the first call (or on ``check()``).
    ``creations_per_minute`` (per account) and ``project_creations_per_minute`` are Google's quotas.
    ``creds_file`` (the OAuth client) is needed only by ``meet-login``; it is named in error messages.
    Raises ``ValueError`` for a malformed endpoint or no token file.
    """
    where = parse_endpoint(endpoint)
    files = [token_files] if isinstance(token_files, str) else list(token_files)
    if not files:
        raise ValueError("at least one Meet token file is needed")
    opts = replace(options or MeetOptions(), creations_per_minute=creations_per_minute)
    clients = [
        GoogleMeet(where, UserCredentials(file), opts, account=account_name(file)) for file in dict.fromkeys(files)
    ]
    logger.debug("Meet adapter for %s (%d account(s), OAuth client %s)", where.address, len(clients), creds_file)
    from datemaker.adapters.meet.accounts import MeetAccounts

    return MeetAccounts(clients, project_creations_per_minute)
