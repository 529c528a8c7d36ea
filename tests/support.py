"""Assertion helpers shared by the test modules."""
from __future__ import annotations

from ticketsvc.domain import OutboxStatus


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


def ingest_on_workers(settings, database, clocks, tenant_ids, timeout: float = 120.0, classifier=None) -> list[dict]:
    """One app per clock over ``database`` (several workers of one deployment): start the
    tenants' runs on them in turn, wait for every final record, stop the workers. The
    workers share ``classifier`` when one is given (see conftest's ``packaged_classifier``)."""
    from ticketsvc import create_app
    from ticketsvc.api.context import get_runtime

    runtimes = [get_runtime(create_app(settings, database=database, clock=clock, classifier=classifier))
                for clock in clocks]
    try:
        jobs = [(runtimes[i % len(runtimes)], runtimes[i % len(runtimes)].ingestion.start(tenant_id)["job_id"])
                for i, tenant_id in enumerate(tenant_ids)]
        return [wait_for_job(runtime, job_id, timeout=timeout) for runtime, job_id in jobs]
    finally:
        for runtime in runtimes:
            runtime.stop()


def upstream_total(mock, tenant_id: str) -> int:
    """How many live tickets the upstream holds for a tenant (one cheap listing call)."""
    import requests

    body = requests.get(mock.url + "/external/support-tickets",
                        params={"tenant_id": tenant_id, "page_size": 1}, timeout=5).json()
    return body["total_count"]


def ingest(runtime, tenant_id: str) -> dict:
    """Run one ingestion to its end, in this thread, and return the final record."""
    return runtime.ingestion.run(tenant_id)


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
        "signals": [],
        "classification": {"reasons": ["seeded"], "version": "test-1", "format": 2},
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


def outbox_by_status(runtime, tenant_id: str | None = None) -> dict[str, int]:
    """Alerts per status, delivered included (``NotificationOutbox.counts`` reports only
    pending and dead, what /health and the scrape need)."""
    criteria = {} if tenant_id is None else {"tenant_id": tenant_id}
    return {status: runtime.db.notifications.count_documents({**criteria, "status": status})
            for status in OutboxStatus.values()}


class EngineDouble:
    """Stands between a ``Database`` and its engine (``database.db``): every collection
    handle it gives out is ``self.wrap(collection, name)``. Install it before the database
    makes any handle (``Double.install(database)``): handles are cached."""

    def __init__(self, engine):
        self._engine = engine

    @classmethod
    def install(cls, database):
        """Put a new double between ``database`` and its engine, and return it."""
        double = database.db = cls(database.db)
        return double

    def wrap(self, collection, name):
        raise NotImplementedError

    def __getitem__(self, name):
        return self.wrap(self._engine[name], name)

    def get_collection(self, name, **options):
        return self.wrap(self._engine.get_collection(name, **options), name)

    def __getattr__(self, name):
        return getattr(self._engine, name)


def follow_job_over_http(base_url: str, job_id: str, timeout: float = 120.0) -> dict:
    """Poll ``GET /ingest/progress/{job_id}`` of a live service until the job leaves
    ``running``; returns its final progress record."""
    import time

    import requests

    deadline = time.monotonic() + timeout
    while (job := requests.get(f"{base_url}/ingest/progress/{job_id}", timeout=5).json())["status"] == "running":
        assert time.monotonic() < deadline, f"job {job_id} still running after {timeout}s"
        time.sleep(0.02)
    return job
def register_tenants(database, *tenant_ids: str) -> None:
    """Make tenants known, as the first ingestion run for each does (a ``tenants`` record):
    tests that insert tickets directly do this so that the tenant is not a 404."""
    for tenant_id in dict.fromkeys(tenant_ids):
        database.tenants.update_one({"_id": tenant_id}, {"$setOnInsert": {"data_version": 0}}, upsert=True)
