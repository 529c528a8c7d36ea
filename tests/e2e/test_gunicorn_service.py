"""The service as users run it: gunicorn with the project's own config and hooks."""
import time

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_gunicorn_serves_health_with_one_worker_on_the_embedded_engine(gunicorn_service):
    service = gunicorn_service(GUNICORN_WORKERS="4")
    body = requests.get(service.url + "/health", timeout=5).json()
    assert body["status"] == "ok" and body["engine"] == "embedded"
    assert body["scheduler"] == "running"  # started by the post_worker_init hook
    assert service.stop() == 0
    output = service.read_output()
    assert "running exactly 1 worker" in output
    assert output.count("Booting worker") == 1


def test_ingestion_under_gunicorn_then_sigterm_cancels_the_running_job_cleanly(gunicorn_service, mock_upstream):
    service = gunicorn_service(EXTERNAL_PAGE_SIZE="10")
    first = requests.post(service.url + "/ingest/run?tenant_id=tenant_d", timeout=5)
    assert first.status_code == 202
    job_id = first.json()["job_id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        progress = requests.get(f"{service.url}/ingest/progress/{job_id}", timeout=5).json()
        if progress["status"] != "running":
            break
        time.sleep(0.1)
    assert progress["status"] == "completed"
    listing = requests.get(service.url + "/tickets?tenant_id=tenant_d&page_size=5", timeout=5).json()
    assert listing["total"] == progress["counts"]["new"] > 0

    mock_upstream.admin("POST", "/admin/faults", json={"latency_s": 0.3})
    running = requests.post(service.url + "/ingest/run?tenant_id=tenant_c", timeout=5).json()["job_id"]
    time.sleep(0.5)
    assert service.stop() == 0
    output = service.read_output()
    assert "cancelling 1 running job(s)" in output
    assert f"job_id={running} tenant=tenant_c status=cancelled stop_reason=shutdown" in output
