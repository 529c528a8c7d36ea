"""Alerts for deleted tickets: an alert whose ticket is soft-deleted before it goes out is
``withdrawn`` (with the reason), never sent: by ingestion when it deletes the ticket, and
by the sender, which looks at the ticket just before sending. The mock's ``/notify``
(real HTTP) is where "never sent" is checked."""
from __future__ import annotations

from datetime import timedelta

import pytest

from support import assert_json_error, ingest, stored_ticket
from ticketsvc.api.context import get_runtime
from ticketsvc.notifications.outbox import Alert


@pytest.fixture
def runtime(notify_app):
    """A worker on the fake clock (the ``client`` fixture is another, over the same database)."""
    return get_runtime(notify_app())


def _alert_for_ticket(runtime, ticket_id: str, deleted_at=None) -> Alert:
    runtime.db.tickets.insert_one(stored_ticket("tenant_a", ticket_id, runtime.clock.now() - timedelta(hours=1),
                                                urgency="high", deleted_at=deleted_at))
    alert = Alert("tenant_a", ticket_id, "high", "classified high urgency", f"tenant_a:{ticket_id}:high:v1")
    runtime.outbox.enqueue([alert], runtime.clock.now())
    return alert


def test_an_alert_whose_ticket_was_deleted_before_sending_is_withdrawn_not_sent(
        runtime, fake_clock, stored, notify_report):
    gone = _alert_for_ticket(runtime, "tkt-gone")
    live = _alert_for_ticket(runtime, "tkt-live")
    deleted_at = fake_clock.now() + timedelta(seconds=5)
    runtime.db.tickets.update_one({"tenant_id": "tenant_a", "external_id": "tkt-gone"},
                                  {"$set": {"deleted_at": deleted_at}})
    fake_clock.advance(10)

    stats = runtime.delivery.drain()

    assert stats.withdrawn == 1 and stats.delivered == 1
    doc = stored(runtime, gone)
    assert doc["status"] == "withdrawn" and doc["attempts"] == 0 and doc["lease_until"] is None
    assert doc["withdrawn_reason"] == "ticket deleted before delivery (deleted at 2026-01-01T00:00:05Z)"
    assert stored(runtime, live)["status"] == "delivered"
    assert notify_report()["attempts"] == {"tenant_a:tkt-live": 1}


def test_ingestion_withdraws_the_pending_alerts_of_tickets_it_deletes(runtime, mock_upstream, client, notify_report):
    ingest(runtime, "tenant_a")
    pending = _listing(client, "pending")
    assert len(pending) >= 2
    doomed, kept = pending[0]["ticket_id"], pending[1]["ticket_id"]
    mock_upstream.admin("POST", "/admin/mutate", json={"tenant_id": "tenant_a", "delete": [doomed]})

    record = ingest(runtime, "tenant_a")

    assert record["counts"]["deleted"] == 1
    [withdrawn] = _listing(client, "withdrawn")
    assert withdrawn["ticket_id"] == doomed and withdrawn["withdrawn_at"] is not None
    assert withdrawn["withdrawn_reason"].startswith("ticket deleted before delivery")
    runtime.delivery.drain()
    sent = notify_report()["attempts"]
    assert f"tenant_a:{doomed}" not in sent and f"tenant_a:{kept}" in sent
    assert len(sent) == len(pending) - 1


def test_ingestion_leaves_an_alert_a_sender_holds_to_that_sender(runtime, fake_clock, stored, notify_report):
    alert = _alert_for_ticket(runtime, "tkt-1")
    assert len(runtime.outbox.claim(fake_clock.now(), lease_s=30, limit=1)) == 1
    runtime.db.tickets.update_one({"external_id": "tkt-1"}, {"$set": {"deleted_at": fake_clock.now()}})

    assert runtime.outbox.withdraw_for_deleted_tickets("tenant_a", ["tkt-1"], fake_clock.now()) == 0
    assert stored(runtime, alert)["status"] == "pending"
    # That sender died; whoever claims the alert next looks before sending, and withdraws it.
    fake_clock.advance(31)
    assert runtime.delivery.drain().withdrawn == 1
    assert stored(runtime, alert)["status"] == "withdrawn"
    assert notify_report()["total_attempts"] == 0


def test_a_withdrawn_alert_cannot_be_retried(runtime, client, fake_clock):
    _alert_for_ticket(runtime, "tkt-1", deleted_at=fake_clock.now())
    runtime.delivery.drain()
    [withdrawn] = _listing(client, "withdrawn")
    body = assert_json_error(client.post(f"/notifications/{withdrawn['id']}/retry",
                                         query_string={"tenant_id": "tenant_a"}), 409)
    assert "withdrawn" in body["message"]
    assert client.post("/notifications/retry-dead", query_string={"tenant_id": "tenant_a"}).get_json()["retried"] == 0


def _listing(client, status: str) -> list[dict]:
    return client.get("/notifications", query_string={"tenant_id": "tenant_a", "status": status,
                                                      "page_size": 100}).get_json()["notifications"]
