"""Errors the domain and the services raise; ``service.errors`` maps each to an HTTP problem."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: something the caller asked for cannot be done."""


class NotFoundError(DomainError):
    """The thing asked for does not exist (or is not the caller's to see)."""


class ConflictError(DomainError):
    """The request clashes with what is already stored."""
