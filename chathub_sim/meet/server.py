"""An in-memory Google Meet API server (``google.apps.meet.v2``) for tests and the demo.

It serves ``SpacesService`` (CreateSpace, GetSpace, UpdateSpace, EndActiveConference) and
``ConferenceRecordsService`` (GetConferenceRecord, ListConferenceRecords, ListParticipants) over
gRPC on loopback, with the ``google-apps-meet`` message types, so that the real client library talks
to it exactly as it talks to Google. Like Google it knows who calls: by the bearer token of the call's
``authorization`` metadata (an account; none: ``anonymous``). Its ``spaces.create`` quota holds per account
and per project (Google's: 10 and 100 a minute), answered with RESOURCE_EXHAUSTED and a RetryInfo that
says exactly when the window frees; a space's calls and records are only the creating account's.
Tests drive it in-process (``join``/``leave``, failure switches,
``stats()``); a separate process drives it through the HTTP control API (``control.py``).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import secrets
import string
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.apps.meet_v2.types import resource, service
from google.protobuf import duration_pb2, empty_pb2, field_mask_pb2
from google.rpc import error_details_pb2, status_pb2

logger = logging.getLogger(__name__)

SPACES_SERVICE = "google.apps.meet.v2.SpacesService"
RECORDS_SERVICE = "google.apps.meet.v2.ConferenceRecordsService"
MEETING_URI_PREFIX = "https://meet.google.com/"
RECORD_RETENTION = timedelta(days=30)
"""Conference records expire this long after the conference ends, as Google's do."""

PARTICIPANT_KINDS = ("anonymous", "signedin", "phone")

_AccessType = resource.SpaceConfig.AccessType


class RpcFailure(Exception):
    """Raised inside a handler: the call ends with this gRPC status (and a RetryInfo when given)."""

    def __init__(self, code: grpc.StatusCode, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


class UnknownMeeting(LookupError):
    """No space has that name, meeting code or link."""


@dataclass
class _Session:
    start: datetime
    end: datetime | None = None


@dataclass
class _Participant:
    name: str
    kind: str
    display_name: str
    user: str | None
    sessions: list[_Session] = field(default_factory=list)

    @property
    def in_call(self) -> bool:
        return any(s.end is None for s in self.sessions)

    def to_message(self) -> resource.Participant:
        msg = resource.Participant(name=self.name, earliest_start_time=min(s.start for s in self.sessions))
        if not self.in_call:
            msg.latest_end_time = max(s.end for s in self.sessions if s.end is not None)
        if self.kind == "signedin":
            msg.signedin_user = resource.SignedinUser(user=self.user or "", display_name=self.display_name)
        elif self.kind == "phone":
            msg.phone_user = resource.PhoneUser(display_name=self.display_name)
        else:
            msg.anonymous_user = resource.AnonymousUser(display_name=self.display_name)
        return msg


@dataclass
class _Conference:
    name: str
    space: str
    start: datetime
    end: datetime | None = None
    participants: dict[tuple[str, str], _Participant] = field(default_factory=dict)

    def to_message(self) -> resource.ConferenceRecord:
        msg = resource.ConferenceRecord(name=self.name, space=self.space, start_time=self.start)
        if self.end is not None:
            msg.end_time = self.end
            msg.expire_time = self.end + RECORD_RETENTION
        return msg


def _resource_id(length: int = 12) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _meeting_code() -> str:
    letters = string.ascii_lowercase
    return "-".join("".join(secrets.choice(letters) for _ in range(n)) for n in (3, 4, 3))


_FILTER_TERM = re.compile(
    r"""^\s*(?:
        (?P<field>space\.name|space\.meeting_code)\s*=\s*"(?P<value>[^"]*)"
      | (?P<null_field>end_time|latest_end_time)\s+IS\s+NULL
    )\s*$""",
    re.VERBOSE | re.IGNORECASE,
)


def parse_filter(text: str, allowed: Sequence[str]) -> list[tuple[str, str | None]]:
    """The terms of a list filter joined with AND: ``(field, value)``, value None for ``IS NULL``.

    Only the forms the adapter and tests use are understood: ``space.name = "spaces/x"``,
    ``space.meeting_code = "abc-mnop-xyz"``, ``end_time IS NULL`` / ``latest_end_time IS NULL``.
    Anything else raises ``ValueError`` (the server answers INVALID_ARGUMENT).
    """
    terms: list[tuple[str, str | None]] = []
    if not text.strip():
        return terms
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE):
        match = _FILTER_TERM.match(part)
        if match is None:
            raise ValueError(f"unsupported filter term: {part!r}")
        if match.group("field"):
            term: tuple[str, str | None] = (match.group("field").lower(), match.group("value"))
        else:
            term = (match.group("null_field").lower(), None)
        if term[0] not in allowed:
            raise ValueError(f"field {term[0]!r} cannot be filtered here")
        terms.append(term)
    return terms


