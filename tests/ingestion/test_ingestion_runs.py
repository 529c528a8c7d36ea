"""Ingestion runs against the real mock over HTTP: completeness, idempotency, the lock,
the global rate limit, 429s, failures, cancellation (the reaper: test_job_runner.py)."""
import threading
import time

import pytest

from conftest import mock_config
from mock_api.testing import MockUpstreamServer
from support import ingest, ingest_on_workers, upstream_total, wait_for_job, wait_for_pages
from ticketsvc.ingestion.runner import lock_resource
from ticketsvc.api.context import get_runtime


def test_full_ingestion_stores_every_ticket_of_the_tenant(runtime, mock_upstream, database):
    record = ingest(runtime, "tenant_a")
    expected = upstream_total(mock_upstream, "tenant_a")
    assert record["status"] == "completed" and record["error"] is None
    assert record["counts"]["new"] == expected and record["counts"]["fetched"] == expected
    assert database.tickets.count_documents({"tenant_id": "tenant_a"}) == expected
    assert database.tickets.count_documents({"tenant_id": {"$ne": "tenant_a"}}) == 0
    assert record["processed_pages"] == record["total_pages"]


def test_second_full_walk_adds_and_changes_nothing(make_app, database):
    runtime = get_runtime(make_app(full_sync_interval_s=0))  # incremental runs: test_change_feed.py
    first = ingest(runtime, "tenant_b")
    history_before = database.ticket_history.count_documents({})
    alerts_before = database.notifications.count_documents({})
    snapshot = {d["external_id"]: d for d in database.tickets.find({"tenant_id": "tenant_b"}, {"_id": 0, "synced_at": 0,
                                                                                               "last_seen_job": 0})}
    second = ingest(runtime, "tenant_b")
    counts = second["counts"]
    assert (counts["new"], counts["updated"], counts["deleted"], counts["restored"]) == (0, 0, 0, 0)
    assert counts["unchanged"] == first["counts"]["new"]
    assert database.ticket_history.count_documents({}) == history_before
    assert database.notifications.count_documents({}) == alerts_before
    after = {d["external_id"]: d for d in database.tickets.find({"tenant_id": "tenant_b"}, {"_id": 0, "synced_at": 0,
                                                                                            "last_seen_job": 0})}
    assert after == snapshot


def test_concurrent_starts_across_two_workers_give_exactly_one_202(make_app, mock_upstream):
    mock_upstream.admin("POST", "/admin/faults", json={"latency_s": 0.05})  # keep the winner running
    # Small pools: requests that lose the race must not be turned away as "pool full".
    apps = [make_app(ingest_workers=2), make_app(ingest_workers=2)]
    clients = [a.test_client() for a in apps]
    barrier = threading.Barrier(20)
    answers = []

    def post(i):
        barrier.wait()
        response = clients[i % 2].post("/ingest/run?tenant_id=tenant_c")
        answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=post, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = [body for status, body in answers if status == 202]
    conflicts = [body for status, body in answers if status == 409]
    assert len(accepted) == 1 and len(conflicts) == 19
    assert {body["job_id"] for body in conflicts} == {accepted[0]["job_id"]}
    wait_for_job(get_runtime(apps[0]), accepted[0]["job_id"])


def test_parallel_tenants_across_two_workers_stay_within_the_upstream_limit(packaged_classifier):
    # A tight, fast window: 10 calls per second upstream, the same budget configured here.
    with MockUpstreamServer(mock_config(rate_limit_calls=10, rate_limit_window_s=1.0)) as mock:
        from conftest import base_settings
        from ticketsvc.clock import SystemClock
        from ticketsvc.storage import Database

        settings = base_settings(external_api_url=mock.url, rate_limit_calls=10, rate_limit_window_s=1.0,
                                 external_page_size=25)
        database = Database(settings)
        try:
            records = ingest_on_workers(settings, database, [SystemClock(), SystemClock()],
                                        ["tenant_a", "tenant_b", "tenant_c", "tenant_d"],
                                        classifier=packaged_classifier)
            report = mock.report()
        finally:
            database.close()
    assert all(r["status"] == "completed" for r in records), records
    assert report["rate_limited"] == 0
    assert report["max_calls_in_window"] <= 10
    assert report["calls"] == sum(r["http"]["calls"] for r in records)
    assert sum(r["counts"]["new"] for r in records) == 800


