"""GET /metrics in one process: every documented family, what each counts, bounded labels,
shared state read at scrape time, and access (admin keys only)."""
from __future__ import annotations

import uuid

from pymongo.errors import PyMongoError

from support import ingest, outbox_by_status
from ticketsvc.notifications.breaker import FAILURE, Permit
from ticketsvc.notifications.outbox import Alert
from ticketsvc.api.context import get_runtime

ADMIN_KEY = "metrics-test-admin-key-" + "k" * 32
FAMILIES = (
    "ticketsvc_http_requests", "ticketsvc_http_request_duration_seconds", "ticketsvc_http_requests_in_progress",
    "ticketsvc_stats_request_duration_seconds", "ticketsvc_ingestion_runs", "ticketsvc_ingestion_run_duration_seconds",
    "ticketsvc_ingestion_tickets", "ticketsvc_upstream_calls", "ticketsvc_upstream_wait_seconds",
    "ticketsvc_notify_delivery_attempts", "ticketsvc_circuit_breaker_state", "ticketsvc_circuit_breaker_window_failures",
    "ticketsvc_circuit_breaker_trips", "ticketsvc_outbox_alerts", "ticketsvc_shared_state_up",
)
OUTCOMES = {"new": "new", "updated": "updated", "unchanged": "unchanged", "deleted": "deleted",
            "restored": "restored", "foreign_tenant": "foreign", "invalid": "invalid"}


def _alerts(tenant_id: str, n: int) -> list[Alert]:
    return [Alert(tenant_id, f"t-{i}", "high", "test", f"{tenant_id}:t-{i}:{uuid.uuid4().hex[:6]}") for i in range(n)]


def test_metrics_answers_prometheus_text_with_every_documented_family(client, scrape):
    samples = scrape(client)
    missing = [name for name in FAMILIES if name not in samples.families]
    assert not missing, missing
    assert samples.value("ticketsvc_shared_state_up") == 1


def test_requests_are_counted_by_route_template_never_by_raw_path(client, scrape):
    for ticket_id in ("secret-ticket-1", "secret-ticket-2"):
        assert client.get(f"/tickets/{ticket_id}?tenant_id=tenant_a").status_code == 404
    assert client.get("/no/such/secret-path").status_code == 404
    assert client.open("/health", method="BREW").status_code == 405

    samples = scrape(client)
    assert samples.value("ticketsvc_http_requests_total", method="GET", endpoint="/tickets/<path:ticket_id>",
                         status="404") == 2
    assert samples.value("ticketsvc_http_request_duration_seconds_count", method="GET",
                         endpoint="/tickets/<path:ticket_id>") == 2
    assert samples.value("ticketsvc_http_requests_total", method="GET", endpoint="unmatched", status="404") == 1
    # An invented method is one bounded label value, not a new series per spelling.
    assert samples.value("ticketsvc_http_requests_total", method="other", endpoint="unmatched", status="405") == 1
    assert "secret" not in samples.text and "BREW" not in samples.text


def test_the_scrape_is_the_one_request_in_progress_when_others_have_finished(client, scrape):
    for _ in range(3):
        client.get("/health")
    assert scrape(client).value("ticketsvc_http_requests_in_progress") == 1


def test_an_ingestion_run_counts_its_final_status_and_every_ticket_outcome(make_app, scrape):
    app = make_app(metrics_tenant_labels="tenant_a", full_sync_interval_s=0)  # two full walks
    runtime, client = get_runtime(app), app.test_client()

    first = ingest(runtime, "tenant_a")
    second = ingest(runtime, "tenant_a")
    assert first["status"] == second["status"] == "completed"
    samples = scrape(client)

    assert samples.value("ticketsvc_ingestion_runs_total", tenant="tenant_a", status="completed") == 2
    assert samples.value("ticketsvc_ingestion_run_duration_seconds_count", status="completed") == 2
    for key, outcome in OUTCOMES.items():
        expected = first["counts"][key] + second["counts"][key]
        assert samples.value("ticketsvc_ingestion_tickets_total", tenant="tenant_a", outcome=outcome) == expected, key
    assert first["counts"]["new"] > 0 and second["counts"]["unchanged"] == first["counts"]["new"]
    # Every call of both runs, as the runs' own records count them.
    assert samples.total("ticketsvc_upstream_calls_total", outcome="ok") == \
        first["http"]["calls"] + second["http"]["calls"]


