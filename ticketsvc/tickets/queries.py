"""What a read of a tenant's tickets asks for: the filters of a listing or an export.

Plain values, no HTTP: the API parses requests into these, the repository turns them
into tenant-scoped queries.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..domain import DONE_STATUSES, Sentiment, Urgency
from ..storage.text import all_words_query, text_words

# A search is a few words, not a document: more would only make the index walk longer.
MAX_SEARCH_WORDS = 10


@dataclass(frozen=True)
class TicketFilters:
    """Filters on a listing; ``None`` means "any". They narrow a tenant's tickets, they
    never name the tenant (the repository does).

    ``open``: True keeps the backlog (status neither resolved nor closed), False the rest.
    ``created_from``/``created_to``: inclusive bounds on ``created_at`` (aware datetimes).
    ``q``: words that must all appear in the subject or the message (``storage/text.py``
    says what a word is: case and accents do not count, no stemming).
    ``keyword``/``signal``: one of the ticket's stored ``keywords``/``signals``, equal as
    stored (case counts)."""

    status: str | None = None
    urgency: str | None = None
    sentiment: str | None = None
    source: str | None = None
    requires_action: bool | None = None
    customer_id: str | None = None
    open: bool | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    q: str | None = None
    keyword: str | None = None
    signal: str | None = None

    def __post_init__(self) -> None:
        if self.urgency is not None and self.urgency not in Urgency.values():
            raise ValueError(f"urgency must be one of {Urgency.values()}, got {self.urgency!r}")
        if self.sentiment is not None and self.sentiment not in Sentiment.values():
            raise ValueError(f"sentiment must be one of {Sentiment.values()}, got {self.sentiment!r}")
        for name in ("requires_action", "open"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise ValueError(f"{name} must be a bool, got {value!r}")
        for name in ("status", "source", "customer_id", "q", "keyword", "signal"):
            value = getattr(self, name)
            # A dict here would become a query operator ({"$ne": ...}): only plain strings.
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} must be a string, got {value!r}")
        for name in ("created_from", "created_to"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise ValueError(f"{name} must be an aware datetime, got {value!r}")
        if self.q is not None:
            words = text_words(self.q)
            if not 1 <= len(words) <= MAX_SEARCH_WORDS:
                raise ValueError(f"q must hold 1 to {MAX_SEARCH_WORDS} words, got {len(words)}")

    def criteria(self) -> dict[str, Any]:
        """The filters that are set, as Mongo criteria on the stored fields."""
        criteria: dict[str, Any] = {name: getattr(self, name) for name in
                                    ("urgency", "sentiment", "source", "requires_action", "customer_id")
                                    if getattr(self, name) is not None}
        status: dict[str, Any] = {}
        if self.status is not None:
            status["$eq"] = self.status
        if self.open is not None:
            status["$nin" if self.open else "$in"] = list(DONE_STATUSES)
        if list(status) == ["$eq"]:
            criteria["status"] = self.status
        elif status:
            criteria["status"] = status
        created: dict[str, Any] = {}
        if self.created_from is not None:
            created["$gte"] = self.created_from
        if self.created_to is not None:
            created["$lte"] = self.created_to
        if created:
            criteria["created_at"] = created
        # An array field equal to a value: the tickets whose list holds it (a multikey index).
        for name, stored in (("keyword", "keywords"), ("signal", "signals")):
            if getattr(self, name) is not None:
                criteria[stored] = getattr(self, name)
        if self.q is not None:
            criteria.update(all_words_query(text_words(self.q)))
        return criteria
