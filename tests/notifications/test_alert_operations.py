"""Alert operations: every alert has an id; a dead alert (or all of a tenant's) can be put
back to pending with fresh attempts and the same idempotency key, by that tenant's key or
an admin key, and the alert records who did it and when.

Alerts die for real: the mock's ``/notify`` (real HTTP) fails their only attempt."""
from __future__ import annotations

import logging

import pytest

from support import assert_json_error, outbox_by_status
from ticketsvc.api.context import get_runtime

ADMIN_KEY = "alert-ops-admin-" + "k" * 32


@pytest.fixture
def failing_notify(notify_config):
    """Every alert's first attempt is refused with a 5xx; with one attempt allowed, it dies."""
    notify_config(fail_first_attempts=1, fail_share=1.0)


@pytest.fixture
def app(notify_app, failing_notify):
    return notify_app(notify_max_attempts=1)


@pytest.fixture
def runtime(app):
    return get_runtime(app)


def _listed(client, tenant_id="tenant_a", **query) -> list[dict]:
    return client.get("/notifications", query_string={"tenant_id": tenant_id, **query}).get_json()["notifications"]


def _kill(runtime, enqueue, count, tenant_id="tenant_a", prefix="T"):
    alerts = enqueue(runtime, count, tenant_id=tenant_id, prefix=prefix)
    runtime.delivery.drain()
    return alerts


def test_every_alert_has_a_stable_id_in_the_listing(client, runtime, enqueue, fake_clock):
    enqueue(runtime, 3)
    first = [n["id"] for n in _listed(client)]
    runtime.delivery.drain()
    fake_clock.advance(60)
    assert len(set(first)) == 3 and all(len(i) == 24 for i in first)
    assert [n["id"] for n in _listed(client)] == first  # the same ids after delivery changed them


def test_retrying_a_dead_alert_puts_it_back_to_pending_with_fresh_attempts_and_the_same_key(
        client, runtime, enqueue, stored, fake_clock, notify_report, notify_config):
    [alert] = _kill(runtime, enqueue, 1)
    [dead] = _listed(client, status="dead")
    assert dead["attempts"] == 1 and dead["last_error"].startswith("HTTP 5")
    fake_clock.advance(3600)

    response = client.post(f"/notifications/{dead['id']}/retry", query_string={"tenant_id": "tenant_a"})

    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == dead["id"] and body["status"] == "pending" and body["attempts"] == 0
    assert body["next_attempt_at"] == body["retried_at"] == "2026-01-01T01:00:00Z"
    assert body["retried_by"] == "anonymous (AUTH_MODE=off)" and body["retries"] == 1
    assert stored(runtime, alert)["dedupe_key"] == alert.dedupe_key  # the idempotency key sent upstream

    notify_config(fail_first_attempts=0)
    runtime.delivery.drain()
    assert stored(runtime, alert)["status"] == "delivered" and stored(runtime, alert)["attempts"] == 1
    report = notify_report()
    assert report["attempts"] == {"tenant_a:T0": 2} and report["successes"] == {"tenant_a:T0": 1}


