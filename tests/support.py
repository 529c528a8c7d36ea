"""Assertion helpers shared by the test modules."""
from __future__ import annotations


def assert_json_error(response, status: int, field: str | None = None) -> dict:
    """The response is a JSON error with ``status``; with ``field``, it names that field."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.is_json, response.get_data(as_text=True)[:200]
    body = response.get_json()
    assert body["code"] == status and body.get("message")
    if field is not None:
        assert field in str(body.get("errors", body)), body
    return body


def wait_for_job(runtime, job_id: str, timeout: float = 60.0) -> dict:
    """Poll a job's record until it leaves ``running``; returns the final record."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = runtime.ingestion.get(job_id)
        # Final, and its thread has done its end-of-run work (the rollup refresh) too.
        if record["status"] != "running" and job_id not in runtime.ingestion.active_jobs():
            return record
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} still running after {timeout}s: {runtime.ingestion.get(job_id)}")


def wait_for_pages(runtime, job_id: str, pages: int, timeout: float = 10.0) -> dict:
    """Poll a running job until it has stored ``pages`` pages; returns its record."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = runtime.ingestion.get(job_id)
        if record["processed_pages"] >= pages:
            return record
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} stored fewer than {pages} pages in {timeout}s")


def upstream_total(mock, tenant_id: str) -> int:
    """How many live tickets the upstream holds for a tenant (one cheap listing call)."""
    import requests

    body = requests.get(mock.url + "/external/support-tickets",
                        params={"tenant_id": tenant_id, "page_size": 1}, timeout=5).json()
    return body["total_count"]


def ingest(runtime, tenant_id: str, timeout: float = 60.0) -> dict:
    """Run one ingestion to its end and return the final record."""
    return wait_for_job(runtime, runtime.ingestion.start(tenant_id)["job_id"], timeout)


def stored_ticket(tenant_id: str, external_id: str, created_at, **fields) -> dict:
    """A ticket document in the exact shape ingestion stores (ticketsvc/ingestion/sync.py).
    The subject names its tenant, so a leaked ticket is recognisable even though the same
    external id exists in several tenants."""
    from datetime import timedelta

    doc = {
        "tenant_id": tenant_id,
        "external_id": external_id,
        "source": "email",
        "customer_id": "cust-1",
        "subject": f"{tenant_id}/{external_id}",
        "message": "It broke",
        "status": "open",
        "created_at": created_at,
        "updated_at": created_at + timedelta(minutes=5),
        "urgency": "low",
        "sentiment": "neutral",
        "requires_action": False,
        "keywords": [],
        "classification": {"reasons": ["seeded"], "version": "test-1"},
        "ingested_at": created_at + timedelta(minutes=10),
        "synced_at": created_at + timedelta(minutes=10),
        "last_seen_job": "job-seed",
    }
    doc.update(fields)
    return doc


def plan_stages(node):
    """Every stage of an ``explain()`` plan (a nested dict/list tree), depth first."""
    if isinstance(node, dict):
        if "stage" in node:
            yield node
        for value in node.values():
            yield from plan_stages(value)
    elif isinstance(node, list):
        for value in node:
            yield from plan_stages(value)
