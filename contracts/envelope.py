"""The message envelope of docs/protocol.md section 3 and its parsing, shared by both services.

A transport adapter turns an AMQP delivery into an :class:`Incoming`; :func:`parse` validates it against a
registry of message classes (``contracts.commands.COMMANDS`` or ``contracts.notifications.NOTIFICATIONS``)
and returns a :class:`Received`, or raises :class:`~contracts.errors.ContractError` with the code the reply
must carry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError

from contracts.errors import ContractError, ErrorCode

CONTENT_TYPE = "application/json"
REPLY_SUFFIX = ".result"
MAX_BODY_BYTES = 64 * 1024
"""Bodies above this size are refused with ``payload_too_large`` without being parsed."""

INT64_MAX = 2**63 - 1
_LEGACY_BODY = re.compile(r'"?([a-z][a-z_]{0,63})"?')
_DECIMAL = re.compile(r"[+-]?\d{1,19}")
_ENVELOPE_HEADERS = ("user_id", "chat_id", "message_id")


def _header_int(value: Any) -> Any:
    """Accept an integer or a decimal string (the seed's bot sent strings); leave the rest to fail."""
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        text = value.strip()
        if not _DECIMAL.fullmatch(text):
            raise ValueError("expected an integer")
        return int(text)
    return value


HeaderId = Annotated[int, BeforeValidator(_header_int), Field(gt=0, le=INT64_MAX)]
"""A positive 64-bit id (a Telegram user, an event, a Telegram message)."""
HeaderChat = Annotated[int, BeforeValidator(_header_int), Field(ge=-INT64_MAX, le=INT64_MAX)]
"""A Telegram chat id (groups' are negative), 64-bit."""


class Headers(BaseModel):
    """The envelope headers: who the message is about, where to answer, what to edit."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    user_id: HeaderId | None = None
    chat_id: HeaderChat | None = None
    message_id: HeaderId | None = None
    event_id: HeaderId | None = None

    def to_amqp(self) -> dict[str, int]:
        """Headers as sent on the wire (integers; absent values left out)."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


@dataclass(frozen=True)
class Incoming:
    """A received message, independent of the transport library."""

    body: bytes
    message_id: str | None = None
    type: str | None = None
    correlation_id: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)
    redelivered: bool = False
    delivery_count: int = 0


class ErrorInfo(BaseModel):
    """The ``error`` part of a failed reply."""

    code: str
    message: str


class Reply(BaseModel):
    """A reply body: ``{"ok": true, "data": {...}}`` or ``{"ok": false, "error": {...}}``."""

    ok: bool
    data: dict[str, Any] | None = None
    error: ErrorInfo | None = None
    _body: bytes | None = PrivateAttr(default=None)

    @classmethod
    def success(cls, data: BaseModel | Mapping[str, Any]) -> Reply:
        payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else dict(data)
        return cls(ok=True, data=payload)

    @classmethod
    def failure(cls, code: ErrorCode | str, message: str) -> Reply:
        return cls(ok=False, error=ErrorInfo(code=str(code), message=message))

    def to_body(self) -> bytes:
        """The reply as sent (serialized once: a reply may be stored and sent)."""
        if self._body is None:
            self._body = self.model_dump_json(exclude_none=True).encode()
        return self._body


def reply_type(command_type: str | None) -> str:
    """The ``type`` property of the reply to a command of ``command_type``."""
    return f"{command_type or 'unknown'}{REPLY_SUFFIX}"


ArgsT = TypeVar("ArgsT", bound=BaseModel)


@dataclass(frozen=True)
class Received(Generic[ArgsT]):
    """A validated message: its name, envelope headers and typed body (an instance of its class)."""

    name: str
    headers: Headers
    args: ArgsT
    message_id: str

    @property
    def user_id(self) -> int:
        assert self.headers.user_id is not None
        return self.headers.user_id


def _legacy_value(value: Any) -> Any:
    """Header values of the legacy form are strings: turn numbers and booleans back into themselves."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        text = value.strip()
        if _DECIMAL.fullmatch(text):
            return int(text)
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
    return value


def describe_validation_error(exc: ValidationError) -> str:
    """One human sentence listing what is wrong with each field."""
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg'].lower()}")
    return "; ".join(parts[:10])


def decode_body(incoming: Incoming) -> tuple[str | None, dict[str, Any]]:
    """Split the body into (legacy command name or None, JSON arguments)."""
    if len(incoming.body) > MAX_BODY_BYTES:
        raise ContractError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"the body is {len(incoming.body)} bytes; at most {MAX_BODY_BYTES} are accepted",
        )
    try:
        text = incoming.body.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ContractError(ErrorCode.BAD_REQUEST, "the body is not UTF-8 text") from None
    if not text:
        return None, {}
    legacy = _LEGACY_BODY.fullmatch(text)
    if legacy:
        args = {k: _legacy_value(v) for k, v in incoming.headers.items() if k not in _ENVELOPE_HEADERS}
        return legacy.group(1), args
    try:
        decoded = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ContractError(ErrorCode.BAD_REQUEST, f"the body is not valid JSON ({exc})") from None
    except ValueError:  # an integer of more digits than Python converts (4,300)
        raise ContractError(ErrorCode.BAD_REQUEST, "the body holds a number far too long to be an id") from None
    if not isinstance(decoded, dict):
        raise ContractError(ErrorCode.BAD_REQUEST, "the body must be a JSON object")
    return None, decoded


def command_name(incoming: Incoming, legacy_name: str | None) -> str:
    """The command's name from the ``type`` property, or from a legacy body."""
    if legacy_name and incoming.type and incoming.type != legacy_name:
        raise ContractError(
            ErrorCode.BAD_REQUEST,
            f"the body names command {legacy_name!r} but the type property says {incoming.type!r}",
        )
    name = incoming.type or legacy_name
    if not name:
        raise ContractError(ErrorCode.BAD_REQUEST, "the message has no type property naming the command")
    return name


def parse(
    incoming: Incoming,
    registry: Mapping[str, type[ArgsT]],
    *,
    require_user: bool = True,
) -> Received[ArgsT]:
    """Validate ``incoming`` against ``registry`` (message name → its class).

    Raises :class:`ContractError` with the code the reply must carry.
    """
    legacy_name, args = decode_body(incoming)
    name = command_name(incoming, legacy_name)
    model = registry.get(name)
    if model is None:
        raise ContractError(ErrorCode.UNKNOWN_COMMAND, f"unknown command {name[:64]!r}")
    try:
        headers = Headers.model_validate(dict(incoming.headers))
    except ValidationError as exc:
        raise ContractError(ErrorCode.BAD_REQUEST, f"bad headers: {describe_validation_error(exc)}") from None
    if require_user and headers.user_id is None:
        raise ContractError(ErrorCode.BAD_REQUEST, "the user_id header is required")
    if headers.chat_id is None and headers.user_id is not None:
        headers = headers.model_copy(update={"chat_id": headers.user_id})
    if headers.event_id is not None and "event_id" in model.model_fields:
        args.setdefault("event_id", headers.event_id)
    try:
        parsed = model.model_validate(args)
    except ValidationError as exc:
        raise ContractError(ErrorCode.BAD_REQUEST, describe_validation_error(exc)) from None
    return Received(name=name, headers=headers, args=parsed, message_id=incoming.message_id or "")
