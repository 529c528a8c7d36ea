"""Fixtures for access control: apps with AUTH_MODE=keys over the shared test database,
keys of each kind, and a seeded data set (two tenants, each with a finished job and tickets)."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from auth.auth_data import ADMIN_KEY, TENANT_A, TENANT_B
from mock_api.config import MockConfig, NotifyConfig
from mock_api.testing import MockUpstreamServer
from support import ingest
from ticketsvc.api.context import get_runtime


@pytest.fixture
def mock_upstream():
    """A small upstream (a few tickets per tenant is all access control needs), answering at once."""
    config = MockConfig(seed=7, tickets=40, rate_limit_calls=1000, rate_limit_window_s=60.0,
                        notify=NotifyConfig(fail_first_attempts=0, latency_ms=(0.0, 0.0), outage_after_failures=0))
    server = MockUpstreamServer(config.validate())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_keys_app(make_app):
    """Build an AUTH_MODE=keys app (another "worker") over the shared test database."""

    def build(**overrides):
        values = {"auth_mode": "keys", "admin_api_key": ADMIN_KEY, **overrides}
        return make_app(**values)

    return build


@pytest.fixture
def keys_app(make_keys_app):
    return make_keys_app()


@pytest.fixture
def keys_client(keys_app):
    return keys_app.test_client()


@pytest.fixture
def key_store(keys_app):
    return get_runtime(keys_app).api_keys


@pytest.fixture
def issue_key(key_store):
    """Store a key straight through the store; returns (secret, key_id)."""

    def issue(tenant_id: str | None = None, *, admin: bool = False, name: str = "test") -> tuple[str, str]:
        record, secret = key_store.create(name=name, tenant_id=tenant_id, admin=admin)
        return secret, record["key_id"]

    return issue


@dataclass
class Seeded:
    """Two tenants with a finished ingestion job and tickets each, and a key of each kind."""

    jobs: dict[str, str]
    tickets: dict[str, str]
    keys: dict[str, str]  # "a", "b", "admin" (stored), "config_admin"
    spare_key_id: str  # a key nobody uses, for revocation
    alerts: dict[str, str]  # an alert id of each tenant (its ingestion queued it)


@pytest.fixture
def seeded(keys_app, issue_key) -> Seeded:
    runtime = get_runtime(keys_app)
    jobs, tickets, alerts = {}, {}, {}
    for tenant in (TENANT_A, TENANT_B):
        record = ingest(runtime, tenant)
        assert record["status"] == "completed", record
        jobs[tenant] = record["job_id"]
        tickets[tenant] = runtime.db.tickets.find_one({"tenant_id": tenant, "deleted_at": None})["external_id"]
        alerts[tenant] = str(runtime.db.notifications.find_one({"tenant_id": tenant})["_id"])
    keys = {"a": issue_key(TENANT_A, name="a")[0], "b": issue_key(TENANT_B, name="b")[0],
            "admin": issue_key(admin=True, name="stored admin")[0], "config_admin": ADMIN_KEY}
    spare_key_id = issue_key(TENANT_B, name="spare")[1]
    return Seeded(jobs, tickets, keys, spare_key_id, alerts)
