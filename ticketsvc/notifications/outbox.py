"""NotificationOutbox: the durable queue of alerts in ``notifications``.

Ingestion only *enqueues*: an upsert keyed by the alert's ``dedupe_key`` (unique index), so
re-runs, retries and races never create a second alert for the same event. Delivery reads
from here on its own schedule; nothing about an alert lives only in memory.

Delivery *claims* due alerts with a ``TokenLease`` (``lease_token`` until ``lease_until``):
several workers drain the one outbox without sending an alert twice, an alert whose sender
died is claimed again once its lease lapses, and every outcome write is conditional on the
token, so a sender whose lease lapsed cannot overwrite what a newer claimant recorded.

Claims are fair between tenants: each batch deals the tenants with due alerts one alert
each in turn (longest-due first within a tenant), so a tenant that queued 50,000 alerts
takes no more than its share of a batch, and another tenant's alerts wait at most one
batch behind the flood instead of behind all of it.

An alert whose ticket was soft-deleted before it went out is ``withdrawn`` (with the
reason): by ingestion when it deletes the ticket, or by the sender just before sending.
An operator can put a ``dead`` alert back to ``pending`` with fresh attempts (the same
``dedupe_key``, so the upstream still sees one idempotency key); who did and when is
recorded on the alert.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import zip_longest
from typing import Any, Iterable

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne

from ..clock import isoformat_z, utc
from ..domain import OutboxStatus, Page, PageRequest, read_page
from ..errors import Conflict, NotFound
from ..storage import Database
from ..storage.lease import TokenLease

log = logging.getLogger(__name__)

PENDING, DELIVERED, DEAD = OutboxStatus.PENDING.value, OutboxStatus.DELIVERED.value, OutboxStatus.DEAD.value
WITHDRAWN = OutboxStatus.WITHDRAWN.value
# What the API shows of a record (``id`` is the record's ``_id`` as a string; no lease
# bookkeeping). Fields a record has not had yet read null.
PUBLIC_FIELDS = ("id", "tenant_id", "ticket_id", "urgency", "reason", "status", "attempts", "next_attempt_at",
                 "last_error", "created_at", "delivered_at", "withdrawn_at", "withdrawn_reason",
                 "retried_at", "retried_by", "retries")
MAX_ERROR_CHARS = 300
# A fair claim's walk: tenant by tenant, each tenant's longest-due first (index tenant_status_due).
DUE_ORDER = [("tenant_id", ASCENDING), ("next_attempt_at", ASCENDING), ("_id", ASCENDING)]
DELETED_TICKET = "ticket deleted before delivery"


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


@dataclass(frozen=True)
class Backlog:
    """How far behind delivery is: the oldest pending alert's ``created_at`` and the
    ``next_attempt_at`` of the alert that has been due longest (None when none)."""

    oldest_pending_at: datetime | None
    longest_due_at: datetime | None

    def oldest_pending_age_s(self, now: datetime) -> float | None:
        return _seconds_since(self.oldest_pending_at, now)

    def longest_overdue_s(self, now: datetime) -> float | None:
        return _seconds_since(self.longest_due_at, now)


class NotificationOutbox:
    def __init__(self, db: Database):
        self.collection = db.notifications
        self.tickets = db.tickets
        self.claims = TokenLease(self.collection, token="lease_token", expiry="lease_until")
        # Where the next claim's walk over tenants starts (after this tenant; None: at the
        # first): with more tenants due than a batch has room for, every tenant's turn comes.
        self._resume_after: str | None = None

    # -- ingestion's side ---------------------------------------------------------------
    def enqueue(self, alerts: Iterable[Alert], now: datetime) -> int:
        """Insert the alerts not already queued (one bulk upsert); returns how many are new."""
        ops = [
            UpdateOne(
                {"tenant_id": alert.tenant_id, "dedupe_key": alert.dedupe_key},  # the shard key first
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
        """Lease up to ``limit`` due alerts to the caller, shared fairly between tenants.

        The tenants with due alerts (at most ``limit``, round robin from where the last
        claim stopped) each offer their longest-due alerts (``_offers``); the batch takes
        one from each tenant in turn, so every tenant due gets a share and a share left
        unused goes to the others. One update takes those still due and unleased (each document
        atomically, so concurrent claimers never take the same alert: they just get
        fewer), one query reads back what this claim's token won. Claims come back in
        the dealt order (the order they should be sent in).
        """
        offers = self._offers(now, limit)
        candidates = [doc_id for turn in zip_longest(*offers) for doc_id in turn if doc_id is not None][:limit]
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

    def withdraw(self, claim: Claim, deleted_at: datetime, now: datetime) -> bool:
        """End the claimed alert unsent: its ticket was deleted at ``deleted_at``."""
        return self._settle(claim, _withdrawn(deleted_at, now))

    def ticket_deleted_at(self, alert: Alert) -> datetime | None:
        """When the alert's ticket was soft-deleted; None while it is live (or unknown)."""
        ticket = self.tickets.find_one({"tenant_id": alert.tenant_id, "external_id": alert.ticket_id},
                                       {"_id": 0, "deleted_at": 1})
        return None if ticket is None or ticket.get("deleted_at") is None else utc(ticket["deleted_at"])

    def _settle(self, claim: Claim, fields: dict[str, Any]) -> bool:
        return self.claims.settle({"tenant_id": claim.alert.tenant_id, "dedupe_key": claim.alert.dedupe_key,
                                   "_id": claim.id, "status": PENDING}, claim.token, fields)

    def _due(self, now: datetime) -> dict[str, Any]:
        """Pending, due, and not leased to a live sender."""
        return {**_pending_and_due(now), **self.claims.free(now)}

    def _offers(self, now: datetime, limit: int) -> list[list[Any]]:
        """For up to ``limit`` tenants with due alerts, the ids of each one's longest-due
        alerts (up to ``limit`` each), in tenant-id order from where the last claim
        stopped, wrapping round.

        One query walks the ``tenant_status_due`` index from a tenant id on: its first
        ``limit`` due alerts are the next tenant's longest-due (all it can use, however
        many it has), or the complete due sets of the next few tenants. The walk goes on
        after the last tenant it has in full, so a claim costs one query per flooding
        tenant plus one for all the tenants with a few alerts each.
        """
        resume = self._resume_after
        offers: dict[str, list[Any]] = {}
        after, wrapped, reached_end = resume, resume is None, False
        while len(offers) < limit:
            criteria = self._due(now)
            if after is not None:
                criteria["tenant_id"] = {"$gt": after}
            docs = list(self.collection.find(criteria, {"tenant_id": 1}).sort(DUE_ORDER).limit(limit))
            groups: dict[str, list[Any]] = {}
            for doc in docs:
                groups.setdefault(doc["tenant_id"], []).append(doc["_id"])
            if len(docs) == limit and len(groups) > 1:
                groups.popitem()  # that tenant may have more due: the next query starts at it
            for tenant, ids in groups.items():
                if wrapped and resume is not None and tenant > resume:
                    break  # served in this walk's first pass
                offers[tenant] = ids
                if len(offers) == limit or (wrapped and tenant == resume):
                    break
            else:
                if len(docs) == limit:
                    after = tenant
                    continue
                reached_end = wrapped  # no tenant after these: wrap round, or stop where we began
                if not wrapped:
                    after, wrapped = None, True
                    continue
            break
        # A walk that reached every due tenant starts the next one at the beginning; one cut
        # short by the batch resumes after the last tenant it served.
        self._resume_after = None if reached_end or len(offers) < limit else next(reversed(offers), None)
        return list(offers.values())

    # -- ingestion: tickets deleted ---------------------------------------------------------
    def withdraw_for_deleted_tickets(self, tenant_id: str, ticket_ids: Iterable[str], now: datetime) -> int:
        """Withdraw the tenant's pending alerts for these (just soft-deleted) tickets; returns
        how many. An alert a sender holds right now is left to it: the sender checks the
        ticket before sending and withdraws it then."""
        ticket_ids = list(ticket_ids)
        if not ticket_ids:
            return 0
        result = self.collection.update_many(
            {"tenant_id": tenant_id, "ticket_id": {"$in": ticket_ids}, "status": PENDING, **self.claims.free(now)},
            {"$set": _withdrawn(now, now)})
        if result.modified_count:
            log.info("alerts withdrawn (tickets deleted) tenant=%s count=%d", tenant_id, result.modified_count)
        return result.modified_count

    # -- operators: dead alerts back to pending ---------------------------------------------
    def retry_dead(self, tenant_id: str, alert_id: str, actor: str, now: datetime) -> dict[str, Any]:
        """Put one dead alert of the tenant back to pending, due now, with fresh attempts and
        the same idempotency key; returns its public view. Raises NotFound (no such alert of
        this tenant) or Conflict (it is not dead)."""
        criteria = {"tenant_id": tenant_id, "_id": _object_id(alert_id)}
        doc = self.collection.find_one_and_update({**criteria, "status": DEAD}, _revived(actor, now),
                                                  return_document=ReturnDocument.AFTER)
        if doc is None:
            current = self.collection.find_one(criteria, {"status": 1})
            if current is None:
                raise NotFound(f"no alert {alert_id} for tenant {tenant_id}")
            raise Conflict(f"alert {alert_id} is {current['status']}: only a dead alert can be retried",
                           status=current["status"])
        log.info("dead alert retried id=%s tenant=%s ticket=%s by=%s", alert_id, tenant_id, doc["ticket_id"], actor)
        return public_view(doc)

    def retry_all_dead(self, tenant_id: str, actor: str, now: datetime) -> int:
        """Put every dead alert of the tenant back to pending (as ``retry_dead``); returns how many."""
        result = self.collection.update_many({"tenant_id": tenant_id, "status": DEAD}, _revived(actor, now))
        log.info("dead alerts retried tenant=%s count=%d by=%s", tenant_id, result.modified_count, actor)
        return result.modified_count

    # -- reading --------------------------------------------------------------------------
    def list_for_tenant(self, tenant_id: str, status: str | None, request: PageRequest,
                        ticket_id: str | None = None) -> Page:
        """One page of a tenant's alerts (optionally one status's, one ticket's), newest
        first, and the total matching."""
        criteria: dict[str, Any] = {"tenant_id": tenant_id}
        if status is not None:
            criteria["status"] = status
        if ticket_id is not None:
            criteria["ticket_id"] = ticket_id
        page = read_page(self.collection, criteria, request, [("created_at", DESCENDING), ("_id", DESCENDING)],
                         {name: 1 for name in PUBLIC_FIELDS if name != "id"})
        return Page(items=[public_view(doc) for doc in page.items], total=page.total, request=page.request)

    def backlog(self, now: datetime) -> Backlog:
        """The oldest pending alert and the longest-due one, over every tenant (for /health
        and /metrics: two index reads, ``status_created`` and ``status_due``)."""
        oldest = self.collection.find_one({"status": PENDING}, {"_id": 0, "created_at": 1},
                                          sort=[("created_at", ASCENDING)])
        due = self.collection.find_one(_pending_and_due(now), {"_id": 0, "next_attempt_at": 1},
                                       sort=[("next_attempt_at", ASCENDING)])
        return Backlog(utc(oldest["created_at"]) if oldest else None, utc(due["next_attempt_at"]) if due else None)

    def counts(self, tenant_id: str | None = None) -> dict[str, int]:
        """Alerts pending and dead (the backlog and what needs an operator): two index counts.
        Delivered ones are not counted: they grow without bound (until their TTL), and every
        /health and every scrape would pay for it; the delivery counter tracks them instead."""
        criteria: dict[str, Any] = {} if tenant_id is None else {"tenant_id": tenant_id}
        return {status: self.collection.count_documents({**criteria, "status": status}) for status in (PENDING, DEAD)}


