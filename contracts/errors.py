"""Stable error codes of the wire contract (PROTOCOL.md section 3)."""

from enum import StrEnum


class ErrorCode(StrEnum):
    """A reply's ``error.code``: a stable snake_case word clients may switch on."""

    BAD_REQUEST = "bad_request"
    UNKNOWN_COMMAND = "unknown_command"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    PROFILE_REQUIRED = "profile_required"
    EVENT_NOT_FOUND = "event_not_found"
    REGISTRATION_CLOSED = "registration_closed"
    EVENT_FULL = "event_full"
    NOT_REGISTERED = "not_registered"
    CONFIRMATION_NOT_OPEN = "confirmation_not_open"
    CONFIRMATION_CLOSED = "confirmation_closed"
    NOT_YOUR_PARTNER = "not_your_partner"
    INTERNAL_ERROR = "internal_error"


class ContractError(Exception):
    """A message breaks the contract; it is answered with an error reply carrying ``code``."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