def test_tenants_not_listed_for_labels_are_reported_as_other(make_app, scrape):
    app = make_app(metrics_tenant_labels="tenant_a")
    record = ingest(get_runtime(app), "tenant_b")
    samples = scrape(app.test_client())
    assert samples.value("ticketsvc_ingestion_runs_total", tenant="other", status="completed") == 1
    assert samples.value("ticketsvc_ingestion_tickets_total", tenant="other", outcome="new") == record["counts"]["new"]
    assert "tenant_b" not in samples.text


def test_upstream_429s_errors_and_the_time_waited_agree_with_the_run_record(make_app, scrape, mock_upstream):
    app = make_app(full_sync_interval_s=0)  # full walks: the storm lands on the listing
    runtime, client = get_runtime(app), app.test_client()
    mock_upstream.admin("POST", "/admin/faults", json={"rate_limit_storm": {"count": 2, "retry_after": 0.2}})
    record = ingest(runtime, "tenant_d")
    mock_upstream.admin("POST", "/admin/faults", json={"fail_next": 1})
    second = ingest(runtime, "tenant_d")
    assert record["status"] == second["status"] == "completed"
    assert record["http"]["rate_limited"] == 2 and second["http"]["retries"] == 1

    samples = scrape(client)
    calls = record["http"]["calls"] + second["http"]["calls"]
    assert samples.total("ticketsvc_upstream_calls_total", outcome="rate_limited") == 2
    assert samples.total("ticketsvc_upstream_calls_total", outcome="error") == 1
    assert samples.total("ticketsvc_upstream_calls_total") == calls
    assert samples.value("ticketsvc_upstream_calls_total", endpoint="/external/support-tickets",
                         outcome="rate_limited") == 2
    waited = samples.total("ticketsvc_upstream_wait_seconds_total")
    assert samples.value("ticketsvc_upstream_wait_seconds_total", reason="rate_limit") >= 0.2  # the 429 pause
    assert abs(waited - (record["http"]["waited_s"] + second["http"]["waited_s"])) < 0.01


def test_breaker_state_is_read_from_mongodb_at_scrape_time_so_every_worker_agrees(make_app, scrape):
    worker_a, worker_b = make_app(), make_app()
    breaker = get_runtime(worker_a).notify_breaker
    clock = get_runtime(worker_a).clock
    for _ in range(5):  # CB_FAILURE_THRESHOLD failures, all seen by worker A only
        breaker.record(Permit(), FAILURE, clock.now())

    samples = scrape(worker_b.test_client())
    assert samples.value("ticketsvc_circuit_breaker_state", circuit="notify", state="open") == 1
    assert samples.value("ticketsvc_circuit_breaker_state", circuit="notify", state="closed") == 0
    assert samples.value("ticketsvc_circuit_breaker_window_failures", circuit="notify") == 5
    assert samples.value("ticketsvc_circuit_breaker_trips_total", circuit="notify") == 1

    breaker.reset()
    samples = scrape(worker_b.test_client())
    assert samples.value("ticketsvc_circuit_breaker_state", circuit="notify", state="closed") == 1
    assert samples.value("ticketsvc_circuit_breaker_state", circuit="notify", state="open") == 0