def public_view(doc: dict[str, Any]) -> dict[str, Any]:
    """An outbox record as the API shows it (every public field, ``id`` from ``_id``)."""
    return {**{name: doc.get(name) for name in PUBLIC_FIELDS}, "id": str(doc["_id"]), "retries": doc.get("retries", 0)}


def _pending_and_due(now: datetime) -> dict[str, Any]:
    return {"status": PENDING, "next_attempt_at": {"$lte": now}}


def _withdrawn(deleted_at: datetime, now: datetime) -> dict[str, Any]:
    return {"status": WITHDRAWN, "withdrawn_at": now,
            "withdrawn_reason": f"{DELETED_TICKET} (deleted at {isoformat_z(deleted_at)})"}


def _revived(actor: str, now: datetime) -> dict[str, Any]:
    """The update that puts a dead alert back in the queue, due now, and says who did."""
    return {"$set": {"status": PENDING, "attempts": 0, "next_attempt_at": now, "lease_until": None,
                     "lease_token": None, "retried_at": now, "retried_by": actor},
            "$inc": {"retries": 1}}


def _object_id(alert_id: str) -> ObjectId:
    try:
        return ObjectId(alert_id)
    except (InvalidId, TypeError):
        raise NotFound(f"no alert {alert_id}") from None


def _seconds_since(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else round(max((now - moment).total_seconds(), 0.0), 3)


def _short(error: str) -> str:
    return error if len(error) <= MAX_ERROR_CHARS else error[:MAX_ERROR_CHARS - 1] + "…"
