"""Fixtures for the mock upstream's own tests: apps on a fake clock, small data sets."""
from __future__ import annotations

import pytest

from mock_api import FakeClock, MockConfig, NotifyConfig, create_app
from mock_api.clock import format_iso

START = 1_800_000_000.0  # 2027-01-15T08:00:00Z, a whole second


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def later(clock):
    """Move the clock an hour past data generation; returns the new now as ISO."""
    clock.advance(3600)
    return format_iso(clock.now())


@pytest.fixture
def make_app(clock):
    """Build a mock app on the fake clock: 200 tickets, no notify latency unless overridden."""

    def build(notify: NotifyConfig | None = None, **overrides):
        values = {"tickets": 200, "notify": notify or NotifyConfig(latency_ms=(0, 0))}
        values.update(overrides)
        return create_app(MockConfig(**values), clock)

    return build


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def mock(app):
    """The app's MockUpstream (its whole state)."""
    return app.extensions["mock"]


@pytest.fixture
def get_json(client):
    """GET a path and return (status, json body)."""

    def get(path: str, **params):
        response = client.get(path, query_string=params)
        return response.status_code, response.get_json()

    return get


@pytest.fixture
def admin(client):
    """Call an admin endpoint, asserting success; returns the JSON body."""

    def call(method: str, path: str, json=None, status: int = 200):
        response = client.open("/admin/" + path, method=method, json=json)
        assert response.status_code == status, response.get_data(as_text=True)
        return response.get_json()

    return call


@pytest.fixture
def all_tickets():
    """Every ticket of a mock in listing order, read past the HTTP layer (no call counted)."""

    def read(mock, tenant_id=None, include_deleted=False) -> list[dict]:
        return mock.store.page(1, 10**9, tenant_id, include_deleted)["tickets"]

    return read
