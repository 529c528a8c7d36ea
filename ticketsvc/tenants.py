"""TenantDirectory: the known tenants, as operators and the API see them.

A tenant is known once it has a record in ``tenants``, which ingestion writes when a run
for it starts (ingestion owns the record: its timer, its data version). Here it is read,
joined with the tenant's runs and live tickets, and the one field an operator sets is
written: ``sync_enabled`` (false: the periodic sync skips the tenant, e.g. one a typo
created). A record without the field is enabled.
"""
from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING

from .config import Settings
from .domain import Page, PageRequest, read_page, require_tenant_id
from .errors import NotFound
from .storage import Database
from .tickets.repository import TicketRepository

# The final status of a run that saw every page (ingestion's job statuses, DESIGN.md).
COMPLETED = "completed"
_RUN_VIEW = {"_id": 0, "job_id": 1, "status": 1, "trigger": 1, "mode": 1, "started_at": 1, "ended_at": 1}


def unknown_tenant_message(tenant_id: str) -> str:
    return f"unknown tenant {tenant_id}: no ingestion run has ever started for it"


class TenantDirectory:
    def __init__(self, db: Database, settings: Settings):
        self.db = db
        self.periodic = settings.sync_interval_s > 0

    def exists(self, tenant_id: str) -> bool:
        return self.db.tenants.find_one({"_id": require_tenant_id(tenant_id)}, {"_id": 1}) is not None

    def require(self, tenant_id: str) -> None:
        """Raises ``NotFound`` unless the tenant is known."""
        if not self.exists(tenant_id):
            raise NotFound(unknown_tenant_message(tenant_id))

    def list(self, page: PageRequest, only: str | None = None) -> Page:
        """Known tenants by id, each as ``describe`` shows it; ``only``: that tenant alone
        (what a tenant key may see)."""
        criteria = {} if only is None else {"_id": require_tenant_id(only)}
        found = read_page(self.db.tenants, criteria, page, [("_id", ASCENDING)])
        return Page(items=[self._view(doc) for doc in found.items], total=found.total, request=page)

    def describe(self, tenant_id: str) -> dict[str, Any]:
        """One known tenant: sync state, last run, live tickets; raises ``NotFound``."""
        doc = self.db.tenants.find_one({"_id": require_tenant_id(tenant_id)})
        if doc is None:
            raise NotFound(unknown_tenant_message(tenant_id))
        return self._view(doc)

    def set_sync_enabled(self, tenant_id: str, enabled: bool) -> dict[str, Any]:
        """Switch the periodic sync of a known tenant on or off; raises ``NotFound``."""
        if not isinstance(enabled, bool):
            raise ValueError(f"sync_enabled must be a bool, got {enabled!r}")
        result = self.db.tenants.update_one({"_id": require_tenant_id(tenant_id)},
                                            {"$set": {"sync_enabled": enabled}})
        if result.matched_count == 0:
            raise NotFound(unknown_tenant_message(tenant_id))
        return self.describe(tenant_id)

    def _view(self, doc: dict) -> dict[str, Any]:
        tenant_id = doc["_id"]
        runs = self.db.ingestion_logs
        last_run = runs.find_one({"tenant_id": tenant_id}, _RUN_VIEW, sort=[("started_at", DESCENDING)])
        complete = runs.find_one({"tenant_id": tenant_id, "status": COMPLETED}, {"_id": 0, "ended_at": 1},
                                 sort=[("started_at", DESCENDING)])
        enabled = doc.get("sync_enabled", True) is not False
        return {
            "tenant_id": tenant_id,
            "sync_enabled": enabled,
            "live_tickets": TicketRepository(self.db, tenant_id).count_live(),
            "last_run": None if last_run is None else {**last_run, "mode": last_run.get("mode")},
            "last_complete_run_at": complete.get("ended_at") if complete else None,
            # Null when no periodic sync will come: switched off here, or SYNC_INTERVAL_S=0.
            "next_sync_at": doc.get("next_sync_at") if enabled and self.periodic else None,
            "first_seen_at": doc.get("first_seen_at"),
        }
