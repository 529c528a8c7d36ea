"""TicketRepository: the one door to a tenant's tickets and their history.

It is built for one tenant and adds ``tenant_id`` to every filter it runs, so a query that
crosses tenants cannot be written by accident through it. Code outside this module does
not touch ``tickets`` or ``ticket_history`` directly.

The read side returns stored documents minus storage internals (``_id``,
``last_seen_job``); shaping them for the API is the HTTP layer's job.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

from pymongo import ASCENDING, DESCENDING, UpdateMany, UpdateOne

from ..storage import Database
from ..domain import Page, PageRequest, TicketSource, TicketStatus, read_page, require_tenant_id, tenant_pipeline
from ..errors import InvalidInput
from .queries import TicketFilters

# Newest first; the external id breaks ties so that offset pages are a stable partition
# (same created_at on a page boundary would otherwise repeat or skip a ticket). The
# tickets indexes end in these keys, so the sort is read off the index, not done in memory.
TICKET_ORDER = [("created_at", DESCENDING), ("external_id", ASCENDING)]
# Entries written by one sync share recorded_at; their deterministic _id orders them.
HISTORY_ORDER = [("recorded_at", DESCENDING), ("_id", DESCENDING)]
_TICKET_VIEW = {"_id": 0, "last_seen_job": 0}
# Values a status or source filter accepts without a look at the data: the upstream's
# documented ones. Any other value is accepted only if the tenant's live tickets hold it
# (an upstream may have more, e.g. "on hold"); else it is a typo, and a 422 says so
# instead of an empty listing.
DOCUMENTED_VALUES = {"status": TicketStatus.values(), "source": TicketSource.values()}
# Tickets an export reads from storage at a time.
EXPORT_BATCH = 500
_HISTORY_VIEW = {"_id": 0, "tenant_id": 0}


class TicketRepository:
    def __init__(self, db: Database, tenant_id: str):
        self.db = db
        self.tenant_id = require_tenant_id(tenant_id)

    # -- scoping ----------------------------------------------------------------------
    def scoped(self, criteria: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``criteria`` restricted to this tenant; a criteria naming another tenant is refused."""
        criteria = dict(criteria or {})
        if "tenant_id" in criteria and criteria["tenant_id"] != self.tenant_id:
            raise ValueError("a tenant-scoped query cannot name another tenant")
        criteria["tenant_id"] = self.tenant_id
        return criteria

    def live(self, criteria: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Scoped to this tenant and excluding soft-deleted tickets."""
        criteria = self.scoped(criteria)
        criteria["deleted_at"] = None
        return criteria

    # -- the write side (ingestion) ---------------------------------------------------
    def stored_versions(self, external_ids: Iterable[str]) -> dict[str, dict]:
        """The stored tickets among ``external_ids`` (one query), by external id."""
        ids = list(external_ids)
        if not ids:
            return {}
        cursor = self.db.tickets.find(self.scoped({"external_id": {"$in": ids}}), {"_id": 0})
        return {doc["external_id"]: doc for doc in cursor}

    def upsert_op(self, external_id: str, set_fields: dict, unset_fields: Iterable[str] = ()) -> UpdateOne:
        update: dict[str, Any] = {"$set": set_fields}
        unset = {name: "" for name in unset_fields}
        if unset:
            update["$unset"] = unset
        return UpdateOne(self.scoped({"external_id": external_id}), update, upsert=True)

    def mark_seen_op(self, external_ids: list[str], seen_at, job_id: str) -> UpdateMany:
        return UpdateMany(self.scoped({"external_id": {"$in": external_ids}}),
                          {"$set": {"synced_at": seen_at, "last_seen_job": job_id}})

    def write_tickets(self, operations: list) -> None:
        if operations:
            self.db.tickets.bulk_write(operations, ordered=False)

    def record_history(self, entries: list[dict]) -> None:
        """Insert history entries idempotently: each carries a deterministic ``_id``."""
        if not entries:
            return
        ops = []
        for entry in entries:
            entry = dict(entry, tenant_id=self.tenant_id)
            # The shard key ({tenant_id, ticket_id}) leads the upsert's filter; _id makes it idempotent.
            ops.append(UpdateOne({"tenant_id": self.tenant_id, "ticket_id": entry["ticket_id"], "_id": entry["_id"]},
                                 {"$setOnInsert": entry}, upsert=True))
        self.db.ticket_history.bulk_write(ops, ordered=False)

    def unseen_by(self, job_id: str, limit: int) -> list[str]:
        """External ids of live tickets the run ``job_id`` did not see."""
        cursor = self.db.tickets.find(self.live({"last_seen_job": {"$ne": job_id}}),
                                      {"external_id": 1, "_id": 0}).limit(limit)
        return [doc["external_id"] for doc in cursor]

    def soft_delete(self, external_ids: list[str], deleted_at) -> list[str]:
        """Mark live tickets deleted; returns the ids that were live (and are now deleted)."""
        if not external_ids:
            return []
        live = [d["external_id"] for d in self.db.tickets.find(
            self.live({"external_id": {"$in": external_ids}}), {"external_id": 1, "_id": 0})]
        if live:
            self.db.tickets.update_many(self.live({"external_id": {"$in": live}}), {"$set": {"deleted_at": deleted_at}})
        return live

    def aggregate(self, pipeline: list[dict]) -> list[dict]:
        """Run an aggregation over this tenant's tickets. The pipeline must open with a
        ``$match`` built by ``live()`` or ``scoped()``: it is refused otherwise, so an
        analytics query cannot forget the tenant."""
        return list(self.db.tickets.aggregate(tenant_pipeline(pipeline, self.tenant_id)))

    # -- the read side (API) ----------------------------------------------------------
    def list_live(self, filters: TicketFilters | None = None, page: PageRequest | None = None) -> Page:
        """This tenant's live (not soft-deleted) tickets matching ``filters``, in
        ``TICKET_ORDER``; ``total`` counts every match across pages. Count and page are two
        reads, so a concurrent ingestion may make them differ by what it wrote in between."""
        filters = filters or TicketFilters()
        self._check_values(filters)
        return self._page(self.db.tickets, self.live(filters.criteria()), TICKET_ORDER, _TICKET_VIEW,
                          page or PageRequest())

    def iter_live(self, filters: TicketFilters | None = None, batch_size: int = EXPORT_BATCH) -> Iterator[dict]:
        """Every live ticket matching ``filters``, in ``TICKET_ORDER``, read ``batch_size``
        at a time from one cursor: memory holds a batch, whatever the number of matches.
        Raises ``InvalidInput`` at the call (not at the first ``next``) for an unknown
        status or source."""
        filters = filters or TicketFilters()
        self._check_values(filters)
        cursor = self.db.tickets.find(self.live(filters.criteria()), _TICKET_VIEW).sort(TICKET_ORDER)
        return iter(cursor.batch_size(batch_size))

    def _check_values(self, filters: TicketFilters) -> None:
        """Refuse a status or source that is neither documented nor held by this tenant's
        live tickets (one indexed lookup, only for an undocumented value)."""
        for name, documented in DOCUMENTED_VALUES.items():
            value = getattr(filters, name)
            if value is None or value in documented:
                continue
            if self.db.tickets.find_one(self.live({name: value}), {"_id": 1}) is None:
                raise InvalidInput(f"unknown {name} {value!r}: one of {', '.join(documented)}, "
                                   f"or a value this tenant's tickets hold", field=name)

    def count_live(self) -> int:
        """How many live tickets this tenant has (a count on the index)."""
        return self.db.tickets.count_documents(self.live())

    def list_urgent(self, page: PageRequest | None = None) -> Page:
        """Live high-urgency tickets, newest first."""
        return self.list_live(TicketFilters(urgency="high"), page)

    def get_live(self, external_id: str) -> dict | None:
        """The live ticket with this external id, or None: absent and soft-deleted look the
        same, so a caller cannot tell another tenant's id from a deleted one."""
        return self.db.tickets.find_one(self.live({"external_id": _plain_id(external_id)}), _TICKET_VIEW)

    def history(self, external_id: str, page: PageRequest | None = None) -> Page | None:
        """One ticket's history entries, newest first; None only if this tenant never had
        the ticket. A soft-deleted ticket's history is served: its newest entry says why."""
        external_id = _plain_id(external_id)
        result = self._page(self.db.ticket_history, self.scoped({"ticket_id": external_id}),
                            HISTORY_ORDER, _HISTORY_VIEW, page or PageRequest())
        if result.total == 0 and self.db.tickets.find_one(
                self.scoped({"external_id": external_id}), {"_id": 1}) is None:
            return None
        return result

    def _page(self, collection: Any, criteria: dict[str, Any], order: list, projection: dict,
              request: PageRequest) -> Page:
        # callers scope already; a page is never cross-tenant
        return read_page(collection, self.scoped(criteria), request, order, projection)


def _plain_id(external_id: Any) -> str:
    # Anything but a string (a dict especially) would be read as a query operator.
    if not isinstance(external_id, str):
        raise ValueError(f"external id must be a string, got {type(external_id).__name__}")
    return external_id
