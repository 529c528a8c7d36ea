"""Bounded resources under gunicorn: thousands of requests and dozens of ingestion runs
leave the worker's open file descriptors, threads and resident memory where they were
after a warm-up; with a real MongoDB, this app's connections to the server stay bounded.

tests/ingestion/test_memory.py already proves 200 runs leave the heap flat in-process
(tracemalloc); here the same is seen from outside, on the worker process itself.
"""
from __future__ import annotations

import threading
import uuid

import pytest
import requests

from conftest import TEST_MONGO_URL, real_mongo_required
from proof.proof_support import child_pids, poll, process_figures, wait_for_http_job

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TENANT = "tenant_d"
SEQUENTIAL, CONCURRENT = 500, 50
# Slack for what legitimately moves by a little: a scheduler or pool thread started late,
# a socket in the middle of closing, the allocator's arenas.
FD_SLACK, THREAD_SLACK, RSS_SLACK_KIB = 4, 3, 6 * 1024
CLOSE = {"Connection": "close"}  # so no idle keep-alive connection is counted as a leak


def _endpoints(url: str, ticket_id: str) -> dict[str, tuple[str, str, dict | None]]:
    return {
        "health": ("GET", "/health", None),
        "tickets": ("GET", f"/tickets?tenant_id={TENANT}&page_size=50", None),
        "ticket": ("GET", f"/tickets/{ticket_id}?tenant_id={TENANT}", None),
        "stats": ("GET", f"/tenants/{TENANT}/stats", None),
        "ingest_status": ("GET", f"/ingest/status?tenant_id={TENANT}", None),
        "notifications": ("GET", f"/notifications?tenant_id={TENANT}", None),
        "classify": ("POST", "/classify", {"subject": "Charged twice", "message": "Refund me now or I dispute it"}),
    }


