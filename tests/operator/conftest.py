"""Fixtures for the operator-facing surface: /metrics and the dashboard.

Helpers are fixtures, not an importable module: this directory's name is also the name of
a standard-library module, so nothing here is imported by name.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families


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
