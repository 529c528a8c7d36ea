"""/metrics of the service as users run it: gunicorn with the project's config, its worker
writing samples to PROMETHEUS_MULTIPROC_DIR, and the master dropping an exited worker's
live gauges (child_exit -> mark_process_dead)."""
from __future__ import annotations

import os
import signal
import time

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ADMIN_KEY = "metrics-e2e-admin-key-" + "m" * 32
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def test_metrics_under_gunicorn_count_the_traffic_a_run_and_its_upstream_calls(gunicorn_service, tmp_path,
                                                                              parse_metrics):
    samples_dir = tmp_path / "prometheus"
    service = gunicorn_service(AUTH_MODE="keys", ADMIN_API_KEY=ADMIN_KEY, PROMETHEUS_MULTIPROC_DIR=str(samples_dir),
                               METRICS_TENANT_LABELS="tenant_d")
    started = requests.post(service.url + "/ingest/run?tenant_id=tenant_d", headers=ADMIN, timeout=5)
    assert started.status_code == 202
    deadline = time.monotonic() + 30
    while (job := requests.get(f"{service.url}/ingest/progress/{started.json()['job_id']}", headers=ADMIN,
                               timeout=5).json())["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job["status"] == "completed"
    assert requests.get(service.url + "/tenants/tenant_d/stats", headers=ADMIN, timeout=5).status_code == 200
    assert requests.get(service.url + "/metrics", timeout=5).status_code == 401

    response = requests.get(service.url + "/metrics", headers=ADMIN, timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    samples = parse_metrics(response.text)
    assert samples.value("ticketsvc_http_requests_total", method="POST", endpoint="/ingest/run", status="202") == 1
    assert samples.value("ticketsvc_http_requests_total", method="GET", endpoint="/metrics", status="401") == 1
    assert samples.value("ticketsvc_stats_request_duration_seconds_count", result="computed") == 1
    assert samples.value("ticketsvc_ingestion_runs_total", tenant="tenant_d", status="completed") == 1
    assert samples.value("ticketsvc_ingestion_tickets_total", tenant="tenant_d", outcome="new") == job["counts"]["new"] > 0
    assert samples.total("ticketsvc_upstream_calls_total", outcome="ok") == job["http"]["calls"]
    assert samples.value("ticketsvc_circuit_breaker_state", circuit="notify", state="closed") == 1
    # Every queued alert is in the outbox's depth (pending, dead) or was delivered already.
    assert (samples.total("ticketsvc_outbox_alerts")
            + samples.value("ticketsvc_notify_delivery_attempts_total", outcome="delivered")
            == job["counts"]["notifications_queued"])
    assert samples.value("ticketsvc_http_requests_in_progress") == 1  # this scrape

    # The worker wrote its samples as files (multiprocess mode), including its live gauge...
    files = {path.name for path in samples_dir.iterdir()}
    assert any(name.startswith("counter_") for name in files), files
    assert any(name.startswith("gauge_livesum_") for name in files), files
    # ...which the master removes once the worker has exited.
    assert service.stop() == 0
    assert not list(samples_dir.glob("gauge_livesum_*")), sorted(path.name for path in samples_dir.iterdir())


def test_a_killed_workers_live_gauge_is_dropped_by_the_master(gunicorn_service, tmp_path, parse_metrics):
    samples_dir = tmp_path / "prometheus"
    service = gunicorn_service(AUTH_MODE="keys", ADMIN_API_KEY=ADMIN_KEY, PROMETHEUS_MULTIPROC_DIR=str(samples_dir))
    (live,) = samples_dir.glob("gauge_livesum_*.db")  # the worker's, from the start-up health checks
    killed = int(live.stem.rsplit("_", 1)[1])
    os.kill(killed, signal.SIGKILL)  # no worker_exit hook runs in a killed worker

    deadline = time.monotonic() + 20
    while live.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not live.exists(), "the master's child_exit hook did not drop the killed worker's live gauge"
    response = None
    while response is None and time.monotonic() < deadline:  # the master boots a replacement
        try:
            response = requests.get(service.url + "/metrics", headers=ADMIN, timeout=2)
        except requests.RequestException:
            time.sleep(0.1)
    assert response is not None and response.status_code == 200
    assert parse_metrics(response.text).value("ticketsvc_http_requests_in_progress") == 1