def _page(items: list[Any], page_size: int, page_token: str, default: int, maximum: int) -> tuple[list[Any], str]:
    size = default if page_size <= 0 else min(page_size, maximum)
    try:
        offset = int(page_token) if page_token else 0
    except ValueError:
        raise RpcFailure(grpc.StatusCode.INVALID_ARGUMENT, "invalid page token") from None
    if offset < 0:
        raise RpcFailure(grpc.StatusCode.INVALID_ARGUMENT, "invalid page token")
    chunk = items[offset : offset + size]
    next_token = str(offset + size) if offset + size < len(items) else ""
    return chunk, next_token


class MeetEmulator:
    """The emulated Meet API: state in memory, served over an insecure gRPC port on loopback.

    In-process use::

        emulator = MeetEmulator()
        port = await emulator.start()          # port 0 = any free port; endpoint "127.0.0.1:<port>"
        emulator.fail_next(2, "RESOURCE_EXHAUSTED")
        emulator.join("abc-mnop-xyz", "Alice")
        emulator.stats()
        await emulator.stop()

    ``clock`` gives wall-clock times for the records (UTC); ``monotonic`` measures the creation quota.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        creation_quota: int | None = None,
        quota_window_seconds: float = 60.0,
        project_quota: int | None = None,
        default_access_type: str = "TRUSTED",
        honour_create_config: bool = True,
        end_conference_when_empty: bool = True,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self._clock = clock or (lambda: datetime.now(UTC))
        self._monotonic = monotonic
        self._server: grpc.aio.Server | None = None
        self.port: int | None = None
        self.default_access_type = default_access_type
        self.honour_create_config = honour_create_config
        """False imitates a server that ignores ``space.config`` on CreateSpace (the client must update)."""
        self.end_conference_when_empty = end_conference_when_empty
        self.creation_quota = creation_quota
        """Successful CreateSpace calls one account may make per window (None: no limit)."""
        self.project_quota = project_quota
        """... and all accounts together."""
        self.quota_window_seconds = quota_window_seconds
        self.reset()

    # ----------------------------------------------------------------- lifecycle

    @property
    def endpoint(self) -> str:
        """``host:port`` for ``MEET_API_ENDPOINT``."""
        if self.port is None:
            raise RuntimeError("the emulator is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def start(self, port: int = 0) -> int:
        """Serve on ``host:port`` (0 = any free port); the bound port."""
        server = grpc.aio.server()
        server.add_generic_rpc_handlers(self._handlers())
        host = f"[{self.host}]" if ":" in self.host else self.host
        bound = server.add_insecure_port(f"{host}:{port}")
        if bound == 0:
            raise OSError(f"cannot bind the Meet emulator to {host}:{port}")
        await server.start()
        self._server, self.port = server, bound
        logger.info("Meet emulator serving on %s", self.endpoint)
        return bound

    async def stop(self, grace: float | None = 0.5) -> None:
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None

    async def __aenter__(self) -> MeetEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ----------------------------------------------------------------- switches and state

    def reset(self) -> None:
        """Forget every space, conference, counter, pending failure and delay (settings such as the quota stay)."""
        self.spaces: dict[str, resource.Space] = {}
        self.conferences: dict[str, _Conference] = {}
        self.calls: Counter[str] = Counter()
        self.update_masks: list[list[str] | None] = []
        """Every UpdateSpace's mask paths in order; None for a call without a mask."""
        self.spaces_created = 0
        self.conferences_ended = 0
        self.quota_rejections = 0
        self.injected_failures = 0
        self._failures: dict[str, deque[tuple[grpc.StatusCode, float | None]]] = {}
        self._delays: dict[str, deque[float]] = {}
        self._creations: dict[str, deque[float]] = {}
        """Account → times of its successful CreateSpace calls within the window."""
        self._project: deque[float] = deque()
        self.owners: dict[str, str] = {}
        """Space name → the account that made it."""
        self.created_by: Counter[str] = Counter()

    def fail_next(
        self,
        count: int,
        code: str = "RESOURCE_EXHAUSTED",
        method: str = "CreateSpace",
        retry_after: float | None = None,
    ) -> None:
        """The next ``count`` calls of ``method`` fail with the gRPC status ``code`` (a StatusCode name)."""
        status = grpc.StatusCode[code.upper()]
        if status is grpc.StatusCode.OK:
            raise ValueError("OK is not a failure")
        queue = self._failures.setdefault(method, deque())
        queue.extend([(status, retry_after)] * count)

    def delay_next(self, count: int, seconds: float, method: str = "CreateSpace") -> None:
        """The next ``count`` calls of ``method`` answer only after ``seconds`` (a slow or hanging server)."""
        self._delays.setdefault(method, deque()).extend([seconds] * count)

    def clear_failures(self) -> None:
        """Drop every pending injected failure and delay."""
        self._failures.clear()
        self._delays.clear()

    def set_creation_quota(
        self, limit: int | None, window_seconds: float = 60.0, project_limit: int | None = None
    ) -> None:
        """At most ``limit`` successful CreateSpace calls per account, and ``project_limit`` for all accounts,
        per sliding window; None switches a quota off."""
        self.creation_quota = limit
        self.project_quota = project_limit
        self.quota_window_seconds = window_seconds

    def find_space(self, meeting: str) -> resource.Space:
        """The space named by its resource name, meeting code or meeting link."""
        key = meeting.strip()
        if key.startswith(MEETING_URI_PREFIX):
            key = key[len(MEETING_URI_PREFIX) :].split("?", 1)[0].strip("/")
        if key in self.spaces:
            return self.spaces[key]
        code = key.removeprefix("spaces/")
        for space in self.spaces.values():
            if space.meeting_code == code:
                return space
        raise UnknownMeeting(f"no space for {meeting!r}")

    def join(self, meeting: str, display_name: str, *, kind: str = "anonymous", user: str | None = None) -> str:
        """Someone joins the space's call (starting a conference if none is active); their participant name."""
        if kind not in PARTICIPANT_KINDS:
            raise ValueError(f"kind must be one of {PARTICIPANT_KINDS}")
        space = self.find_space(meeting)
        now = self._clock()
        record = space.active_conference.conference_record
        conference = self.conferences.get(record) if record else None
        if conference is None or conference.end is not None:
            conference = _Conference(name=f"conferenceRecords/{_resource_id()}", space=space.name, start=now)
            self.conferences[conference.name] = conference
            space.active_conference = resource.ActiveConference(conference_record=conference.name)
        key = self._participant_key(kind, display_name, user)
        participant = conference.participants.get(key)
        if participant is None:
            participant = _Participant(
                name=f"{conference.name}/participants/{_resource_id(10)}",
                kind=kind,
                display_name=display_name,
                user=(user or f"users/{_resource_id(10)}") if kind == "signedin" else None,
            )
            conference.participants[key] = participant
        if not participant.in_call:
            participant.sessions.append(_Session(start=now))
        return participant.name

    def leave(self, meeting: str, display_name: str, *, kind: str = "anonymous", user: str | None = None) -> bool:
        """Someone leaves the space's active call; False when they were not in it."""
        space = self.find_space(meeting)
        record = space.active_conference.conference_record
        conference = self.conferences.get(record) if record else None
        if conference is None:
            return False
        participant = conference.participants.get(self._participant_key(kind, display_name, user))
        if participant is None or not participant.in_call:
            return False
        now = self._clock()
        for session in participant.sessions:
            if session.end is None:
                session.end = now
        if self.end_conference_when_empty and not any(p.in_call for p in conference.participants.values()):
            self._end_conference(space, conference, now)
        return True

    def stats(self) -> dict[str, Any]:
        """Counters for tests and the demo's summary (JSON-serialisable)."""
        return {
            "spaces_created": self.spaces_created,
            "conferences_ended": self.conferences_ended,
            "active_conferences": sum(1 for s in self.spaces.values() if s.active_conference.conference_record),
            "conference_records": len(self.conferences),
            "quota_rejections": self.quota_rejections,
            "spaces_created_by": dict(self.created_by),
            "injected_failures": self.injected_failures,
            "calls": dict(self.calls),
            "update_masks": [list(m) if m is not None else None for m in self.update_masks],
        }

    def describe_spaces(self) -> list[dict[str, Any]]:
        """Every space with its access type and active conference (JSON-serialisable)."""
        return [
            {
                "name": s.name,
                "meeting_code": s.meeting_code,
                "meeting_uri": s.meeting_uri,
                "access_type": _AccessType(s.config.access_type).name,
                "active_conference": s.active_conference.conference_record or None,
            }
            for s in self.spaces.values()
        ]

    # ----------------------------------------------------------------- helpers

    @staticmethod
    def _participant_key(kind: str, display_name: str, user: str | None) -> tuple[str, str]:
        if kind == "signedin" and user:
            return ("signedin", user)
        return (kind, display_name)

    def _end_conference(self, space: resource.Space, conference: _Conference, now: datetime) -> None:
        conference.end = now
        for participant in conference.participants.values():
            for session in participant.sessions:
                if session.end is None:
                    session.end = now
        space.active_conference = resource.ActiveConference()

    def _space(self, name: str) -> resource.Space:
        if not name.startswith("spaces/"):
            raise RpcFailure(grpc.StatusCode.INVALID_ARGUMENT, f"invalid space name {name!r}")
        try:
            return self.find_space(name)
        except UnknownMeeting:
            raise RpcFailure(grpc.StatusCode.NOT_FOUND, f"space {name} not found") from None

    def _check_creation_quota(self, account: str) -> None:
        now = self._monotonic()
        mine = self._creations.setdefault(account, deque())
        for window in (mine, self._project):
            while window and window[0] <= now - self.quota_window_seconds:
                window.popleft()
        for window, limit, scope in (
            (mine, self.creation_quota, "per minute per user"),
            (self._project, self.project_quota, "per minute per project"),
        ):
            if limit is not None and len(window) >= limit:
                self.quota_rejections += 1
                retry_after = window[0] + self.quota_window_seconds - now if window else self.quota_window_seconds
                raise RpcFailure(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"Quota exceeded for quota metric 'Create space requests' {scope}.",
                    retry_after=max(retry_after, 0.0),
                )
        mine.append(now)
        self._project.append(now)

    def _own(self, space: resource.Space) -> resource.Space:
        """The space, if the caller's account made it (PERMISSION_DENIED otherwise, as Google answers an app
        about a space it did not create)."""
        owner = self.owners.get(space.name)
        if owner is not None and owner != _caller.get():
            raise RpcFailure(grpc.StatusCode.PERMISSION_DENIED, "The caller does not have permission.")
        return space

    # ----------------------------------------------------------------- SpacesService

    async def _create_space(self, request: service.CreateSpaceRequest) -> resource.Space:
        account = _caller.get()
        self._check_creation_quota(account)
        space_id = _resource_id()
        code = _meeting_code()
        config = resource.SpaceConfig(
            access_type=_AccessType[self.default_access_type],
            entry_point_access=resource.SpaceConfig.EntryPointAccess.ALL,
        )
        if self.honour_create_config and "config" in request.space:
            resource.SpaceConfig.pb(config).MergeFrom(resource.SpaceConfig.pb(request.space.config))
        space = resource.Space(
            name=f"spaces/{space_id}", meeting_code=code, meeting_uri=MEETING_URI_PREFIX + code, config=config
        )
        self.spaces[space.name] = space
        self.owners[space.name] = account
        self.spaces_created += 1
        self.created_by[account] += 1
        return resource.Space(space)

    async def _get_space(self, request: service.GetSpaceRequest) -> resource.Space:
        return resource.Space(self._space(request.name))

    async def _update_space(self, request: service.UpdateSpaceRequest) -> resource.Space:
        paths = list(request.update_mask.paths) if "update_mask" in request else []
        self.update_masks.append(paths or None)
        space = self._space(request.space.name)
        stored = resource.Space.pb(space)
        given = resource.Space.pb(request.space)
        paths = [p for p in paths if p]
        if not paths:  # no mask: every field given with a value is updated
            stored.config.MergeFrom(given.config)
        elif paths == ["*"]:  # everything, clearing what the request leaves unset
            stored.config.CopyFrom(given.config)
        else:
            for path in paths:
                if path != "config" and not path.startswith("config."):
                    raise RpcFailure(grpc.StatusCode.INVALID_ARGUMENT, f"field {path!r} cannot be updated")
            mask = field_mask_pb2.FieldMask(paths=paths)
            if not mask.IsValidForDescriptor(stored.DESCRIPTOR):
                raise RpcFailure(grpc.StatusCode.INVALID_ARGUMENT, f"invalid update mask {paths}")
            mask.MergeMessage(given, stored, replace_message_field=True, replace_repeated_field=True)
        return resource.Space(space)

    async def _end_active_conference(self, request: service.EndActiveConferenceRequest) -> Any:
        space = self._own(self._space(request.name))
        record = space.active_conference.conference_record
        conference = self.conferences.get(record) if record else None
        if conference is None or conference.end is not None:
            raise RpcFailure(grpc.StatusCode.FAILED_PRECONDITION, "No active conference in this space.")
        self._end_conference(space, conference, self._clock())
        self.conferences_ended += 1
        return None

    # ----------------------------------------------------------------- ConferenceRecordsService

    def _conference(self, name: str) -> _Conference:
        conference = self.conferences.get(name)
        if conference is None:
            raise RpcFailure(grpc.StatusCode.NOT_FOUND, f"conference record {name} not found")
        return conference

    async def _get_conference_record(self, request: service.GetConferenceRecordRequest) -> resource.ConferenceRecord:
        return self._conference(request.name).to_message()

    async def _list_conference_records(
        self, request: service.ListConferenceRecordsRequest
    ) -> service.ListConferenceRecordsResponse:
        try:
            terms = parse_filter(request.filter, ("space.name", "space.meeting_code", "end_time"))
        except ValueError as exc:
            raise RpcFailure(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        records = list(self.conferences.values())
        for name, value in terms:
            if name == "space.name":
                records = [c for c in records if c.space == value]
            elif name == "space.meeting_code":
                records = [c for c in records if self.spaces[c.space].meeting_code == value]
            else:
                records = [c for c in records if c.end is None]
        caller = _caller.get()  # an app sees the records of the spaces it made, no others
        records = [c for c in records if self.owners.get(c.space, caller) == caller]
        records.sort(key=lambda c: c.start, reverse=True)
        chunk, token = _page(records, request.page_size, request.page_token, default=25, maximum=100)
        return service.ListConferenceRecordsResponse(
            conference_records=[c.to_message() for c in chunk], next_page_token=token
        )

    async def _list_participants(self, request: service.ListParticipantsRequest) -> service.ListParticipantsResponse:
        conference = self._conference(request.parent)
        try:
            terms = parse_filter(request.filter, ("latest_end_time",))
        except ValueError as exc:
            raise RpcFailure(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        participants = list(conference.participants.values())
        if terms:
            participants = [p for p in participants if p.in_call]
        chunk, token = _page(participants, request.page_size, request.page_token, default=100, maximum=250)
        return service.ListParticipantsResponse(
            participants=[p.to_message() for p in chunk], next_page_token=token, total_size=len(participants)
        )

    # ----------------------------------------------------------------- gRPC plumbing

    def _handlers(self) -> list[grpc.GenericRpcHandler]:
        def empty_serializer(_: Any) -> bytes:
            return empty_pb2.Empty().SerializeToString()

        spaces = {
            "CreateSpace": (self._create_space, service.CreateSpaceRequest, resource.Space.serialize),
            "GetSpace": (self._get_space, service.GetSpaceRequest, resource.Space.serialize),
            "UpdateSpace": (self._update_space, service.UpdateSpaceRequest, resource.Space.serialize),
            "EndActiveConference": (self._end_active_conference, service.EndActiveConferenceRequest, empty_serializer),
        }
        records = {
            "GetConferenceRecord": (
                self._get_conference_record,
                service.GetConferenceRecordRequest,
                resource.ConferenceRecord.serialize,
            ),
            "ListConferenceRecords": (
                self._list_conference_records,
                service.ListConferenceRecordsRequest,
                service.ListConferenceRecordsResponse.serialize,
            ),
            "ListParticipants": (
                self._list_participants,
                service.ListParticipantsRequest,
                service.ListParticipantsResponse.serialize,
            ),
        }

        def build(table: dict[str, tuple[Any, Any, Any]]) -> dict[str, grpc.RpcMethodHandler]:
            return {
                method: grpc.unary_unary_rpc_method_handler(
                    self._wrap(method, behaviour),
                    request_deserializer=request_type.deserialize,
                    response_serializer=serializer,
                )
                for method, (behaviour, request_type, serializer) in table.items()
            }

        return [
            grpc.method_handlers_generic_handler(SPACES_SERVICE, build(spaces)),
            grpc.method_handlers_generic_handler(RECORDS_SERVICE, build(records)),
        ]

    def _wrap(
        self, method: str, behaviour: Callable[[Any], Awaitable[Any]]
    ) -> Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]:
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
            self.calls[method] += 1
            _caller.set(_account_of(context))
            delays = self._delays.get(method)
            if delays:
                await asyncio.sleep(delays.popleft())
            try:
                pending = self._failures.get(method)
                if pending:
                    code, retry_after = pending.popleft()
                    self.injected_failures += 1
                    raise RpcFailure(code, f"injected failure: {code.name}", retry_after)
                return await behaviour(request)
            except RpcFailure as failure:
                logger.debug("Meet emulator: %s -> %s %s", method, failure.code.name, failure.message)
                await context.abort(failure.code, failure.message, trailing_metadata=_status_details(failure))

        return handle


_caller: contextvars.ContextVar[str] = contextvars.ContextVar("meet_caller", default="anonymous")
"""The account of the call being handled."""


def _account_of(context: grpc.aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
            return value.removeprefix("Bearer ").strip() or "anonymous"
    return "anonymous"


def _status_details(failure: RpcFailure) -> tuple[tuple[str, bytes], ...]:
    """``grpc-status-details-bin``: the google.rpc.Status with ErrorInfo / RetryInfo, as Google sends."""
    status = status_pb2.Status(code=failure.code.value[0], message=failure.message)
    if failure.code is grpc.StatusCode.RESOURCE_EXHAUSTED:
        status.details.add().Pack(error_details_pb2.ErrorInfo(reason="RATE_LIMIT_EXCEEDED", domain="googleapis.com"))
    if failure.retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromTimedelta(timedelta(seconds=failure.retry_after))
        status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    return (("grpc-status-details-bin", status.SerializeToString()),)
