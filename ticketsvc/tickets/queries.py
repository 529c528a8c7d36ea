"""What a read of a tenant's tickets asks for (filters, a page) and what it gets back.

Plain values, no storage and no HTTP: the API parses requests into these, the
repository turns them into tenant-scoped queries.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_PAGE_SIZE = 100
URGENCIES = ("high", "medium", "low")
SENTIMENTS = ("negative", "neutral", "positive")


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
class TicketFilters:
    """Equality filters on a listing; ``None`` means "any". They narrow a tenant's tickets,
    they never name the tenant (the repository does)."""

    status: str | None = None
    urgency: str | None = None
    sentiment: str | None = None
    source: str | None = None
    requires_action: bool | None = None

    def __post_init__(self) -> None:
        if self.urgency is not None and self.urgency not in URGENCIES:
            raise ValueError(f"urgency must be one of {URGENCIES}, got {self.urgency!r}")
        if self.sentiment is not None and self.sentiment not in SENTIMENTS:
            raise ValueError(f"sentiment must be one of {SENTIMENTS}, got {self.sentiment!r}")
        if self.requires_action is not None and not isinstance(self.requires_action, bool):
            raise ValueError(f"requires_action must be a bool, got {self.requires_action!r}")
        for name in ("status", "source"):
            value = getattr(self, name)
            # A dict here would become a query operator ({"$ne": ...}): only plain strings.
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} must be a string, got {value!r}")

    def criteria(self) -> dict[str, Any]:
        """The filters that are set, as Mongo equality criteria on the stored fields."""
        return {name: value for name, value in self.__dict__.items() if value is not None}


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
    def page_size(self) -> int:
        return self.request.page_size
