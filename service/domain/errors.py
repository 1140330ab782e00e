"""Errors the domain and the services raise; ``service.errors`` maps each to an HTTP problem."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: something the caller asked for cannot be done."""


class NotFoundError(DomainError):
    """The thing asked for does not exist (or is not the caller's to see)."""


class ConflictError(DomainError):
    """The request clashes with what is already stored."""


class InvalidInputError(DomainError):
    """Input that is well-formed but not acceptable; ``errors`` names each field."""

    def __init__(self, errors: dict[str, list[str]], detail: str | None = None):
        self.errors = errors
        super().__init__(detail or f"Not acceptable: {', '.join(sorted(errors))}.")


class WithdrawnError(DomainError):
    """The participant has withdrawn; nothing new is accepted from or for them."""


class ConsentRequiredError(DomainError):
    """No consent in force: the participant has not signed the consent form."""


class ReconsentRequiredError(DomainError):
    """A newer consent form is in force and the participant has not signed it yet."""


class RateLimitedError(DomainError):
    """Too many of these requests in the window; ``retry_after`` is seconds until one is allowed."""

    def __init__(self, detail: str, retry_after: int):
        self.retry_after = retry_after
        super().__init__(detail)


class ContactNotPermittedError(DomainError):
    """The participant's consent in force does not allow contacting them."""


class ClauseNotInForceError(DomainError):
    """The consent in force does not include the clause a step needs; ``errors`` names it."""

    def __init__(self, clause: str, detail: str):
        self.clause = clause
        self.errors = {f"consent.{clause}": [detail]}
        super().__init__(detail)


class TooLargeError(DomainError):
    """A streamed body went over its route's own limit."""


class IntegrityCheckError(DomainError):
    """A stored file failed its integrity check: a chunk is altered, missing or misplaced."""
