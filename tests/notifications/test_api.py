"""GET /notifications and the circuit endpoints: shapes, validation, tenant scoping."""
from __future__ import annotations

import pytest

from support import assert_json_error
from ticketsvc.notifications.breaker import FAILURE
from ticketsvc.notifications.outbox import Alert
from ticketsvc.api.context import get_runtime

PUBLIC_FIELDS = {"id", "tenant_id", "ticket_id", "urgency", "reason", "status", "attempts", "next_attempt_at",
                 "last_error", "created_at", "delivered_at", "withdrawn_at", "withdrawn_reason",
                 "retried_at", "retried_by", "retries"}


@pytest.fixture
def app(notify_app):
    return notify_app()


@pytest.fixture
def runtime(app):
    return get_runtime(app)


def test_notifications_are_the_tenants_own_newest_first(client, runtime, fake_clock, enqueue):
    for i in range(3):
        enqueue(runtime, 1, prefix=f"A{i}-")
        fake_clock.advance(60)
    enqueue(runtime, 2, tenant_id="tenant_b")
    body = client.get("/notifications", query_string={"tenant_id": "tenant_a"}).get_json()
    assert body["total"] == 3 and body["page"] == 1 and body["page_size"] == 20
    assert [n["ticket_id"] for n in body["notifications"]] == ["A2-0", "A1-0", "A0-0"]
    first = body["notifications"][0]
    assert set(first) == PUBLIC_FIELDS
    stored = runtime.db.notifications.find_one({"ticket_id": "A2-0"})
    assert first == {
        "id": str(stored["_id"]),
        "tenant_id": "tenant_a", "ticket_id": "A2-0", "urgency": "high", "reason": "classified high urgency",
        "status": "pending", "attempts": 0, "next_attempt_at": "2026-01-01T00:02:00Z", "last_error": None,
        "created_at": "2026-01-01T00:02:00Z", "delivered_at": None, "withdrawn_at": None, "withdrawn_reason": None,
        "retried_at": None, "retried_by": None, "retries": 0,
    }


def test_notifications_page_and_filter_by_status(client, runtime, enqueue):
    enqueue(runtime, 5)
    runtime.delivery.drain()
    enqueue(runtime, 2, prefix="P")
    delivered = client.get("/notifications", query_string={
        "tenant_id": "tenant_a", "status": "delivered", "page": 2, "page_size": 2}).get_json()
    assert delivered["total"] == 5 and len(delivered["notifications"]) == 2
    assert all(n["status"] == "delivered" and n["delivered_at"] for n in delivered["notifications"])
    pending = client.get("/notifications", query_string={"tenant_id": "tenant_a", "status": "pending"}).get_json()
    assert {n["ticket_id"] for n in pending["notifications"]} == {"P0", "P1"}


def test_notifications_filter_by_ticket_within_the_tenant(client, runtime, fake_clock, enqueue):
    enqueue(runtime, 3)
    fake_clock.advance(60)
    runtime.outbox.enqueue([Alert("tenant_a", "T1", "high", "escalated", "tenant_a:T1:high:v2")], runtime.clock.now())
    enqueue(runtime, 2, tenant_id="tenant_b")  # the same ticket id in another tenant: another ticket
    body = client.get("/notifications", query_string={"tenant_id": "tenant_a", "ticket_id": "T1"}).get_json()
    assert body["total"] == 2
    assert [(n["ticket_id"], n["reason"]) for n in body["notifications"]] == \
        [("T1", "escalated"), ("T1", "classified high urgency")]
    both = client.get("/notifications", query_string={"tenant_id": "tenant_a", "ticket_id": "T1", "status": "pending"})
    assert both.get_json()["total"] == 2
    none = client.get("/notifications", query_string={"tenant_id": "tenant_a", "ticket_id": "T9"}).get_json()
    assert none["total"] == 0 and none["notifications"] == []


@pytest.mark.parametrize("query, field", [
    ({"tenant_id": "tenant_a", "status": "sent"}, "status"),
    ({"tenant_id": "tenant_a", "ticket_id": ""}, "ticket_id"),
    ({"tenant_id": "tenant_a", "ticket_id": "x" * 129}, "ticket_id"),
    ({"tenant_id": "bad tenant!"}, "tenant_id"),
    ({}, "tenant_id"),
    ({"tenant_id": "tenant_a", "page": 0}, "page"),
    ({"tenant_id": "tenant_a", "page_size": 101}, "page_size"),
])
def test_bad_notifications_query_is_422_naming_the_field(client, query, field):
    assert_json_error(client.get("/notifications", query_string=query), 422, field)


def test_circuit_status_reports_the_shared_state(client, runtime, fake_clock):
    assert client.get("/circuit/notify/status").get_json() == {
        "name": "notify", "state": "closed", "failure_count": 0, "window": [], "opened_at": None, "retry_at": None,
    }
    for _ in range(5):
        runtime.notify_breaker.record(runtime.notify_breaker.acquire(fake_clock.now()), FAILURE, fake_clock.now())
    assert client.get("/circuit/notify/status").get_json() == {
        "name": "notify", "state": "open", "failure_count": 5, "window": ["failure"] * 5,
        "opened_at": "2026-01-01T00:00:00Z", "retry_at": "2026-01-01T00:00:30Z",
    }
    fake_clock.advance(30)
    assert client.get("/circuit/notify/status").get_json()["state"] == "half_open"


def test_circuit_reset_closes_it_and_clears_the_window(client, runtime, fake_clock):
    for _ in range(5):
        runtime.notify_breaker.record(runtime.notify_breaker.acquire(fake_clock.now()), FAILURE, fake_clock.now())
    body = client.post("/circuit/notify/reset").get_json()
    assert body == {"name": "notify", "state": "closed", "failure_count": 0, "window": [],
                    "opened_at": None, "retry_at": None}
    assert client.get("/circuit/notify/status").get_json() == body


@pytest.mark.parametrize("method, path", [("get", "/circuit/billing/status"), ("post", "/circuit/billing/reset")])
def test_an_unknown_circuit_is_404(client, method, path):
    assert_json_error(getattr(client, method)(path), 404)