def _hammer(url: str, method: str, path: str, body, sequential: int, concurrent: int) -> list[int]:
    """``sequential`` requests one after another, then ``concurrent`` at once; the statuses."""
    statuses = []
    with requests.Session() as session:
        for _ in range(sequential):
            statuses.append(session.request(method, url + path, json=body, headers=CLOSE, timeout=30).status_code)
    barrier = threading.Barrier(concurrent)

    def one():
        barrier.wait()
        statuses.append(requests.request(method, url + path, json=body, headers=CLOSE, timeout=30).status_code)

    threads = [threading.Thread(target=one) for _ in range(concurrent)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def _settled(pid: int, baseline: dict) -> dict:
    """The worker's figures once sockets of finished requests have closed (they close
    within a moment of the last response; an fd leak never comes back down)."""
    def back_down():
        now = process_figures(pid)
        return now if now["fds"] <= baseline["fds"] + FD_SLACK else None

    try:
        return poll(back_down, 10, 0.2, "file descriptors to settle")
    except AssertionError:
        return process_figures(pid)


def _worker(service) -> int:
    workers = child_pids(service.process.pid)
    assert len(workers) == 1, workers  # the embedded engine runs exactly one worker
    return workers[0]


def _ingest(url: str) -> dict:
    response = requests.post(f"{url}/ingest/run", params={"tenant_id": TENANT}, timeout=10)
    assert response.status_code == 202, response.text
    return wait_for_http_job(url, response.json()["job_id"])


def test_thousands_of_requests_per_endpoint_keep_the_workers_fds_threads_and_memory_flat(gunicorn_service):
    service = gunicorn_service(LOG_LEVEL="warning")
    url = service.url
    assert _ingest(url)["status"] == "completed"
    ticket_id = requests.get(f"{url}/tickets?tenant_id={TENANT}&page_size=1", timeout=10).json()["tickets"][0]["id"]
    endpoints = _endpoints(url, ticket_id)
    pid = _worker(service)
    poll(lambda: requests.get(f"{url}/health", timeout=10).json()["notifications"]["pending"] == 0, 30, 0.2,
         "alerts of the ingested tenant delivered")  # the notify pool's threads are up

    for method, path, body in endpoints.values():  # warm-up: pools, lazy imports, caches
        assert set(_hammer(url, method, path, body, 50, CONCURRENT)) == {200}, path
    baseline = _settled(pid, process_figures(pid))

    figures = {}
    for name, (method, path, body) in endpoints.items():
        statuses = _hammer(url, method, path, body, SEQUENTIAL, CONCURRENT)
        assert statuses.count(200) == SEQUENTIAL + CONCURRENT, (name, sorted(set(statuses)))
        figures[name] = _settled(pid, baseline)
    after = figures["classify"]

    print(f"\nworker {pid} after warm-up: {baseline}; after {len(endpoints)} x {SEQUENTIAL + CONCURRENT} requests: "
          f"{after}; per endpoint: {figures}")
    assert after["fds"] <= baseline["fds"] + FD_SLACK, (baseline, figures)
    assert after["threads"] <= baseline["threads"] + THREAD_SLACK, (baseline, figures)
    assert after["rss_kib"] <= baseline["rss_kib"] + RSS_SLACK_KIB, (baseline, figures)


def test_dozens_of_ingestion_runs_keep_the_workers_fds_threads_and_memory_flat(gunicorn_service):
    service = gunicorn_service(LOG_LEVEL="warning")
    url = service.url
    pid = _worker(service)
    for _ in range(15):  # warm-up: the pools' threads, the HTTP session's connections
        assert _ingest(url)["status"] == "completed"
    # The first run's alerts delivered, so the notify pool's threads are up before the
    # baseline (fifteen runs end before the drain's first tick).
    poll(lambda: requests.get(f"{url}/health", timeout=10).json()["notifications"]["pending"] == 0, 30, 0.2,
         "alerts of the ingested tenant delivered")
    baseline = _settled(pid, process_figures(pid))
    for _ in range(45):
        assert _ingest(url)["status"] == "completed"
    after = _settled(pid, baseline)
    print(f"\nworker {pid} after 15 runs: {baseline}; after 45 more: {after}")
    assert after["fds"] <= baseline["fds"] + FD_SLACK, (baseline, after)
    assert after["threads"] <= baseline["threads"] + THREAD_SLACK, (baseline, after)
    assert after["rss_kib"] <= baseline["rss_kib"] + RSS_SLACK_KIB, (baseline, after)


@real_mongo_required()
def test_connections_to_mongodb_stay_bounded_under_request_load(gunicorn_service):
    import pymongo

    workers, pool_size = 2, 10
    db_name = "ticketsvc_conns_" + uuid.uuid4().hex[:12]
    service = gunicorn_service(LOG_LEVEL="warning", GUNICORN_WORKERS=workers, MONGO_POOL_SIZE=pool_size,
                               MONGO_DB=db_name)
    url = service.url
    admin = pymongo.MongoClient(TEST_MONGO_URL, serverSelectionTimeoutMS=3000)

    def ours() -> int:
        # Connections whose client named itself "ticketsvc" (Database sets appname).
        ops = admin.admin.aggregate([{"$currentOp": {"allUsers": True, "idleConnections": True}},
                                     {"$match": {"appName": "ticketsvc"}}])
        return sum(1 for _ in ops)

    try:
        assert _ingest(url)["status"] == "completed"
        ticket_id = requests.get(f"{url}/tickets?tenant_id={TENANT}&page_size=1", timeout=10).json()["tickets"][0]["id"]
        for method, path, body in _endpoints(url, ticket_id).values():
            assert set(_hammer(url, method, path, body, 50, CONCURRENT)) == {200}, path
        warmed, server_before = ours(), admin.admin.command("serverStatus")["connections"]["current"]
        for method, path, body in _endpoints(url, ticket_id).values():
            assert set(_hammer(url, method, path, body, SEQUENTIAL, CONCURRENT)) == {200}, path
        after, server_after = ours(), admin.admin.command("serverStatus")["connections"]["current"]
        print(f"\nticketsvc connections: {warmed} after warm-up, {after} after load "
              f"(server total {server_before} -> {server_after})")
        # Each worker: at most its pool, plus the monitoring connections of its client.
        assert after <= workers * (pool_size + 2)
        assert after <= warmed + 2 * workers
    finally:
        service.stop()
        admin.drop_database(db_name)
        admin.close()