def test_a_retry_is_logged_with_who_did_it(client, runtime, enqueue, caplog):
    _kill(runtime, enqueue, 1)
    [dead] = _listed(client, status="dead")
    with caplog.at_level(logging.INFO, logger="ticketsvc.notifications.outbox"):
        client.post(f"/notifications/{dead['id']}/retry", query_string={"tenant_id": "tenant_a"})
    assert f"dead alert retried id={dead['id']} tenant=tenant_a ticket=T0 by=anonymous (AUTH_MODE=off)" in [
        r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("status", ["pending", "delivered"])
def test_only_a_dead_alert_can_be_retried(client, runtime, enqueue, notify_config, status):
    enqueue(runtime, 1)
    if status == "delivered":
        notify_config(fail_first_attempts=0)
        runtime.delivery.drain()
    [alert] = _listed(client)
    assert alert["status"] == status
    body = assert_json_error(client.post(f"/notifications/{alert['id']}/retry", query_string={"tenant_id": "tenant_a"}),
                             409)
    assert status in body["message"]
    assert _listed(client)[0]["status"] == status


def test_retrying_another_tenants_alert_or_an_unknown_one_is_404(client, runtime, enqueue):
    _kill(runtime, enqueue, 1, tenant_id="tenant_b")
    [theirs] = _listed(client, tenant_id="tenant_b")
    assert_json_error(client.post(f"/notifications/{theirs['id']}/retry", query_string={"tenant_id": "tenant_a"}), 404)
    assert_json_error(client.post("/notifications/" + "0" * 24 + "/retry", query_string={"tenant_id": "tenant_a"}), 404)
    assert _listed(client, tenant_id="tenant_b")[0]["status"] == "dead"


@pytest.mark.parametrize("path, query, field", [
    ("/notifications/not-an-id/retry", {"tenant_id": "tenant_a"}, "notification_id"),
    ("/notifications/" + "a" * 24 + "/retry", {}, "tenant_id"),
    ("/notifications/retry-dead", {"tenant_id": "bad tenant!"}, "tenant_id"),
    ("/notifications/retry-dead", {}, "tenant_id"),
])
def test_bad_retry_input_is_422_naming_the_field(client, path, query, field):
    assert_json_error(client.post(path, query_string=query), 422, field)


def test_retry_dead_puts_back_every_dead_alert_of_the_tenant_and_no_other(client, runtime, enqueue, notify_config):
    _kill(runtime, enqueue, 3, prefix="D")
    _kill(runtime, enqueue, 1, tenant_id="tenant_b")
    enqueue(runtime, 1, prefix="P")  # pending: untouched

    response = client.post("/notifications/retry-dead", query_string={"tenant_id": "tenant_a"})

    assert response.status_code == 200 and response.get_json() == {"tenant_id": "tenant_a", "retried": 3}
    mine = {n["ticket_id"]: n for n in _listed(client)}
    assert {t: (n["status"], n["attempts"], n["retries"]) for t, n in mine.items()} == {
        "D0": ("pending", 0, 1), "D1": ("pending", 0, 1), "D2": ("pending", 0, 1), "P0": ("pending", 0, 0)}
    assert _listed(client, tenant_id="tenant_b")[0]["status"] == "dead"
    assert client.post("/notifications/retry-dead", query_string={"tenant_id": "tenant_a"}).get_json()["retried"] == 0

    notify_config(fail_first_attempts=0)
    runtime.delivery.drain()
    assert outbox_by_status(runtime, "tenant_a")["delivered"] == 4


def test_an_alert_retried_on_one_worker_is_delivered_by_another(
        notify_app, failing_notify, enqueue, notify_config, notify_report):
    first, second = notify_app(notify_max_attempts=1), notify_app(notify_max_attempts=1)
    _kill(get_runtime(first), enqueue, 2)
    assert first.test_client().post("/notifications/retry-dead",
                                    query_string={"tenant_id": "tenant_a"}).get_json()["retried"] == 2
    notify_config(fail_first_attempts=0)
    get_runtime(second).delivery.drain()
    assert notify_report()["successes"] == {"tenant_a:T0": 1, "tenant_a:T1": 1}


# -- with API keys -------------------------------------------------------------------------
@pytest.fixture
def keys_app(notify_app, failing_notify):
    return notify_app(notify_max_attempts=1, auth_mode="keys", admin_api_key=ADMIN_KEY)


def _key(runtime, **scope) -> tuple[dict, str]:
    record, secret = runtime.api_keys.create(name="ops", **scope)
    return {"Authorization": f"Bearer {secret}"}, record["key_id"]


def test_a_tenant_key_retries_only_its_own_tenants_alerts_and_is_named_on_them(keys_app, enqueue):
    runtime, client = get_runtime(keys_app), keys_app.test_client()
    _kill(runtime, enqueue, 1)
    _kill(runtime, enqueue, 1, tenant_id="tenant_b")
    a_key, a_key_id = _key(runtime, tenant_id="tenant_a")
    admin, admin_key_id = _key(runtime, admin=True)
    ours = str(runtime.db.notifications.find_one({"tenant_id": "tenant_a"})["_id"])
    theirs = str(runtime.db.notifications.find_one({"tenant_id": "tenant_b"})["_id"])

    assert client.post(f"/notifications/{theirs}/retry", query_string={"tenant_id": "tenant_b"},
                       headers=a_key).status_code == 403
    assert client.post("/notifications/retry-dead", query_string={"tenant_id": "tenant_b"},
                       headers=a_key).status_code == 403
    assert client.post(f"/notifications/{theirs}/retry", query_string={"tenant_id": "tenant_a"},
                       headers=a_key).status_code == 404
    assert client.post(f"/notifications/{ours}/retry", query_string={"tenant_id": "tenant_a"}).status_code == 401

    mine = client.post(f"/notifications/{ours}/retry", query_string={"tenant_id": "tenant_a"}, headers=a_key)
    assert mine.status_code == 200 and mine.get_json()["retried_by"] == a_key_id
    assert client.post("/notifications/retry-dead", query_string={"tenant_id": "tenant_b"},
                       headers=admin).get_json() == {"tenant_id": "tenant_b", "retried": 1}
    assert runtime.db.notifications.find_one({"tenant_id": "tenant_b"})["retried_by"] == admin_key_id
