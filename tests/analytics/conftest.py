"""Fixtures for the analytics tests: apps on a FakeClock set mid-hour, and tickets
inserted directly, so each test states exactly the data its expectation is computed from."""
from __future__ import annotations

import pytest
from conftest import base_settings

from analytics.stats_data import NOW
from ticketsvc.analytics import Rollups
from ticketsvc.clock import FakeClock


@pytest.fixture
def settings():
    # Stats never call the upstream: no mock server needed, so these tests stay fast.
    return base_settings()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def stats_app(make_app, fake_clock):
    return make_app(clock=fake_clock)


@pytest.fixture
def stats_client(stats_app):
    return stats_app.test_client()


@pytest.fixture
def seed_tickets(database):
    """Insert tickets as ingestion stores them, then rebuild their tenants' rollups (what a
    run's end does for the days it wrote)."""
    def insert(*docs: dict) -> None:
        database.tickets.insert_many([dict(d) for d in docs])
        rollups = Rollups(database)
        for tenant in sorted({d["tenant_id"] for d in docs}):
            rollups.rebuild(tenant)
    return insert
