"""TenantSchedule: the known tenants (``tenants``), when each is re-synced next, and the
data version the stats cache keys on. The only ingestion code that touches ``tenants``."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Callable

from ..errors import Conflict, Unavailable

log = logging.getLogger(__name__)


class TenantSchedule:
    def __init__(self, collection: Any, interval_s: float):
        self.collection = collection
        self.interval_s = interval_s

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
