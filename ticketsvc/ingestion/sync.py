"""TicketSync: apply one page of upstream tickets to the local copy, in bulk.

Per page: one query for the stored versions, then at most three bulk writes, in an order
that is safe to crash between: the alerts (outbox, keyed by a stable ``dedupe_key``), the
history entries (deterministic ids), then the tickets. Each write is idempotent, so a run
that dies half-way and is run again neither loses an alert nor records anything twice.

A stored ticket is rewritten only when the upstream ``updated_at`` is newer (equal means
unchanged, older is a stale page and ignored), or when it was classified by another
version of the rules or stored in an older format (``STORED_FORMAT``), or when it comes
back after a soft delete. A newer ``updated_at`` with no other field changed is stored, but
counted unchanged: no history, no alert, no new data version. Likewise a field an older
format did not store is filled in quietly: its arrival is no change of the ticket.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from ..analytics.rollups import Rollups
from ..classification import Classifier
from ..clock import isoformat_z, utc
from ..storage import Database
from ..notifications.outbox import Alert, NotificationOutbox
from ..tickets.repository import TicketRepository
from .schemas import parse_ticket

log = logging.getLogger(__name__)

UPSTREAM_FIELDS = ("source", "customer_id", "subject", "message", "status", "created_at", "updated_at")
CLASSIFICATION_FIELDS = ("urgency", "sentiment", "requires_action", "keywords", "signals")
# The shape of a stored ticket's classification, kept beside the classifier's version
# (``classification.format``; absent means 1): a ticket stored in an older format is
# reclassified by the next run, exactly as a new classifier version makes it.
# 2: ``signals`` (the rule categories that stand) stored beside ``keywords``.
STORED_FORMAT = 2


def sync_version(classifier_version: str) -> str:
    """What a full walk brings every stored ticket to: this classifier version in this
    stored format. A tenant whose last full walk reached another needs a full walk."""
    return f"{classifier_version}+format{STORED_FORMAT}"


@dataclass
class SyncCounts:
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    restored: int = 0
    foreign_tenant: int = 0
    invalid: int = 0
    notifications_queued: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _history_value(value: Any) -> Any:
    """A history-friendly value: datetimes as ISO strings."""
    if isinstance(value, datetime):
        return isoformat_z(value)
    return value


class TicketSync:
    def __init__(self, db: Database, tenant_id: str, classifier: Classifier, outbox: NotificationOutbox,
                 now: Callable[[], datetime]):
        self.repo = TicketRepository(db, tenant_id)
        self.tenant_id = tenant_id
        self.classifier = classifier
        self.outbox = outbox
        self.now = now
        self.rollups = Rollups(db)

    def apply_page(self, raw_tickets: list[Any], job_id: str, counts: SyncCounts) -> bool:
        """Store one page; adds to ``counts``; returns True if any ticket changed."""
        counts.fetched += len(raw_tickets)
        incoming: dict[str, dict] = {}
        for raw in raw_tickets:
            ticket = parse_ticket(raw)
            if ticket is None:
                counts.invalid += 1
                continue
            if ticket["tenant_id"] != self.tenant_id:
                counts.foreign_tenant += 1
                continue
            previous = incoming.get(ticket["id"])
            if previous is None or ticket["updated_at"] > previous["updated_at"]:
                incoming[ticket["id"]] = ticket
        if not incoming:
            return False

        now = self.now()
        stored = self.repo.stored_versions(incoming.keys())
        ticket_ops, history, alerts, seen_only, touched = [], [], [], [], []
        changed = False
        for external_id, ticket in incoming.items():
            outcome = self._plan(ticket, stored.get(external_id), job_id, now)
            if outcome is None:
                counts.unchanged += 1
                seen_only.append(external_id)
                continue
            action, set_fields, unset_fields, entries, alert = outcome
            setattr(counts, action, getattr(counts, action) + 1)
            changed = changed or action != "unchanged"
            touched += [ticket["created_at"], (stored.get(external_id) or {}).get("created_at")]
            ticket_ops.append(self.repo.upsert_op(external_id, set_fields, unset_fields))
            history.extend(entries)
            if alert is not None:
                alerts.append(alert)

        if seen_only:
            ticket_ops.append(self.repo.mark_seen_op(seen_only, now, job_id))
        counts.notifications_queued += self.outbox.enqueue(alerts, now)
        self.repo.record_history(history)
        self.rollups.mark_dirty(self.tenant_id, touched)
        self.repo.write_tickets(ticket_ops)
        return changed

    def _plan(self, ticket: dict, stored: dict | None, job_id: str, now: datetime):
        """What to do with one valid upstream ticket: None (unchanged) or
        (count name, fields to set, fields to unset, history entries, alert or None)."""
        external_id = ticket["id"]
        upstream = {name: ticket[name] for name in UPSTREAM_FIELDS}
        if stored is None:
            classification = self.classifier.classify(ticket["subject"], ticket["message"])
            doc = {**upstream, **self._classification_fields(classification),
                   "ingested_at": now, "synced_at": now, "last_seen_job": job_id}
            entry = self._history(external_id, "created", {}, job_id, now, ticket, classification.version)
            entry["changes"] = {name: {"old": None, "new": _history_value(doc[name])}
                                for name in UPSTREAM_FIELDS + CLASSIFICATION_FIELDS}
            alert = self._alert_if_high(None, classification.urgency, ticket, classification)
            return "new", doc, (), [entry], alert

        stored_updated = utc(stored["updated_at"])
        newer = ticket["updated_at"] > stored_updated
        deleted = stored.get("deleted_at") is not None
        stored_classification = stored.get("classification") or {}
        stale_rules = (stored_classification.get("version") != self.classifier.version
                       or stored_classification.get("format", 1) != STORED_FORMAT)
        if not (newer or deleted or stale_rules):
            return None

        source = upstream if newer else {name: stored.get(name) for name in UPSTREAM_FIELDS}
        set_fields: dict[str, Any] = {"synced_at": now, "last_seen_job": job_id}
        changes: dict[str, dict] = {}
        if newer:
            for name in UPSTREAM_FIELDS:
                old, new = stored.get(name), upstream[name]
                if isinstance(old, datetime):
                    old = utc(old)
                if old != new:
                    changes[name] = {"old": _history_value(old), "new": _history_value(new)}
                    set_fields[name] = new
            # A newer updated_at alone (an upstream that restamps tickets it did not
            # change) is applied, but is no change: no history entry, no new data version.
            if set(changes) == {"updated_at"}:
                del changes["updated_at"]
        classification = None
        if (newer and ("subject" in changes or "message" in changes)) or stale_rules:
            classification = self.classifier.classify(source["subject"], source["message"])
            for name, value in self._classification_fields(classification).items():
                old = stored.get(name)
                # A field the stored format lacked (old is absent, not different) is no change.
                if name != "classification" and name in stored and old != value:
                    changes[name] = {"old": _history_value(old), "new": _history_value(value)}
                set_fields[name] = value

        entries = []
        action = "updated"
        if deleted:
            action = "restored"
            entries.append(self._history(external_id, "restored", {"deleted_at": {
                "old": _history_value(stored["deleted_at"]), "new": None}}, job_id, now, ticket, self.classifier.version))
        if changes:
            entries.append(self._history(external_id, "updated", changes, job_id, now, ticket, self.classifier.version))
        elif not deleted:
            # Only the rules version or the updated_at stamp moved and nothing visible
            # changed: refresh the stored copy quietly, without calling it an update.
            action = "unchanged"
        alert = None
        if classification is not None:
            alert = self._alert_if_high(stored.get("urgency"), classification.urgency, ticket, classification)
        return action, set_fields, (("deleted_at",) if deleted else ()), entries, alert

    def unseen_by(self, job_id: str, limit: int) -> list[str]:
        """Live stored tickets that run ``job_id`` has not seen (deletion candidates)."""
        return self.repo.unseen_by(job_id, limit=limit)

    def soft_delete(self, external_ids: list[str], job_id: str,
                    reason: str = "gone upstream (confirmed by the upstream's deleted list or a 404)") -> list[str]:
        """Soft-delete tickets the upstream confirmed gone; history first, then the mark."""
        if not external_ids:
            return []
        now = self.now()
        live = self.repo.stored_versions(external_ids)
        ids = [i for i, doc in live.items() if doc.get("deleted_at") is None]
        self.repo.record_history([{
            "_id": f"{self.tenant_id}:{i}:deleted:{isoformat_z(utc(live[i]['updated_at']))}",
            "ticket_id": i, "action": "deleted",
            "changes": {"deleted_at": {"old": None, "new": isoformat_z(now)}},
            "reason": reason,
            "job_id": job_id, "recorded_at": now,
        } for i in ids])
        self.rollups.mark_dirty(self.tenant_id, [live[i]["created_at"] for i in ids])
        deleted = self.repo.soft_delete(ids, now)
        self.outbox.withdraw_for_deleted_tickets(self.tenant_id, deleted, now)
        return deleted

    @staticmethod
    def _classification_fields(classification) -> dict[str, Any]:
        return {
            "urgency": classification.urgency,
            "sentiment": classification.sentiment,
            "requires_action": classification.requires_action,
            "keywords": list(classification.keywords),
            "signals": list(classification.signals),
            "classification": {"reasons": list(classification.reasons), "version": classification.version,
                               "format": STORED_FORMAT},
        }

    def _history(self, external_id: str, action: str, changes: dict, job_id: str, now: datetime,
                 ticket: dict, rules_version: str) -> dict:
        # Deterministic id: the same event seen again (a re-run after a crash) is one entry.
        marker = isoformat_z(ticket["updated_at"])
        return {
            "_id": f"{self.tenant_id}:{external_id}:{action}:{marker}:{rules_version}",
            "ticket_id": external_id,
            "action": action,
            "changes": changes,
            "job_id": job_id,
            "recorded_at": now,
        }

    def _alert_if_high(self, old_urgency: str | None, new_urgency: str, ticket: dict, classification) -> Alert | None:
        if new_urgency != "high" or old_urgency == "high":
            return None
        reason = "; ".join(r for r in classification.reasons if "urgency" in r) or "classified high urgency"
        return Alert(
            tenant_id=self.tenant_id,
            ticket_id=ticket["id"],
            urgency=new_urgency,
            reason=reason[:500],
            # One alert per ticket becoming high at this upstream version.
            dedupe_key=f"{self.tenant_id}:{ticket['id']}:high:{isoformat_z(ticket['updated_at'])}",
        )