def test_a_full_ingestion_pool_answers_503_with_retry_after(make_app, mock_upstream):
    app = make_app(ingest_workers=1)
    client = app.test_client()
    # Slow enough that the run outlasts the second request's one-second wait for capacity.
    mock_upstream.admin("POST", "/admin/faults", json={"latency_s": 0.5})
    running = client.post("/ingest/run?tenant_id=tenant_a")
    assert running.status_code == 202
    refused = client.post("/ingest/run?tenant_id=tenant_b")
    assert refused.status_code == 503 and refused.is_json and refused.headers["Retry-After"]
    assert client.get("/ingest/status?tenant_id=tenant_b").get_json()["job"] is None  # nothing half-started
    get_runtime(app).ingestion.cancel(running.get_json()["job_id"])
    wait_for_job(get_runtime(app), running.get_json()["job_id"])


def test_a_429_storm_is_waited_out_and_counted(runtime, mock_upstream, database):
    mock_upstream.admin("POST", "/admin/faults", json={"rate_limit_storm": {"count": 3, "retry_after": 0.2}})
    started = time.monotonic()
    record = ingest(runtime, "tenant_d")
    assert record["status"] == "completed"
    assert record["http"]["rate_limited"] == 3
    assert record["http"]["waited_s"] >= 0.6 - 1e-6
    assert time.monotonic() - started >= 0.6
    assert database.tickets.count_documents({"tenant_id": "tenant_d"}) == upstream_total(mock_upstream, "tenant_d")


def test_transient_5xx_and_malformed_pages_are_retried(runtime, mock_upstream):
    mock_upstream.admin("POST", "/admin/faults", json={"fail_next": 2, "fail_status": 503, "malformed_next": 0})
    record = ingest(runtime, "tenant_d")
    assert record["status"] == "completed" and record["http"]["retries"] == 2
    mock_upstream.admin("POST", "/admin/faults", json={"malformed_next": 2})
    record = ingest(runtime, "tenant_d")
    assert record["status"] == "completed" and record["http"]["retries"] == 2


def test_a_failing_upstream_ends_failed_with_an_audit_record_and_a_free_lock(make_app, mock_upstream, database):
    runtime = get_runtime(make_app(http_max_attempts=3))
    mock_upstream.admin("POST", "/admin/faults", json={"fail_next": 1000})
    record = ingest(runtime, "tenant_a")
    assert record["status"] == "failed"
    assert "HTTP 500" in record["error"] and "3 attempts" in record["error"]
    assert record["ended_at"] is not None and record["duration_s"] is not None
    assert record["http"]["calls"] == 3
    assert database.locks.find_one({"_id": lock_resource("tenant_a")}) is None


def test_cancel_mid_run_keeps_stored_tickets_and_frees_the_lock(make_app, mock_upstream, database):
    runtime = get_runtime(make_app(external_page_size=10))
    app_client = make_app(external_page_size=10).test_client()
    mock_upstream.admin("POST", "/admin/faults", json={"latency_s": 0.1})
    job_id = runtime.ingestion.start("tenant_a")["job_id"]
    wait_for_pages(runtime, job_id, 2)
    response = app_client.delete(f"/ingest/{job_id}")  # served by another "worker"
    assert response.status_code == 202 and response.get_json() == {"job_id": job_id, "status": "cancelling"}
    again = app_client.delete(f"/ingest/{job_id}")
    assert again.status_code in (202, 409)
    record = wait_for_job(runtime, job_id)
    assert record["status"] == "cancelled" and record["stop_reason"] == "user_cancel"
    stored = database.tickets.count_documents({"tenant_id": "tenant_a"})
    assert 0 < stored < upstream_total(mock_upstream, "tenant_a")
    assert stored == record["counts"]["new"]
    assert database.locks.find_one({"_id": lock_resource("tenant_a")}) is None
    assert app_client.delete(f"/ingest/{job_id}").status_code == 409


def test_cancel_unknown_job_is_404(client):
    assert client.delete("/ingest/" + "0" * 32).status_code == 404


def test_a_job_that_loses_its_lease_stops_writing_and_fails(make_app, mock_upstream, database, fake_clock):
    runtime = get_runtime(make_app(clock=fake_clock, external_page_size=10))
    mock_upstream.admin("POST", "/admin/faults", json={"latency_s": 0.05})
    job_id = runtime.ingestion.start("tenant_a")["job_id"]
    wait_for_pages(runtime, job_id, 1)
    fake_clock.advance(61)  # the lease lapses under the job ...
    database.locks.update_one({"_id": lock_resource("tenant_a")}, {"$set": {"owner": "usurper"}})  # ... and is taken
    record = wait_for_job(runtime, job_id)
    assert record["status"] == "failed" and "lease" in record["error"] and record["stop_reason"] == "lease_lost"
    stored_after = database.tickets.count_documents({"tenant_id": "tenant_a"})
    time.sleep(0.2)
    assert database.tickets.count_documents({"tenant_id": "tenant_a"}) == stored_after
    assert database.locks.find_one({"_id": lock_resource("tenant_a")})["owner"] == "usurper"


