"""Fixtures for the operator-facing surface: /metrics and the dashboard.

Helpers are fixtures, not an importable module: this directory's name is also the name of
a standard-library module, so nothing here is imported by name.
"""
from __future__ import annotations

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
