"""Seeding for the ticket read tests: documents in the exact shape ingestion stores them
(see ticketsvc/ingestion/sync.py), inserted directly so each test states its own data."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from support import stored_ticket

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def ticket_doc(tenant_id: str, external_id: str, *, created_at: datetime | None = None, **fields) -> dict:
    """A stored ticket (see ``support.stored_ticket``), created at ``T0`` unless told."""
    return stored_ticket(tenant_id, external_id, created_at or T0, **fields)


def history_doc(tenant_id: str, ticket_id: str, action: str, recorded_at: datetime, **fields) -> dict:
    """A stored history entry, with a deterministic ``_id`` like the ones ingestion writes."""
    doc = {
        "_id": f"{tenant_id}:{ticket_id}:{action}:{recorded_at.isoformat()}",
        "tenant_id": tenant_id,
        "ticket_id": ticket_id,
        "action": action,
        "changes": {},
        "job_id": "job-seed",
        "recorded_at": recorded_at,
    }
    doc.update(fields)
    return doc


class Seeder:
    def __init__(self, database):
        self.database = database

    def doc(self, tenant_id: str, external_id: str, **fields) -> dict:
        """A ticket document, not inserted (``tickets`` inserts several at once)."""
        return ticket_doc(tenant_id, external_id, **fields)

    def tickets(self, *docs: dict) -> list[dict]:
        self.database.tickets.insert_many([dict(d) for d in docs])
        return list(docs)

    def ticket(self, tenant_id: str, external_id: str, **fields) -> dict:
        return self.tickets(ticket_doc(tenant_id, external_id, **fields))[0]

    def history(self, tenant_id: str, ticket_id: str, action: str, recorded_at: datetime, **fields) -> dict:
        doc = history_doc(tenant_id, ticket_id, action, recorded_at, **fields)
        self.database.ticket_history.insert_one(dict(doc))
        return doc


@pytest.fixture
def seed(database) -> Seeder:
    return Seeder(database)