def test_progress_reports_pages_and_percent(make_app, mock_upstream):
    app = make_app(external_page_size=10)
    runtime = get_runtime(app)
    mock_upstream.admin("POST", "/admin/faults", json={"latency_s": 0.05})
    job_id = app.test_client().post("/ingest/run?tenant_id=tenant_d").get_json()["job_id"]
    seen = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        body = app.test_client().get(f"/ingest/progress/{job_id}").get_json()
        seen.append((body["processed_pages"], body["total_pages"], body["progress"]))
        if body["status"] != "running":
            break
        time.sleep(0.03)
    assert body["status"] == "completed" and body["progress"] == 100
    assert body["total_pages"] == -(-upstream_total(mock_upstream, "tenant_d") // 10)
    assert any(0 < p < 100 for _, _, p in seen)
    assert [p for _, _, p in seen] == sorted(p for _, _, p in seen)


def test_status_shows_the_running_then_the_last_job(app, mock_upstream):
    client = app.test_client()
    before = client.get("/ingest/status?tenant_id=tenant_d").get_json()
    assert (before["tenant_id"], before["running"], before["job"]) == ("tenant_d", False, None)
    assert before["sync"]["next_run_mode"] == "full" and before["sync"]["last_complete_run_at"] is None
    mock_upstream.admin("POST", "/admin/faults", json={"latency_s": 0.1})
    job_id = client.post("/ingest/run?tenant_id=tenant_d").get_json()["job_id"]
    running = client.get("/ingest/status?tenant_id=tenant_d").get_json()
    assert running["running"] is True and running["job"]["job_id"] == job_id
    wait_for_job(get_runtime(app), job_id)
    done = client.get("/ingest/status?tenant_id=tenant_d").get_json()
    assert done["running"] is False and done["job"]["status"] == "completed"
    assert done["sync"]["last_complete_run_at"] == done["job"]["ended_at"]
    assert (done["sync"]["last_complete_run_mode"], done["sync"]["next_run_mode"]) == ("full", "incremental")


def test_logs_list_runs_newest_first_with_paging(app, runtime):
    first = ingest(runtime, "tenant_d")["job_id"]
    second = ingest(runtime, "tenant_d")["job_id"]
    body = app.test_client().get("/ingest/logs?tenant_id=tenant_d&page_size=1").get_json()
    assert body["total"] == 2 and body["page"] == 1 and body["page_size"] == 1
    assert [log["job_id"] for log in body["logs"]] == [second]
    page2 = app.test_client().get("/ingest/logs?tenant_id=tenant_d&page_size=1&page=2").get_json()
    assert [log["job_id"] for log in page2["logs"]] == [first]
    record = body["logs"][0]
    for key in ("started_at", "ended_at", "duration_s", "counts", "http", "status", "trigger"):
        assert key in record
    assert record["started_at"].endswith("Z")


@pytest.mark.parametrize("path", ["/ingest/run", "/ingest/status", "/ingest/logs"])
def test_missing_or_bad_tenant_is_422_naming_the_field(client, path):
    method = client.post if path == "/ingest/run" else client.get
    for query in ("", "?tenant_id=", "?tenant_id=a%20b", "?tenant_id=" + "x" * 65):
        response = method(path + query)
        assert response.status_code == 422, (path, query)
        assert "tenant_id" in str(response.get_json()["errors"])


def test_foreign_and_invalid_tickets_are_dropped_and_counted(runtime, mock_upstream, database):
    mock_upstream.admin("POST", "/admin/mutate", json={"tenant_id": "tenant_d", "corrupt": [
        {"id": "tkt-000001", "fields": {"created_at": "yesterday"}},
        {"id": "tkt-000002", "fields": {"subject": None}},
    ]})
    mock_upstream.admin("POST", "/admin/faults", json={"foreign_tickets": True})
    record = ingest(runtime, "tenant_d")
    assert record["status"] == "completed"
    assert record["counts"]["invalid"] == 2
    assert record["counts"]["foreign_tenant"] >= 1
    assert database.tickets.count_documents({"tenant_id": {"$ne": "tenant_d"}}) == 0
    assert database.tickets.count_documents({"tenant_id": "tenant_d"}) == upstream_total(mock_upstream, "tenant_d") - 2
