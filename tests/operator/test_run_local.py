"""``make run`` (scripts/run_local.sh) tells the truth: the banner only once /health
answers, the real error line and a non-zero exit when the service cannot start, loopback
only by default, and Ctrl-C stops the service before the mock and exits 0."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess

import pytest
import requests

from conftest import ROOT, free_port
from support import follow_job_over_http

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
BANNER = "Ctrl-C stops both."


def script_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GUNICORN_", "PROMETHEUS_")) and k not in ("AUTH_MODE", "ADMIN_API_KEY", "MONGO_URL")}
    env.update(APP_PORT=str(free_port()), MOCK_PORT=str(free_port()), EMBEDDED_DATA_FILE="",
               START_TIMEOUT_S="60", SYNC_INTERVAL_S="0")
    env.update(extra)
    return env


def run_script(command: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=script_env(**env), capture_output=True, text=True, timeout=120)


class Demo:
    """The demo started as a terminal would: in its own process group, so a "Ctrl-C" is a
    SIGINT to that group (make and the script, not the servers they started apart)."""

    def __init__(self, command: list[str], **env: str):
        self.env = script_env(**env)
        self.app_url = f"http://127.0.0.1:{self.env['APP_PORT']}"
        self.mock_url = f"http://127.0.0.1:{self.env['MOCK_PORT']}"
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: list[str] = []
        for line in self.process.stdout:
            self.lines.append(line)
            if BANNER in line:
                return
        self.process.wait()
        raise AssertionError("the demo never printed its banner:\n" + self.output)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def ctrl_c(self) -> int:
        os.killpg(self.process.pid, signal.SIGINT)
        self.lines += self.process.stdout.readlines()
        return self.process.wait(timeout=60)


def test_an_invalid_setting_exits_non_zero_with_its_line_and_no_banner():
    result = run_script(["bash", "scripts/run_local.sh"], RATE_LIMIT_CALLS="sixty")
    output = result.stdout + result.stderr
    assert result.returncode != 0 and BANNER not in output
    assert ("error: ticketsvc did not start (gunicorn exit 1): ticketsvc: invalid configuration: "
            "RATE_LIMIT_CALLS='sixty' is not an integer") in result.stderr


def test_a_missing_admin_key_is_one_clear_line_not_a_traceback():
    result = run_script(["bash", "scripts/run_local.sh"], AUTH_MODE="keys", ADMIN_API_KEY="")
    output = result.stdout + result.stderr
    assert result.returncode == 3 and BANNER not in output and "Traceback" not in output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ticketsvc did not start (gunicorn exit 3): ticketsvc: cannot start: "
                           "AUTH_MODE=keys but there is no admin API key"), last


def test_the_banner_comes_once_health_answers_and_ctrl_c_stops_the_app_then_the_mock_and_exits_0():
    demo = Demo(["bash", "scripts/run_local.sh"])
    assert requests.get(demo.app_url + "/health", timeout=5).status_code == 200
    assert f"ticketsvc:     http://127.0.0.1:{demo.env['APP_PORT']}" in demo.output
    assert demo.ctrl_c() == 0, demo.output
    output = demo.output
    app_stopped, mock_stopped = output.index("ticketsvc stopped"), output.index("mock upstream stopped")
    assert output.index("Shutting down: Master") < app_stopped < mock_stopped
    assert "circuit notify opened" not in output and "Traceback" not in output
    with pytest.raises(requests.ConnectionError):
        requests.get(demo.app_url + "/health", timeout=2)


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2) to list listening sockets")
def test_the_demo_listens_on_loopback_only_unless_told_otherwise():
    demo = Demo(["bash", "scripts/run_local.sh"])
    try:
        listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    finally:
        demo.ctrl_c()
    for port in (demo.env["APP_PORT"], demo.env["MOCK_PORT"]):
        sockets = [line.split()[3] for line in listening.splitlines() if line.split()[3].endswith(":" + port)]
        assert sockets == [f"127.0.0.1:{port}"], (port, sockets)


def test_ctrl_c_on_make_run_leaves_no_make_error():
    # -o: use the venv as it is (the test must not reinstall it)
    demo = Demo(["make", "-o", ".venv/.installed", "run"])
    demo.ctrl_c()
    assert "mock upstream stopped" in demo.output
    assert "Error" not in demo.output and "Interrupt" not in demo.output, demo.output


def test_a_restarted_demo_keeps_its_tickets(tmp_path):
    data_file = str(tmp_path / "demo.bson")
    demo = Demo(["bash", "scripts/run_local.sh"], EMBEDDED_DATA_FILE=data_file)
    try:
        job_id = requests.post(demo.app_url + "/ingest/run?tenant_id=tenant_d", timeout=5).json()["job_id"]
        follow_job_over_http(demo.app_url, job_id)
        total = requests.get(demo.app_url + "/tickets?tenant_id=tenant_d", timeout=5).json()["total"]
    finally:
        assert demo.ctrl_c() == 0
    assert total > 0 and f"data kept across restarts in {data_file}" in demo.output

    again = Demo(["bash", "scripts/run_local.sh"], EMBEDDED_DATA_FILE=data_file,
                 APP_PORT=demo.env["APP_PORT"], MOCK_PORT=demo.env["MOCK_PORT"])
    try:
        assert requests.get(again.app_url + "/tickets?tenant_id=tenant_d", timeout=5).json()["total"] == total
    finally:
        again.ctrl_c()
