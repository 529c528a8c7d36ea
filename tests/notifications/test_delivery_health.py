"""/health and /metrics say how alert delivery is doing: the notify circuit, the pending
count, the age of the oldest pending alert; /health explains a stall in ``warnings``
while its HTTP status still says only whether this instance can serve. Shared state:
what one worker did, another worker reports."""
from __future__ import annotations

import random

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ticketsvc.api.context import get_runtime
from ticketsvc.clock import utc
from ticketsvc.retry import Backoff
from ticketsvc.notifications.breaker import FAILURE


@pytest.fixture
def workers(notify_app):
    return notify_app(), notify_app()


def _open_the_circuit(runtime, clock) -> None:
    for _ in range(5):
        runtime.notify_breaker.record(runtime.notify_breaker.acquire(clock.now()), FAILURE, clock.now())


def _gauge(client, name: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    values = [sample.value for family in text_string_to_metric_families(text) for sample in family.samples
              if sample.name == name]
    assert len(values) == 1, (name, values)
    return values[0]


def test_health_explains_alerts_pending_behind_an_open_circuit_and_stays_200(workers, fake_clock, enqueue):
    first, second = workers
    runtime = get_runtime(first)
    enqueue(runtime, 1025)
    _open_the_circuit(runtime, fake_clock)
    fake_clock.advance(12)

    response = second.test_client().get("/health")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["notifications"] == {"pending": 1025, "dead": 0, "oldest_pending_age_s": 12.0,
                                     "longest_overdue_s": 12.0, "circuit": "open"}
    assert ("1025 alert(s) pending behind an open notify circuit since 2026-01-01T00:00:00Z; "
            "it lets a probe through at 2026-01-01T00:00:30Z") in body["warnings"]

    fake_clock.advance(30)
    body = second.test_client().get("/health").get_json()
    assert body["notifications"]["circuit"] == "half_open"
    assert any("behind a half-open notify circuit (open since 2026-01-01T00:00:00Z)" in w for w in body["warnings"])


def test_health_warns_when_due_alerts_wait_with_the_circuit_closed(workers, fake_clock, enqueue):
    first, second = workers
    enqueue(get_runtime(first), 3)
    client = second.test_client()
    fake_clock.advance(30)
    body = client.get("/health").get_json()
    assert body["notifications"]["longest_overdue_s"] == 30.0
    assert not any("alert" in w for w in body["warnings"])  # within a minute: just a queue

    fake_clock.advance(90)
    response = client.get("/health")
    assert response.status_code == 200
    assert ("3 alert(s) pending; one has been due for 120 s without being sent: delivery is behind or "
            "no worker is draining the outbox") in response.get_json()["warnings"]

    get_runtime(second).delivery.drain()
    body = client.get("/health").get_json()
    assert body["notifications"] == {"pending": 0, "dead": 0, "oldest_pending_age_s": None,
                                     "longest_overdue_s": None, "circuit": "closed"}
    assert not any("alert" in w for w in body["warnings"])


def test_an_alert_waiting_out_its_backoff_is_pending_but_not_overdue(notify_app, fake_clock, enqueue, notify_config):
    notify_config(fail_first_attempts=1, fail_share=1.0)
    app = notify_app()
    runtime = get_runtime(app)
    runtime.delivery.backoff = Backoff(600.0, 600.0, rng=random.Random(5))
    enqueue(runtime, 1)
    runtime.delivery.drain()  # fails once: due again minutes later
    wait_s = (utc(runtime.db.notifications.find_one()["next_attempt_at"]) - fake_clock.now()).total_seconds()
    assert wait_s > 120
    fake_clock.advance(wait_s - 1)
    body = app.test_client().get("/health").get_json()
    assert body["notifications"]["pending"] == 1 and body["notifications"]["longest_overdue_s"] is None
    assert not any("alert" in w for w in body["warnings"])


def test_metrics_show_the_circuit_the_pending_count_and_the_oldest_pending_age(workers, fake_clock, enqueue):
    first, second = workers
    runtime = get_runtime(first)
    enqueue(runtime, 4)
    fake_clock.advance(45)
    enqueue(runtime, 1, prefix="N")
    _open_the_circuit(runtime, fake_clock)
    client = second.test_client()

    assert _gauge(client, "ticketsvc_outbox_oldest_pending_age_seconds") == 45.0
    assert _gauge(client, "ticketsvc_outbox_longest_overdue_seconds") == 45.0
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))}
    pending = [s.value for s in families["ticketsvc_outbox_alerts"].samples if s.labels["status"] == "pending"]
    assert pending == [5.0]
    state = {s.labels["state"]: s.value for s in families["ticketsvc_circuit_breaker_state"].samples}
    assert state == {"closed": 0.0, "open": 1.0, "half_open": 0.0}

    get_runtime(second).notify_breaker.reset()
    get_runtime(second).delivery.drain()
    assert _gauge(client, "ticketsvc_outbox_oldest_pending_age_seconds") == 0.0
