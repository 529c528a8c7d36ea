"""What a read of a tenant's tickets asks for: the filters of a listing.

Plain values, no storage and no HTTP: the API parses requests into these, the
repository turns them into tenant-scoped queries.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..domain import Sentiment, Urgency


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
        if self.urgency is not None and self.urgency not in Urgency.values():
            raise ValueError(f"urgency must be one of {Urgency.values()}, got {self.urgency!r}")
        if self.sentiment is not None and self.sentiment not in Sentiment.values():
            raise ValueError(f"sentiment must be one of {Sentiment.values()}, got {self.sentiment!r}")
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

