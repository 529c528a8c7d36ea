"""/metrics across processes (prometheus-client multiprocess mode), as under gunicorn with
several workers: each worker is a separate process writing its own sample files into
PROMETHEUS_MULTIPROC_DIR, and any worker's /metrics must answer the sums over all of them.

The embedded engine runs gunicorn with one worker, so the workers here are plain
subprocesses that build the app exactly as a gunicorn worker does (create_app after the
directory is set), record traffic, and exit; another process then serves /metrics.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ticketsvc.metrics import mark_process_dead

ROOT = Path(__file__).resolve().parents[2]

# A "worker": builds the app, serves requests, reports finished runs and upstream calls, and
# leaves one request in progress (as if it was killed mid-request). Prints its pid.
WORKER = """
import json, os, sys
from ticketsvc import create_app
from ticketsvc.api.context import get_runtime
from ticketsvc.config import Settings

plan = json.loads(sys.argv[1])
app = create_app(Settings.from_env({}, auth_mode="off", log_level="warning", sync_interval_s=0.0,
                                   metrics_tenant_labels="tenant_a"))
runtime = get_runtime(app)
client = app.test_client()
for _ in range(plan["requests"]):
    assert client.get("/tickets?tenant_id=tenant_a").status_code == 200
for status, new in plan["runs"]:
    runtime.metrics.ingestion_finished({"tenant_id": "tenant_a", "status": status, "duration_s": 1.5,
                                        "counts": {"new": new, "unchanged": 1}})
for _ in range(plan["rate_limited"]):
    runtime.metrics.upstream_call("/external/support-tickets", 429, False)
runtime.metrics.upstream_waited("rate_limit", plan["waited"])
runtime.metrics.request_started()
runtime.stop()
print(os.getpid())
"""

# The process serving the scrape: GET /metrics through the app, print the body.
SCRAPER = """
from ticketsvc import create_app
from ticketsvc.api.context import get_runtime
from ticketsvc.config import Settings

app = create_app(Settings.from_env({}, auth_mode="off", log_level="warning", sync_interval_s=0.0))
response = app.test_client().get("/metrics")
assert response.status_code == 200, response.status_code
print(response.get_data(as_text=True))
get_runtime(app).stop()
"""


def _env(multiproc_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMETHEUS_")}
    env.update(PROMETHEUS_MULTIPROC_DIR=str(multiproc_dir), PYTHONPATH=str(ROOT))
    return env


def _start(code: str, multiproc_dir: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=_env(multiproc_dir),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-2000:]
    return out


@pytest.fixture
def multiproc_dir(tmp_path) -> Path:
    path = tmp_path / "prometheus"
    path.mkdir()
    return path


def test_metrics_sums_every_worker_and_drops_an_exited_workers_live_gauge(multiproc_dir, parse_metrics,
                                                                           monkeypatch):
    plans = [
        {"requests": 3, "runs": [["completed", 10]], "rate_limited": 1, "waited": 0.5},
        {"requests": 5, "runs": [["completed", 20], ["failed", 0]], "rate_limited": 2, "waited": 1.25},
    ]
    workers = [_start(WORKER, multiproc_dir, json.dumps(plan)) for plan in plans]  # side by side
    first_pid, _ = (int(_finish(worker).split()[-1]) for worker in workers)

    samples = parse_metrics(_finish(_start(SCRAPER, multiproc_dir)))
    assert samples.value("ticketsvc_http_requests_total", method="GET", endpoint="/tickets", status="200") == 8
    assert samples.value("ticketsvc_http_request_duration_seconds_count", method="GET", endpoint="/tickets") == 8
    assert samples.value("ticketsvc_ingestion_runs_total", tenant="tenant_a", status="completed") == 2
    assert samples.value("ticketsvc_ingestion_runs_total", tenant="tenant_a", status="failed") == 1
    assert samples.value("ticketsvc_ingestion_tickets_total", tenant="tenant_a", outcome="new") == 30
    assert samples.value("ticketsvc_ingestion_tickets_total", tenant="tenant_a", outcome="unchanged") == 3
    assert samples.value("ticketsvc_ingestion_run_duration_seconds_count", status="completed") == 2
    assert samples.value("ticketsvc_upstream_calls_total", endpoint="/external/support-tickets",
                         outcome="rate_limited") == 3
    assert samples.value("ticketsvc_upstream_wait_seconds_total", reason="rate_limit") == 1.75
    # livesum: both workers' stuck requests, plus the scrape itself.
    assert samples.value("ticketsvc_http_requests_in_progress") == 3
    # Shared state comes from the scraping process's reads, once, not summed per worker.
    assert samples.value("ticketsvc_shared_state_up") == 1
    assert samples.value("ticketsvc_circuit_breaker_state", circuit="notify", state="closed") == 1

    # gunicorn's child_exit hook, in the master, once the first worker has exited.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(multiproc_dir))
    mark_process_dead(first_pid)

    samples = parse_metrics(_finish(_start(SCRAPER, multiproc_dir)))
    assert samples.value("ticketsvc_http_requests_in_progress") == 2  # the second worker's, and the scrape
    # Counters keep what exited workers counted: totals never go backwards.
    assert samples.value("ticketsvc_http_requests_total", method="GET", endpoint="/tickets", status="200") == 8
    assert samples.value("ticketsvc_ingestion_tickets_total", tenant="tenant_a", outcome="new") == 30
