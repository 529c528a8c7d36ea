"""The whole service under gunicorn, as users run it, keeping every promise at once: all
four tenants ingest together through a tight upstream limit while clients hammer listings
and stats; nothing answers 5xx, the upstream never sees more than its limit nor sends a
429, every tenant ends with exactly the upstream's tickets, and every high-urgency alert
reaches /notify exactly once although some first attempts fail.
"""
from __future__ import annotations

import random
import statistics
import threading
import time

import pytest
import requests

from proof.proof_support import TENANTS, collect_pages, poll, upstream_count, wait_for_http_job

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LIMIT, WINDOW_S = 20, 1.0  # upstream budget: 20 calls per rolling second, in the mock and in the service
LOAD_THREADS = 6


def _load(url: str, stop: threading.Event, seed: int, results: list) -> None:
    """Read traffic a dashboard and support agents would make, until ``stop``."""
    rng = random.Random(seed)
    session = requests.Session()
    while not stop.is_set():
        tenant = rng.choice(TENANTS)
        path, params = rng.choice([
            (f"/tenants/{tenant}/stats", {}),
            ("/tickets", {"tenant_id": tenant, "page": rng.randint(1, 5), "page_size": rng.choice([10, 50, 100])}),
            ("/tickets", {"tenant_id": tenant, "urgency": "high"}),
            ("/tickets/urgent", {"tenant_id": tenant}),
            ("/ingest/status", {"tenant_id": tenant}),
            ("/notifications", {"tenant_id": tenant, "status": "pending"}),
        ])
        started = time.perf_counter()
        try:
            status = session.get(url + path, params=params, timeout=30).status_code
        except requests.RequestException as exc:  # a refused or dropped connection counts as a failure
            status = type(exc).__name__
        results.append((path.split("/")[1], status, time.perf_counter() - started))
    session.close()


def test_four_tenants_ingest_at_once_under_read_load_within_the_limit_and_alert_exactly_once(
        gunicorn_service, mock_upstream):
    mock_upstream.admin("POST", "/admin/config", json={
        "rate_limit_calls": LIMIT, "rate_limit_window_s": WINDOW_S,
        # A third of the tickets fail their first /notify attempt: retries must happen.
        "notify": {"fail_first_attempts": 1, "fail_share": 0.35, "latency_ms": [5, 40], "outage_after_failures": 0}})
    service = gunicorn_service(RATE_LIMIT_CALLS=LIMIT, RATE_LIMIT_WINDOW_S=WINDOW_S, EXTERNAL_PAGE_SIZE=10,
                               NOTIFY_POLL_S=0.2, NOTIFY_BACKOFF_BASE_S=0.05, NOTIFY_BACKOFF_MAX_S=0.3,
                               CB_OPEN_S=0.5)
    url = service.url
    stop, results = threading.Event(), []
    load = [threading.Thread(target=_load, args=(url, stop, seed, results)) for seed in range(LOAD_THREADS)]
    for thread in load:
        thread.start()
    try:
        started = time.monotonic()
        jobs = {}
        for tenant in TENANTS:
            response = requests.post(f"{url}/ingest/run", params={"tenant_id": tenant}, timeout=10)
            assert response.status_code == 202, response.text
            jobs[tenant] = response.json()["job_id"]
        records = {tenant: wait_for_http_job(url, job_id) for tenant, job_id in jobs.items()}
        ingest_s = time.monotonic() - started

        def drained():
            return all(requests.get(f"{url}/notifications", params={"tenant_id": t, "status": "pending"},
                                    timeout=10).json()["total"] == 0 for t in TENANTS)

        poll(drained, 60, 0.2, "every alert delivered")
    finally:
        stop.set()
        for thread in load:
            thread.join()

    report = mock_upstream.report()
    # Ingestion: complete, exact, within the upstream's limit, truthfully audited.
    for tenant, record in records.items():
        assert record["status"] == "completed" and record["error"] is None, record
        expected = upstream_count(mock_upstream, tenant)
        assert record["counts"]["new"] == expected
        listed = requests.get(f"{url}/tickets", params={"tenant_id": tenant, "page_size": 1}, timeout=10).json()
        assert listed["total"] == expected, (tenant, listed["total"], expected)
    assert report["max_calls_in_window"] <= LIMIT
    assert report["rate_limited"] == 0
    assert report["calls"] == sum(r["http"]["calls"] for r in records.values())

    # The read load ran throughout and nothing failed.
    failures = [r for r in results if not (isinstance(r[1], int) and r[1] < 500)]
    assert not failures, failures[:10]
    assert len(results) >= 200, len(results)

    # Alerts: one per high-urgency ticket, delivered, and exactly one success each upstream.
    notify = report["notify"]
    expected_keys = set()
    for tenant in TENANTS:
        urgent = {t["id"] for t in collect_pages(url, "/tickets/urgent", "tickets", {"tenant_id": tenant})}
        alerts = collect_pages(url, "/notifications", "notifications", {"tenant_id": tenant})
        assert sorted(a["ticket_id"] for a in alerts) == sorted(urgent), tenant
        assert {a["status"] for a in alerts} == {"delivered"}
        expected_keys |= {f"{tenant}:{ticket_id}" for ticket_id in urgent}
    assert expected_keys and notify["successes"] == {key: 1 for key in expected_keys}
    retried = [key for key, attempts in notify["attempts"].items() if attempts > 1]
    assert retried, "no first attempt failed: the retry path was not exercised"

    latencies = sorted(r[2] for r in results)
    print(f"\ningestion of {len(TENANTS)} tenants ({sum(r['processed_pages'] for r in records.values())} pages, "
          f"{report['calls']} upstream calls) {ingest_s:.1f}s; upstream max {report['max_calls_in_window']}"
          f"/{LIMIT} per {WINDOW_S:g}s, 429s {report['rate_limited']}; read load {len(results)} requests, "
          f"p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms; "
          f"alerts {len(expected_keys)} delivered once each, {notify['total_attempts']} attempts "
          f"({len(retried)} retried)")
