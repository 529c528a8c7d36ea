"""Shared fixtures: a fresh database per test, the mock upstream over real HTTP, apps
built on them (several apps over one database play several workers), and the service
under gunicorn for end-to-end tests.

Set ``TEST_MONGO_URL=mongodb://...`` to run everything against a real MongoDB (each
test gets its own database, dropped afterwards).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from mock_api.config import MockConfig, NotifyConfig
from mock_api.testing import MockUpstreamServer
from ticketsvc import create_app
from ticketsvc.classification import Classifier, load_classifier
from ticketsvc.clock import FakeClock, SystemClock
from ticketsvc.config import Settings
from ticketsvc.storage import Database
from ticketsvc.storage.migrate import migrate
from ticketsvc.api.context import get_runtime

ROOT = Path(__file__).resolve().parent.parent
TEST_MONGO_URL = os.environ.get("TEST_MONGO_URL", "")


def real_mongo_required() -> pytest.MarkDecorator:
    return pytest.mark.skipif(not TEST_MONGO_URL, reason="needs a real MongoDB: set TEST_MONGO_URL=mongodb://...")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_settings(**overrides) -> Settings:
    """Settings independent of the host's environment; tests override what they exercise."""
    values = dict(
        auth_mode="off",
        log_level="warning",
        lock_ttl_s=60.0,
        lock_heartbeat_s=15.0,
        http_backoff_base_s=0.01,
        http_backoff_max_s=0.05,
        notify_backoff_base_s=0.0,
        notify_backoff_max_s=0.0,
        sync_interval_s=0.0,
        rate_limit_calls=300,  # the mock fixture allows 1000 a minute; limit tests set their own
    )
    if TEST_MONGO_URL:
        values.update(mongo_url=TEST_MONGO_URL, mongo_db="ticketsvc_test_" + uuid.uuid4().hex[:12])
    values.update(overrides)
    return Settings.from_env({}, **values)


def mock_config(**overrides) -> MockConfig:
    """A small, fast upstream: 800 tickets over the four tenants, a generous limit, a
    notify endpoint that answers at once and never fails. Tests tighten what they exercise."""
    values = dict(
        seed=7, tickets=800, rate_limit_calls=1000, rate_limit_window_s=60.0,
        notify=NotifyConfig(fail_first_attempts=0, latency_ms=(0.0, 0.0), outage_after_failures=0),
    )
    values.update(overrides)
    return MockConfig(**values).validate()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mock_upstream():
    """The mock external API on a free localhost port (small data set, fast limit window)."""
    server = MockUpstreamServer(mock_config())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(mock_upstream) -> Settings:
    return base_settings(external_api_url=mock_upstream.url)


@pytest.fixture
def database(settings):
    db = Database(settings)
    if not settings.embedded:
        migrate(db)  # a worker on a server only verifies indexes: the deployment's migrate step builds them
    yield db
    if not settings.embedded:
        db._client.drop_database(settings.mongo_db)
    db.close()


@pytest.fixture(scope="session")
def packaged_classifier() -> Classifier:
    """The packaged classifier, loaded once for the session (about a second per load; it
    is immutable and thread-safe): apps built on the packaged rules share it."""
    return load_classifier()


def classifier_for(settings: Settings, packaged: Classifier) -> Classifier | None:
    """``packaged`` for settings on the packaged rules; None (the app loads its own) otherwise."""
    return None if settings.classifier_rules_path else packaged


@pytest.fixture
def make_app(database, settings, packaged_classifier):
    """Build apps over the shared test database: each call is another "worker"."""
    apps = []

    def build(clock=None, **overrides):
        app_settings = settings.with_overrides(**overrides) if overrides else settings
        app = create_app(app_settings, database=database, clock=clock or SystemClock(),
                         classifier=classifier_for(app_settings, packaged_classifier))
        app.testing = True
        apps.append(app)
        return app

    yield build
    for app in apps:
        get_runtime(app).stop()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runtime(app):
    return get_runtime(app)


class GunicornService:
    """The service as users run it: gunicorn with the project's own config."""

    def __init__(self, env: dict[str, str]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "PROMETHEUS_"))}
        full_env.update(env)
        full_env["GUNICORN_BIND"] = f"127.0.0.1:{self.port}"
        full_env.setdefault("GUNICORN_GRACEFUL_TIMEOUT", "10")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        # Drain the output as it comes: once 64 KiB of log sit unread in the pipe, every
        # thread of the service that logs (each request does) blocks on the write.
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._drain, name=f"gunicorn-output:{self.port}", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn exited early:\n" + self.read_output())
            try:
                requests.get(self.url + "/health", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not answer /health within 30 s:\n" + self.read_output())

    def _drain(self) -> None:
        for line in self.process.stdout:
            self._lines.append(line)

    def read_output(self) -> str:
        """What the server printed so far (all of it once it has exited)."""
        if self.process.poll() is not None:
            self._reader.join(timeout=5)
        return "".join(self._lines)

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.read_output()
        return self.process.returncode


@pytest.fixture
def gunicorn_service(mock_upstream):
    """Start the service under gunicorn against the mock; call with env overrides."""
    services = []

    def start(**env):
        values = {
            "AUTH_MODE": "off",
            "EXTERNAL_API_URL": mock_upstream.url,
            "LOG_LEVEL": "info",
            "SYNC_INTERVAL_S": "0",
            # As base_settings: the mock allows 1000 calls a minute, the service's default
            # budget of 60 would pace a test of dozens of runs to one call a second.
            "RATE_LIMIT_CALLS": "300",
        }
        if TEST_MONGO_URL:
            values.update(MONGO_URL=TEST_MONGO_URL, MONGO_DB="ticketsvc_e2e_" + uuid.uuid4().hex[:12])
        values.update({k: str(v) for k, v in env.items()})
        if values.get("MONGO_URL", "mongomock://").startswith("mongodb"):
            # As a deployment does: the migrate step, then the service.
            subprocess.run([sys.executable, "-m", "ticketsvc", "db", "migrate"], cwd=ROOT, check=True,
                           env={**os.environ, "MONGO_URL": values["MONGO_URL"], "MONGO_DB": values["MONGO_DB"]},
                           capture_output=True, timeout=120)
        service = GunicornService(values)
        services.append(service)
        return service

    yield start
    for service in services:
        service.stop()


class LiveServer:
    """An app behind a real threaded HTTP server on a free localhost port: for clients that
    must go over the wire (the CLI in a subprocess, the README's curl examples)."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def live_server():
    """Serve an app over real HTTP: ``live_server(app).url``."""
    servers = []

    def serve(app) -> LiveServer:
        server = LiveServer(app)
        servers.append(server)
        return server

    yield serve
    for server in servers:
        server.stop()
