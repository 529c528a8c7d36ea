"""NotificationOutbox: the durable queue of alerts in ``notifications``.

Ingestion only *enqueues*: an upsert keyed by the alert's ``dedupe_key`` (unique index), so
re-runs, retries and races never create a second alert for the same event. Delivery reads
from here on its own schedule; nothing about an alert lives only in memory.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from pymongo import UpdateOne

from ..db import Database

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
STATUSES = (PENDING, DELIVERED, DEAD)


@dataclass(frozen=True)
class Alert:
    tenant_id: str
    ticket_id: str
    urgency: str
    reason: str
    dedupe_key: str


class NotificationOutbox:
    def __init__(self, db: Database):
        self.collection = db.notifications

    def enqueue(self, alerts: Iterable[Alert], now: datetime) -> int:
        """Insert the alerts not already queued (one bulk upsert); returns how many are new."""
        ops = [
            UpdateOne(
                {"dedupe_key": alert.dedupe_key},
                {"$setOnInsert": {
                    "dedupe_key": alert.dedupe_key,
                    "tenant_id": alert.tenant_id,
                    "ticket_id": alert.ticket_id,
                    "urgency": alert.urgency,
                    "reason": alert.reason,
                    "status": PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "lease_until": None,
                    "last_error": None,
                    "created_at": now,
                    "delivered_at": None,
                }},
                upsert=True,
            )
            for alert in alerts
        ]
        if not ops:
            return 0
        result = self.collection.bulk_write(ops, ordered=False)
        return result.upserted_count

    def counts(self, tenant_id: str | None = None) -> dict[str, int]:
        criteria: dict[str, Any] = {} if tenant_id is None else {"tenant_id": tenant_id}
        return {status: self.collection.count_documents({**criteria, "status": status}) for status in STATUSES}
