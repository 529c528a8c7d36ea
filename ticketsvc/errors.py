"""The service's error family: what went wrong, in terms a caller can act on.

No web framework here: services raise these and know nothing of HTTP. The API layer
(``api/errors.py``) owns the table that maps each one to a status and a JSON body.
"""
from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of the errors a caller can act on; ``details`` travel with it to the caller
    (e.g. the running job's id with a ``Conflict``)."""

    def __init__(self, message: str, **details: Any):
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(ServiceError):
    """Input that parses but breaks a rule. ``field`` names the offending input (or
    ``fields`` maps several names to their messages); where it came from is the caller's
    business."""

    def __init__(self, message: str, field: str | None = None, *,
                 fields: dict[str, list[str]] | None = None, **details: Any):
        super().__init__(message, **details)
        self.fields = dict(fields or {})
        if field is not None:
            self.fields.setdefault(field, [message])


class Unauthorized(ServiceError):
    """No caller identity, or one that is not (or no longer) valid."""


class Forbidden(ServiceError):
    """A known caller asking for what it may not have."""


class NotFound(ServiceError):
    """No such thing, or none this caller may know about."""


class Conflict(ServiceError):
    """The request clashes with the current state (a running job, a last admin key)."""


class Unavailable(ServiceError):
    """A transient refusal; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float = 1, **details: Any):
        super().__init__(message, **details)
        self.retry_after = retry_after