def test_outbox_depth_by_status_is_read_from_mongodb_at_scrape_time(make_app, scrape):
    worker_a, worker_b = make_app(), make_app()
    runtime = get_runtime(worker_a)
    runtime.outbox.enqueue(_alerts("tenant_a", 3), runtime.clock.now())
    claim = runtime.outbox.claim(runtime.clock.now(), lease_s=30, limit=1)[0]
    runtime.outbox.bury(claim, "HTTP 400: rejected")

    samples = scrape(worker_b.test_client())
    assert samples.value("ticketsvc_outbox_alerts", status="pending") == 2
    assert samples.value("ticketsvc_outbox_alerts", status="dead") == 1
    # Delivered alerts are not a depth (they only grow): the delivery counter tracks them.
    assert {dict(labels)["status"] for labels in samples.series("ticketsvc_outbox_alerts")} == {"pending", "dead"}


def test_delivery_attempts_are_counted_by_outcome(runtime, client, scrape, mock_upstream):
    # Each alert's first attempt fails (5xx), its retry (backoff 0 in tests) is delivered.
    mock_upstream.admin("POST", "/admin/config", json={"notify": {"fail_first_attempts": 1, "fail_share": 1.0}})
    runtime.outbox.enqueue(_alerts("tenant_a", 2), runtime.clock.now())
    runtime.delivery.drain()
    assert outbox_by_status(runtime)["delivered"] == 2

    samples = scrape(client)
    assert samples.value("ticketsvc_notify_delivery_attempts_total", outcome="retried") == 2
    assert samples.value("ticketsvc_notify_delivery_attempts_total", outcome="delivered") == 2
    assert samples.value("ticketsvc_notify_delivery_attempts_total", outcome="dead") == 0


def test_stats_latency_is_split_by_computed_and_not_modified(runtime, client, scrape):
    ingest(runtime, "tenant_d")
    first = client.get("/tenants/tenant_d/stats")
    assert first.status_code == 200
    again = client.get("/tenants/tenant_d/stats", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304

    samples = scrape(client)
    assert samples.value("ticketsvc_stats_request_duration_seconds_count", result="computed") == 1
    assert samples.value("ticketsvc_stats_request_duration_seconds_count", result="not_modified") == 1


def test_a_scrape_still_answers_when_the_shared_state_cannot_be_read(runtime, client, scrape, monkeypatch):
    def down(*args, **kwargs):
        raise PyMongoError("no primary")

    monkeypatch.setattr(runtime.outbox, "counts", down)
    samples = scrape(client)
    assert samples.value("ticketsvc_shared_state_up") == 0
    assert "ticketsvc_outbox_alerts" not in samples.families
    assert "ticketsvc_http_requests" in samples.families


def test_recording_malformed_figures_never_raises_and_keeps_labels_bounded(runtime, client, scrape):
    runtime.metrics.ingestion_finished({})
    runtime.metrics.ingestion_finished({"tenant_id": ["x"], "status": "exploded", "duration_s": "slow",
                                        "counts": {"new": "many", "invalid": True}})
    runtime.metrics.delivery_outcome("vanished")
    runtime.metrics.upstream_call("/external/support-tickets/some-ticket-id", 500, False)

    samples = scrape(client)
    assert samples.value("ticketsvc_ingestion_runs_total", tenant="other", status="other") == 2
    assert samples.value("ticketsvc_notify_delivery_attempts_total", outcome="other") == 1
    assert samples.value("ticketsvc_upstream_calls_total", endpoint="/external/support-tickets/{id}",
                         outcome="error") == 1
    assert "some-ticket-id" not in samples.text and "exploded" not in samples.text


def test_metrics_needs_an_admin_key(make_app, scrape):
    app = make_app(auth_mode="keys", admin_api_key=ADMIN_KEY)
    runtime, client = get_runtime(app), app.test_client()
    _, tenant_key = runtime.api_keys.create(name="tenant", tenant_id="tenant_a")

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {tenant_key}"}).status_code == 403
    samples = scrape(client, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert samples.value("ticketsvc_http_requests_total", method="GET", endpoint="/metrics", status="403") == 1
