"""Fixtures for alert delivery: apps on a fake clock over one database (several "workers"),
the mock's /notify reconfigured per test, and alerts enqueued straight into the outbox."""
from __future__ import annotations

import pytest

from ticketsvc.notifications.outbox import Alert


@pytest.fixture
def notify_app(make_app, fake_clock):
    """Build an app on the shared fake clock; each call is another worker."""

    def build(**overrides):
        return make_app(clock=fake_clock, **overrides)

    return build


@pytest.fixture
def notify_config(mock_upstream):
    """Change how the mock's /notify misbehaves (fields of its ``notify`` config)."""

    def configure(**notify):
        mock_upstream.admin("POST", "/admin/config", json={"notify": notify})

    return configure


@pytest.fixture
def notify_report(mock_upstream):
    """What the mock's /notify saw: attempts and successes per ``tenant:ticket``, totals."""

    def report() -> dict:
        return mock_upstream.report()["notify"]

    return report


@pytest.fixture
def enqueue():
    """Queue ``count`` alerts (tickets ``<prefix>0..``) through the outbox; returns them."""

    def put(runtime, count: int, tenant_id: str = "tenant_a", urgency: str = "high", prefix: str = "T") -> list[Alert]:
        alerts = [Alert(tenant_id, f"{prefix}{i}", urgency, "classified high urgency",
                        f"{tenant_id}:{prefix}{i}:high:v1") for i in range(count)]
        assert runtime.outbox.enqueue(alerts, runtime.clock.now()) == count
        return alerts

    return put


@pytest.fixture
def stored():
    """The outbox record of an alert, as stored."""

    def find(runtime, alert: Alert) -> dict:
        return runtime.db.notifications.find_one({"dedupe_key": alert.dedupe_key})

    return find
