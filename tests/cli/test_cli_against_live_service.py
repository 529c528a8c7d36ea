"""The ``ticketsvc`` command as an operator runs it: a separate process talking HTTP to a
service on a real port (Ctrl-C is a real SIGINT)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from auth.auth_data import ADMIN_KEY, TENANT_A, bearer
from conftest import ROOT
from support import follow_job_over_http

SLOW_PAGE_S = 0.3  # upstream latency per call: a 20-page run lasts ~6 s


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TICKETSVC_URL", "TICKETSVC_API_KEY", "ADMIN_API_KEY", "MONGO_URL")}
    env.update(extra)
    return env


def ticketsvc(*argv: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ticketsvc", *argv], cwd=ROOT, env=cli_env(**env),
                          capture_output=True, text=True, timeout=120)


def start_ticketsvc(*argv: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ticketsvc", *argv], cwd=ROOT, env=cli_env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def slow_service(make_app, live_server, mock_upstream):
    """A service whose runs take seconds: small pages from a slow upstream."""
    mock_upstream.admin("POST", "/admin/faults", json={"latency_s": SLOW_PAGE_S})
    app = make_app(external_page_size=10)
    return live_server(app), app


def job_status(service, job_id: str) -> str:
    import requests

    return requests.get(f"{service.url}/ingest/progress/{job_id}", timeout=5).json()["status"]


def wait_until_ended(service, job_id: str) -> str:
    return follow_job_over_http(service.url, job_id)["status"]


def test_wait_follows_a_job_that_is_already_running_instead_of_exiting_3(slow_service):
    import requests

    service, _ = slow_service
    running = requests.post(f"{service.url}/ingest/run?tenant_id={TENANT_A}", timeout=5).json()["job_id"]
    result = ticketsvc("ingest", "--tenant", TENANT_A, "--wait", "--poll", "0.2", "--url", service.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == running
    assert f"already has job {running} running: following it" in result.stderr
    assert job_status(service, running) == "completed"


def test_without_wait_a_running_job_is_still_exit_3_naming_it(slow_service):
    import requests

    service, _ = slow_service
    running = requests.post(f"{service.url}/ingest/run?tenant_id={TENANT_A}", timeout=5).json()["job_id"]
    result = ticketsvc("ingest", "--tenant", TENANT_A, "--url", service.url)
    assert result.returncode == 3 and running in result.stderr and "--wait follows it" in result.stderr
    wait_until_ended(service, running)


def interrupt_after_first_page(process: subprocess.Popen, service) -> str:
    job_id = process.stdout.readline().strip()
    assert re.fullmatch(r"[0-9a-f]{32}", job_id), job_id
    import requests

    deadline = time.monotonic() + 30
    while requests.get(f"{service.url}/ingest/progress/{job_id}", timeout=5).json()["processed_pages"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    return job_id


def test_ctrl_c_during_wait_cancels_the_job_it_started_and_says_so(slow_service):
    service, _ = slow_service
    process = start_ticketsvc("ingest", "--tenant", TENANT_A, "--wait", "--poll", "0.2", "--url", service.url)
    job_id = interrupt_after_first_page(process, service)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert f"interrupted: cancelling job {job_id}" in err and f"job {job_id} ended cancelled" in err
    assert "Traceback" not in err
    assert job_status(service, job_id) == "cancelled"


def test_ctrl_c_with_detach_leaves_the_job_running(slow_service):
    service, _ = slow_service
    process = start_ticketsvc("ingest", "--tenant", TENANT_A, "--wait", "--detach", "--poll", "0.2",
                              "--url", service.url)
    job_id = interrupt_after_first_page(process, service)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert f"detached: job {job_id} continues" in err and "Traceback" not in err
    assert job_status(service, job_id) == "running"
    assert wait_until_ended(service, job_id) == "completed"


def test_a_422_prints_the_offending_fields(make_app, live_server):
    service = live_server(make_app())
    result = ticketsvc("ingest", "--tenant", "bad id!", "--url", service.url)
    assert result.returncode == 2
    assert "HTTP 422" in result.stderr
    assert re.search(r"^  query\.tenant_id: .+", result.stderr, re.M), result.stderr


def test_an_unreachable_service_exits_4_without_a_traceback(mock_upstream):
    result = ticketsvc("ingest", "--tenant", TENANT_A, "--url", "http://127.0.0.1:1")
    assert result.returncode == 4 and "cannot reach http://127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def keys_service(make_app, live_server):
    return live_server(make_app(auth_mode="keys", admin_api_key=ADMIN_KEY))


def test_keys_through_the_http_api_with_the_admin_key_from_the_environment(keys_service):
    import requests

    url = keys_service.url
    created = ticketsvc("keys", "create", "--url", url, "--tenant", TENANT_A, "--name", "crm sync",
                        ADMIN_API_KEY=ADMIN_KEY)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert re.fullmatch(r"tsk_[A-Za-z0-9_-]{43}", key) and key not in created.stderr
    assert "tenant tenant_a" in created.stderr and "crm sync" in created.stderr
    tickets = f"{url}/tickets?tenant_id={TENANT_A}"
    assert requests.get(tickets, headers=bearer(key), timeout=5).status_code == 200

    listed = ticketsvc("keys", "list", "--url", url, TICKETSVC_API_KEY=ADMIN_KEY)
    assert listed.returncode == 0 and "crm sync" in listed.stdout and key not in listed.stdout
    key_id = re.search(r"key_[0-9a-f]{16}", listed.stdout).group(0)

    revoked = ticketsvc("keys", "revoke", key_id, TICKETSVC_URL=url, ADMIN_API_KEY=ADMIN_KEY)
    assert revoked.returncode == 0 and f"revoked {key_id}" in revoked.stdout
    assert requests.get(tickets, headers=bearer(key), timeout=5).status_code == 401


def test_keys_through_the_http_api_without_an_admin_key_explains_what_is_missing(keys_service):
    result = ticketsvc("keys", "list", "--url", keys_service.url)
    assert result.returncode == 2 and "HTTP 401" in result.stderr
    assert "TICKETSVC_API_KEY / ADMIN_API_KEY" in result.stderr


def test_keys_through_the_http_api_prints_field_errors(keys_service):
    result = ticketsvc("keys", "create", "--url", keys_service.url, "--tenant", "bad id!", "--name", "x",
                       ADMIN_API_KEY=ADMIN_KEY)
    assert result.returncode == 2 and result.stdout == ""
    assert re.search(r"^  json\.tenant_id: .+", result.stderr, re.M), result.stderr


def test_keys_on_the_embedded_engine_without_url_refuse_and_say_why():
    result = ticketsvc("keys", "create", "--admin", "--name", "ops")
    assert result.returncode == 2 and result.stdout == ""
    assert "work nowhere" in result.stderr and "--url" in result.stderr
