"""NotificationOutbox: the durable queue of alerts in ``notifications``.

Ingestion only *enqueues*: an upsert keyed by the alert's ``dedupe_key`` (unique index), so
re-runs, retries and races never create a second alert for the same event. Delivery reads
from here on its own schedule; nothing about an alert lives only in memory.

Delivery *claims* due alerts with a ``TokenLease`` (``lease_token`` until ``lease_until``):
several workers drain the one outbox without sending an alert twice, an alert whose sender
died is claimed again once its lease lapses, and every outcome write is conditional on the
token, so a sender whose lease lapsed cannot overwrite what a newer claimant recorded.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

from pymongo import DESCENDING, UpdateOne

from ..storage import Database
from ..domain import OutboxStatus, Page, PageRequest, read_page
from ..storage.lease import TokenLease

PENDING, DELIVERED, DEAD = OutboxStatus.PENDING.value, OutboxStatus.DELIVERED.value, OutboxStatus.DEAD.value
STATUSES = OutboxStatus.values()
# What the API shows of a record (no Mongo _id, no lease bookkeeping).
PUBLIC_FIELDS = ("tenant_id", "ticket_id", "urgency", "reason", "status", "attempts", "next_attempt_at",
                 "last_error", "created_at", "delivered_at")
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class Alert:
    tenant_id: str
    ticket_id: str
    urgency: str
    reason: str
    dedupe_key: str


@dataclass(frozen=True)
class Claim:
    """An alert this sender holds until ``lease_until``; ``token`` proves the claim."""

    id: Any
    token: str
    lease_until: datetime
    alert: Alert
    attempts: int


class NotificationOutbox:
    def __init__(self, db: Database):
        self.collection = db.notifications
        self.claims = TokenLease(self.collection, token="lease_token", expiry="lease_until")

    # -- ingestion's side ---------------------------------------------------------------
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

    # -- delivery's side ----------------------------------------------------------------
    def claim(self, now: datetime, lease_s: float, limit: int) -> list[Claim]:
        """Lease up to ``limit`` due alerts, oldest first, to the caller.

        One query picks candidates, one update takes those still due and unleased (each
        document atomically, so concurrent claimers never take the same alert: they just
        get fewer), one query reads back what this claim's token won.
        """
        due = self._due(now)
        candidates = [doc["_id"] for doc in
                      self.collection.find(due, {"_id": 1}).sort([("created_at", 1), ("_id", 1)]).limit(limit)]
        if not candidates:
            return []
        lease_until = now + timedelta(seconds=lease_s)
        token, won = self.claims.take_many(candidates, _pending_and_due(now), now, lease_until)
        order = {doc_id: position for position, doc_id in enumerate(candidates)}
        return sorted(
            (Claim(doc["_id"], token, lease_until,
                   Alert(doc["tenant_id"], doc["ticket_id"], doc["urgency"], doc["reason"], doc["dedupe_key"]),
                   doc["attempts"]) for doc in won),
            key=lambda claim: order[claim.id],
        )

    def complete(self, claim: Claim, now: datetime) -> bool:
        """Mark the claimed alert delivered (one more attempt); False if the claim was lost."""
        return self._settle(claim, {"status": DELIVERED, "attempts": claim.attempts + 1, "delivered_at": now})

    def retry(self, claim: Claim, error: str, at: datetime) -> bool:
        """Record a failed attempt and make the alert due again ``at``; False if the claim was lost."""
        return self._settle(claim, {"attempts": claim.attempts + 1, "last_error": _short(error),
                                    "next_attempt_at": at})

    def bury(self, claim: Claim, error: str) -> bool:
        """Record a final failed attempt: the alert ends ``dead``; False if the claim was lost."""
        return self._settle(claim, {"status": DEAD, "attempts": claim.attempts + 1, "last_error": _short(error)})

    def release(self, claim: Claim, at: datetime) -> bool:
        """Give the alert back unsent, due ``at``, without spending an attempt."""
        return self._settle(claim, {"next_attempt_at": at})

    def _settle(self, claim: Claim, fields: dict[str, Any]) -> bool:
        return self.claims.settle({"_id": claim.id, "status": PENDING}, claim.token, fields)

    def _due(self, now: datetime) -> dict[str, Any]:
        """Pending, due, and not leased to a live sender."""
        return {**_pending_and_due(now), **self.claims.free(now)}

    # -- reading --------------------------------------------------------------------------
    def list_for_tenant(self, tenant_id: str, status: str | None, request: PageRequest) -> Page:
        """One page of a tenant's alerts, newest first, and the total matching."""
        criteria: dict[str, Any] = {"tenant_id": tenant_id}
        if status is not None:
            criteria["status"] = status
        return read_page(self.collection, criteria, request, [("created_at", DESCENDING), ("_id", DESCENDING)],
                         {"_id": 0, **{name: 1 for name in PUBLIC_FIELDS}})

    def counts(self, tenant_id: str | None = None) -> dict[str, int]:
        """Alerts pending and dead (the backlog and what needs an operator): two index counts.
        Delivered ones are not counted: they grow without bound (until their TTL), and every
        /health and every scrape would pay for it; the delivery counter tracks them instead."""
        criteria: dict[str, Any] = {} if tenant_id is None else {"tenant_id": tenant_id}
        return {status: self.collection.count_documents({**criteria, "status": status}) for status in (PENDING, DEAD)}


def _pending_and_due(now: datetime) -> dict[str, Any]:
    return {"status": PENDING, "next_attempt_at": {"$lte": now}}


def _short(error: str) -> str:
    return error if len(error) <= MAX_ERROR_CHARS else error[:MAX_ERROR_CHARS - 1] + "…"
