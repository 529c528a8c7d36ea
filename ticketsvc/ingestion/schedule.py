"""TenantSchedule: the known tenants (``tenants``), when each is re-synced next, how its
last runs went (the change feed's cursor among them), and the data version the stats cache
keys on. The only ingestion code that touches ``tenants``.

Fields of a tenant's document written here: ``first_seen_at``, ``last_run_started_at``,
``next_sync_at``, ``data_version``; at the end of every run ``last_run_mode`` and
``last_run_status``; when a run completes ``last_complete_run_at``,
``last_complete_run_mode``, ``last_complete_job_id``, ``feed_as_of`` (the change feed's
cursor: the upstream time the next incremental run reads from, minus the overlap; null
when the upstream had no usable feed), ``feed_available`` and, for a full walk,
``last_full_sync_at`` (when that walk started) and ``last_complete_rules_version``.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable

from ..clock import utc
from ..errors import Conflict, Unavailable
from .modes import SyncMode, SyncPlan, plan_run

if TYPE_CHECKING:
    from .job import IngestionJob

log = logging.getLogger(__name__)


class TenantSchedule:
    def __init__(self, collection: Any, interval_s: float, full_interval_s: float, rules_version: str):
        self.collection = collection
        self.interval_s = interval_s
        self.full_interval_s = full_interval_s
        self.rules_version = rules_version  # the classifier's: a full walk reclassifies

    def plan(self, tenant_id: str, now: datetime) -> SyncPlan:
        """How the tenant's next run walks the upstream (call it holding the tenant's lease)."""
        return self._plan(self.collection.find_one({"_id": tenant_id}), now)

    def _plan(self, state: dict | None, now: datetime) -> SyncPlan:
        return plan_run(state, now, self.full_interval_s, self.rules_version)

    def run_ended(self, job: "IngestionJob", completed: bool, now: datetime) -> None:
        """Record how a run ended. Only a completed run moves the feed's cursor: a failed,
        cancelled or abandoned one leaves it where it was, so nothing is skipped."""
        fields: dict[str, Any] = {"last_run_mode": job.mode.value if job.mode else None,
                                  "last_run_status": job.status.value}
        if completed:
            fields.update(last_complete_run_at=now, last_complete_run_mode=fields["last_run_mode"],
                          last_complete_job_id=job.job_id, feed_as_of=job.feed_as_of)
            if "available" in job.feed:  # a run that did not ask the feed knows nothing new
                fields["feed_available"] = job.feed["available"]
            if job.mode is SyncMode.FULL:
                fields.update(last_full_sync_at=job.started_at, last_complete_rules_version=self.rules_version)
        self.collection.update_one({"_id": job.tenant_id}, {"$set": fields}, upsert=True)

    def sync_view(self, tenant_id: str, now: datetime) -> dict[str, Any]:
        """The tenant's sync state as ``/ingest/status`` shows it, with the next run's mode."""
        state = self.collection.find_one({"_id": tenant_id}) or {}
        last_full = state.get("last_full_sync_at")
        plan = self._plan(state, now)
        return {
            "next_run_mode": plan.mode.value,
            "next_run_reason": plan.reason,
            "last_run_mode": state.get("last_run_mode"),
            "last_complete_run_at": state.get("last_complete_run_at"),
            "last_complete_run_mode": state.get("last_complete_run_mode"),
            "last_complete_job_id": state.get("last_complete_job_id"),
            "last_full_sync_at": last_full,
            "next_full_sync_at": (utc(last_full) + timedelta(seconds=self.full_interval_s)
                                  if last_full is not None and self.full_interval_s > 0 else None),
            "feed_available": state.get("feed_available"),
            "feed_as_of": state.get("feed_as_of"),
            "next_sync_at": state.get("next_sync_at"),
        }

    def run_started(self, tenant_id: str, now: datetime) -> None:
        """Record a run's start; a tenant seen for the first time becomes known here."""
        # Any run resets the tenant's periodic timer: the next scheduled sync is one
        # interval after the latest run, not right after the first one.
        self.collection.update_one(
            {"_id": tenant_id},
            {"$set": {"last_run_started_at": now, "next_sync_at": now + timedelta(seconds=self.interval_s)},
             "$setOnInsert": {"first_seen_at": now, "data_version": 0}},
            upsert=True,
        )

    def data_changed(self, tenant_id: str) -> None:
        """The tenant's stored tickets changed: cached answers about it are stale."""
        self.collection.update_one({"_id": tenant_id}, {"$inc": {"data_version": 1}}, upsert=True)

    def start_due(self, now: datetime, start: Callable[[str], Any]) -> list[str]:
        """Call ``start`` for every known tenant whose next sync is due (once across all
        workers: the slot is claimed atomically); tenants already ingesting are skipped."""
        if self.interval_s <= 0:
            return []
        started = []
        # A tenant switched off (PATCH /tenants/{T}: a typo's tenant) is never re-synced.
        due = {"next_sync_at": {"$lte": now}, "sync_enabled": {"$ne": False}}
        for tenant in self.collection.find(due, {"_id": 1}):
            claimed = self.collection.find_one_and_update(
                {"_id": tenant["_id"], **due},
                {"$set": {"next_sync_at": now + timedelta(seconds=self.interval_s)}})
            if claimed is None:
                continue
            try:
                start(tenant["_id"])
                started.append(tenant["_id"])
            except Conflict:
                log.info("scheduled sync skipped: tenant %s is already ingesting", tenant["_id"])
            except Unavailable:
                # No room in this worker now: give the slot back for the next tick.
                self.collection.update_one({"_id": tenant["_id"]}, {"$set": {"next_sync_at": now}})
                break
        return started
