"""The service's vocabulary: tenant ids, the classification labels, alert states, pages.

Plain values with no storage and no HTTP, so every layer (schemas, services, storage,
metrics) speaks the same words from one definition.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable

# Published in /openapi.json, where ``$`` has its strict (ECMA 262) meaning. Python's ``$``
# also matches before a trailing newline, so code checks with ``fullmatch`` (``is_tenant_id``).
TENANT_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_TENANT_RE = re.compile(TENANT_ID_PATTERN)


def is_tenant_id(value: Any) -> bool:
    """True when ``value`` is a well-formed tenant id (a string, whole-matched)."""
    return isinstance(value, str) and _TENANT_RE.fullmatch(value) is not None


def require_tenant_id(value: Any) -> str:
    """``value`` if it is a well-formed tenant id; raises ValueError otherwise."""
    if not is_tenant_id(value):
        raise ValueError(f"invalid tenant id {value!r}")
    return value


def tenant_pipeline(pipeline: list[dict], tenant_id: str) -> list[dict]:
    """``pipeline`` if its first stage is a ``$match`` naming ``tenant_id``; raises ValueError
    otherwise, so an aggregation over tenant data cannot forget the tenant."""
    first = pipeline[0].get("$match") if pipeline else None
    if not isinstance(first, dict) or first.get("tenant_id") != tenant_id:
        raise ValueError("a tenant pipeline must start with this tenant's $match")
    return pipeline


class _Vocabulary(str, Enum):
    """A closed set of string values; ``values()`` in the documented order."""

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)

    def __str__(self) -> str:
        return self.value


class Urgency(_Vocabulary):
    """How soon a ticket needs attention; the strongest signal wins."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Sentiment(_Vocabulary):
    """The customer's tone."""

    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class TicketStatus(_Vocabulary):
    """The upstream's ticket states (the documented set; stats zero-fill these)."""

    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


# A ticket in one of these states needs nothing more: everything else is the backlog.
DONE_STATUSES = (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)


class TicketSource(_Vocabulary):
    """The channels the upstream documents (stats zero-fill these)."""

    EMAIL = "email"
    CHAT = "chat"
    WEB = "web"
    PHONE = "phone"


class OutboxStatus(_Vocabulary):
    """Where an alert is in the outbox."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    WITHDRAWN = "withdrawn"  # its ticket was deleted before the alert went out


MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class PageRequest:
    """A 1-based page of at most ``MAX_PAGE_SIZE`` rows; invalid values raise ValueError."""

    page: int = 1
    page_size: int = 20

    def __post_init__(self) -> None:
        # bool is an int subclass; True as a page number is a caller bug, not page 1.
        for name in ("page", "page_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        if self.page < 1:
            raise ValueError(f"page must be >= 1, got {self.page}")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, got {self.page_size}")

    @property
    def skip(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass(frozen=True)
class Page:
    """One page of rows and the number of rows matching across all pages."""

    items: list[dict] = field(default_factory=list)
    total: int = 0
    request: PageRequest = field(default_factory=PageRequest)

    @property
    def page(self) -> int:
        return self.request.page

    @property
    def has_next(self) -> bool:
        """True when rows match beyond this page."""
        return self.request.page * self.request.page_size < self.total

    @property
    def page_size(self) -> int:
        return self.request.page_size

    def body(self, key: str, items: Iterable[Any] | None = None, **extra: Any) -> dict[str, Any]:
        """The listing response every endpoint answers: ``{key: [...], page, page_size,
        total}`` plus ``extra``; ``items`` replaces the rows when they were reshaped."""
        return {key: list(self.items if items is None else items), "page": self.page,
                "page_size": self.page_size, "total": self.total, **extra}


def read_page(collection: Any, criteria: dict, request: PageRequest, sort: list,
              projection: dict | None = None) -> Page:
    """One page of ``collection`` matching ``criteria`` in ``sort`` order, and the total.

    The one "count, then skip/limit" of the service; ``sort`` must end in a unique key
    so that pages are a stable partition."""
    total = collection.count_documents(criteria)
    items: list[dict] = []
    if request.skip < total:
        cursor = collection.find(criteria, projection).sort(sort).skip(request.skip).limit(request.page_size)
        items = list(cursor)
    return Page(items=items, total=total, request=request)
