"""Fixtures for the operator-facing surface: /metrics and the dashboard.

Helpers are fixtures, not an importable module: this directory's name is also the name of
a standard-library module, so nothing here is imported by name.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Callable

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT, TEST_MONGO_URL, GunicornService, mock_config
from mock_api.testing import MockUpstreamServer


class Samples(dict):
    """Samples of one scrape: ``samples["name", {"label": "value"}]`` -> value (0.0 when absent)."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text
        self.families = {}
        for family in text_string_to_metric_families(text):
            self.families[family.name] = family
            for sample in family.samples:
                super().__setitem__((sample.name, frozenset(sample.labels.items())), sample.value)

    def value(self, name: str, **labels: str) -> float:
        return self.get((name, frozenset(labels.items())), 0.0)

    def series(self, name: str) -> dict[frozenset, float]:
        return {labels: value for (sample, labels), value in self.items() if sample == name}

    def total(self, name: str, **labels: str) -> float:
        """Sum over every series of ``name`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(value for series, value in self.series(name).items() if wanted <= set(series))


@pytest.fixture
def parse_metrics() -> Callable[[str], Samples]:
    return Samples


@pytest.fixture
def scrape(parse_metrics):
    """GET /metrics through a Flask test client and parse it."""

    def get(client, headers=None) -> Samples:
        response = client.get("/metrics", headers=headers or {})
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        assert response.content_type.startswith("text/plain")
        return parse_metrics(response.get_data(as_text=True))

    return get


# -- a real browser ------------------------------------------------------------------------
# Playwright drives Debian's Chromium (no browser download): clicks, the back button,
# viewport sizes, the page's console. Skips, saying why, where either is missing.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    if CHROMIUM is None:
        pytest.skip("the browser tests need Chromium: apt-get install -y chromium (.ci/run installs it as root)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright "
                                                                "(requirements-dev.txt)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM,
                                              args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        yield chromium
        chromium.close()


@dataclass
class BrowserTab:
    """A page at one viewport size, with every console error and uncaught exception it logged."""
    page: "object"
    errors: list[str]

    def horizontal_overflow(self) -> int:
        """How many CSS pixels the document is wider than the viewport (0 when it fits)."""
        return self.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.fixture
def open_tab(browser):
    """``open_tab(width, height)`` -> a BrowserTab in a fresh context (no shared storage)."""
    contexts = []

    def open_(width: int = 1280, height: int = 900) -> BrowserTab:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        return BrowserTab(page, errors)

    yield open_
    for context in contexts:
        context.close()


# -- the dashboard's service ---------------------------------------------------------------
DASHBOARD_ADMIN_KEY = "dashboard-test-admin-key-" + "d" * 32


class DashboardSite:
    """The service under gunicorn (AUTH_MODE=keys) over its own mock upstream, with the
    calls a dashboard test makes to set it up and to ask the API what a page should show."""

    admin_key = DASHBOARD_ADMIN_KEY

    def __init__(self, service: GunicornService, mock: MockUpstreamServer):
        self.service, self.mock, self.url = service, mock, service.url
        self.key = ""  # the tenant key a module's tests browse with (its site fixture sets it)

    def get(self, path: str, key: str, **params) -> dict:
        response = requests.get(self.url + path, params=params, headers={"Authorization": f"Bearer {key}"},
                                timeout=10)
        assert response.status_code == 200, (path, params, response.status_code, response.text[:300])
        return response.json()

    def tenant_key(self, tenant_id: str) -> str:
        response = requests.post(self.url + "/admin/api-keys", json={"tenant_id": tenant_id, "name": "dashboard"},
                                 headers={"Authorization": f"Bearer {self.admin_key}"}, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()["key"]

    def ingest(self, key: str, tenant_id: str) -> dict:
        """One ingestion run of ``tenant_id``, to its end and its stats' refresh."""
        started = requests.post(self.url + "/ingest/run", params={"tenant_id": tenant_id},
                                headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = self.get(f"/ingest/progress/{started.json()['job_id']}", key)
            # Completed, and its end-of-run rollup refresh done: the stats are as of this run.
            if job["status"] != "running" and \
                    (self.get(f"/tenants/{tenant_id}/stats", key)["as_of_run"] or {}).get("job_id") == job["job_id"]:
                assert job["status"] == "completed", job
                return job
            time.sleep(0.1)
        raise AssertionError("ingestion did not finish")


@pytest.fixture(scope="module")
def dashboard_sites():
    """``start(notify=None, **env)`` -> a DashboardSite: the mock upstream (``notify``: its
    notify endpoint's settings) and gunicorn over it; both stopped when the module ends,
    so a module's tests share one service."""
    started: list[DashboardSite] = []

    def start(notify: dict | None = None, **env: str) -> DashboardSite:
        mock = MockUpstreamServer(mock_config())
        if notify:
            mock.admin("POST", "/admin/config", json={"notify": notify})
        values = {"AUTH_MODE": "keys", "ADMIN_API_KEY": DASHBOARD_ADMIN_KEY, "EXTERNAL_API_URL": mock.url,
                  "LOG_LEVEL": "info", "SYNC_INTERVAL_S": "0", **env}
        if TEST_MONGO_URL:  # as a deployment does: the migrate step, then the service
            values.update(MONGO_URL=TEST_MONGO_URL, MONGO_DB="ticketsvc_e2e_" + uuid.uuid4().hex[:12])
            subprocess.run([sys.executable, "-m", "ticketsvc", "db", "migrate"], cwd=ROOT, check=True, timeout=120,
                           env={**os.environ, "MONGO_URL": values["MONGO_URL"], "MONGO_DB": values["MONGO_DB"]},
                           capture_output=True)
        try:
            site = DashboardSite(GunicornService(values), mock)
        except Exception:
            mock.stop()
            raise
        started.append(site)
        return site

    yield start
    for site in started:
        site.service.stop()
        site.mock.stop()
