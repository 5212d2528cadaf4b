"""Stable error codes of the wire contract (docs/protocol.md section 3)."""

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
    RATING_CLOSED = "rating_closed"
    OFFER_NOT_FOUND = "offer_not_found"
    OFFER_EXPIRED = "offer_expired"
    OFFER_ALREADY_ACCEPTED = "offer_already_accepted"
    NOT_ELIGIBLE = "not_eligible"
    NOT_AN_ORGANIZER = "not_an_organizer"
    BANNED = "banned"
    INTERNAL_ERROR = "internal_error"


class ContractError(Exception):
    """A message breaks the contract; it is answered with an error reply carrying ``code``."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
