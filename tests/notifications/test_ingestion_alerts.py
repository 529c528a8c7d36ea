"""Ingestion only enqueues alerts, one per ticket becoming high, and never twice."""
from __future__ import annotations

from support import ingest, outbox_by_status


def test_ingestion_queues_one_alert_per_high_ticket_and_a_rerun_queues_none(runtime):
    first = ingest(runtime, "tenant_a")
    assert first["status"] == "completed"
    high = runtime.db.tickets.count_documents({"tenant_id": "tenant_a", "urgency": "high"})
    assert high > 0
    assert first["counts"]["notifications_queued"] == high
    assert outbox_by_status(runtime, "tenant_a") == {"pending": high, "delivered": 0, "dead": 0, "withdrawn": 0}
    keys = [n["dedupe_key"] for n in runtime.db.notifications.find({"tenant_id": "tenant_a"})]
    assert len(set(keys)) == len(keys) == high

    second = ingest(runtime, "tenant_a")
    assert second["status"] == "completed" and second["counts"]["notifications_queued"] == 0
    assert runtime.db.notifications.count_documents({"tenant_id": "tenant_a"}) == high
