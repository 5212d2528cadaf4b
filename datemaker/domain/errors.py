"""Domain errors: a rule was broken; the caller answers with the error's stable code."""

from contracts.errors import ErrorCode


class DomainError(Exception):
    """A command cannot be carried out; ``code`` is the reply's ``error.code``."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ConcurrentUpdate(Exception):
    """What a decision was based on changed before it was written; the command is run again."""
