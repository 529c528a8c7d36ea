"""Delivering the outbox to the mock's /notify over real HTTP: retries with backoff, dead
alerts, the shared circuit breaker, leases across workers. Time is a fake clock and the
drain is called directly, so every step is deterministic."""
from __future__ import annotations

import random
import threading
import time
from datetime import timedelta

from ticketsvc.clock import utc
from ticketsvc.notifications.breaker import CLOSED, HALF_OPEN, OPEN
from ticketsvc.retry import Backoff
from ticketsvc.api.context import get_runtime

from support import outbox_by_status


def assert_same_time(stored, expected):
    # MongoDB keeps milliseconds.
    assert abs((utc(stored) - expected).total_seconds()) < 0.002, (stored, expected)


def test_an_alert_is_posted_once_and_marked_delivered(notify_app, enqueue, stored, notify_report):
    runtime = get_runtime(notify_app())
    [alert] = enqueue(runtime, 1)
    stats = runtime.delivery.drain()
    assert stats.as_dict() == {"claimed": 1, "delivered": 1, "retried": 0, "dead": 0, "withdrawn": 0, "deferred": 0, "lost": 0}
    doc = stored(runtime, alert)
    assert doc["status"] == "delivered" and doc["attempts"] == 1
    assert_same_time(doc["delivered_at"], runtime.clock.now())
    assert doc["lease_until"] is None
    report = notify_report()
    assert report["successes"] == {"tenant_a:T0": 1} and report["unique_delivered"] == 1


def test_an_alert_whose_first_two_attempts_fail_is_delivered_once_after_backoff(
        notify_app, fake_clock, enqueue, stored, notify_config, notify_report):
    notify_config(fail_first_attempts=2, fail_share=1.0)
    runtime = get_runtime(notify_app(notify_backoff_base_s=1.0, notify_backoff_max_s=60.0))
    runtime.delivery.backoff = Backoff(1.0, 60.0, rng=random.Random(11))
    expected = Backoff(1.0, 60.0, rng=random.Random(11))
    [alert] = enqueue(runtime, 1)

    runtime.delivery.drain()
    first = stored(runtime, alert)
    assert first["status"] == "pending" and first["attempts"] == 1 and first["last_error"].startswith("HTTP 5")
    assert_same_time(first["next_attempt_at"], fake_clock.now() + timedelta(seconds=expected.delay(1)))

    runtime.delivery.drain()  # not due yet: no call
    assert notify_report()["total_attempts"] == 1

    fake_clock.advance((utc(first["next_attempt_at"]) - fake_clock.now()).total_seconds())
    runtime.delivery.drain()
    second = stored(runtime, alert)
    assert second["attempts"] == 2 and second["status"] == "pending"
    assert_same_time(second["next_attempt_at"], fake_clock.now() + timedelta(seconds=expected.delay(2)))

    fake_clock.advance((utc(second["next_attempt_at"]) - fake_clock.now()).total_seconds())
    runtime.delivery.drain()
    assert stored(runtime, alert)["status"] == "delivered" and stored(runtime, alert)["attempts"] == 3
    report = notify_report()
    assert report["attempts"] == {"tenant_a:T0": 3} and report["successes"] == {"tenant_a:T0": 1}


def test_backoff_is_full_jitter_under_an_exponential_ceiling():
    class Ceiling(random.Random):
        def uniform(self, a, b):
            return b

    backoff = Backoff(1.0, 60.0, rng=Ceiling())
    assert [backoff.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    jittered = Backoff(1.0, 60.0, rng=random.Random(3))
    delays = [jittered.delay(4) for _ in range(200)]
    assert all(0 <= d <= 8 for d in delays) and min(delays) < 1 and max(delays) > 7


def test_an_alert_that_runs_out_of_attempts_ends_dead_and_visible(
        notify_app, enqueue, stored, notify_config, notify_report):
    notify_config(fail_first_attempts=5, fail_share=1.0)
    app = notify_app(notify_max_attempts=3)
    runtime = get_runtime(app)
    [alert] = enqueue(runtime, 1)
    runtime.delivery.drain()  # backoff is zero in tests: all three attempts happen now
    doc = stored(runtime, alert)
    assert doc["status"] == "dead" and doc["attempts"] == 3 and doc["last_error"].startswith("HTTP 5")
    assert notify_report()["total_attempts"] == 3

    client = app.test_client()
    listed = client.get("/notifications", query_string={"tenant_id": "tenant_a", "status": "dead"}).get_json()
    assert [(n["ticket_id"], n["attempts"], n["last_error"]) for n in listed["notifications"]] == [
        ("T0", 3, doc["last_error"])]
    assert client.get("/health").get_json()["notifications"] == {
        "pending": 0, "dead": 1, "oldest_pending_age_s": None, "longest_overdue_s": None, "circuit": "closed"}


def test_a_client_error_marks_the_alert_dead_at_once(notify_app, enqueue, stored):
    runtime = get_runtime(notify_app())
    [alert] = enqueue(runtime, 1, urgency="critical")  # the endpoint accepts high|medium|low only
    runtime.delivery.drain()
    runtime.delivery.drain()
    doc = stored(runtime, alert)
    assert doc["status"] == "dead" and doc["attempts"] == 1
    assert doc["last_error"].startswith("HTTP 400") and "urgency" in doc["last_error"]
    # The endpoint answered: for the breaker that is not a failure.
    assert runtime.notify_breaker.status(runtime.clock.now())["window"] == ["success"]


def test_a_timeout_is_a_failed_attempt_and_a_breaker_failure(notify_app, enqueue, stored, notify_config):
    notify_config(latency_ms=[300, 300])
    runtime = get_runtime(notify_app(notify_timeout_s=0.05, notify_max_attempts=2))
    [alert] = enqueue(runtime, 1)
    runtime.delivery.drain()
    doc = stored(runtime, alert)
    assert doc["status"] == "dead" and doc["attempts"] == 2
    # The socket's read timeout and the call's deadline are both 0.05 s here: either may fire first.
    assert doc["last_error"] in ("timeout: ReadTimeout", "timeout: CallTimedOut")
    assert runtime.notify_breaker.status(runtime.clock.now())["window"] == ["failure", "failure"]


def test_an_unreachable_endpoint_is_a_failed_attempt(notify_app, enqueue, stored):
    runtime = get_runtime(notify_app(external_api_url="http://127.0.0.1:1", notify_max_attempts=2))
    [alert] = enqueue(runtime, 1)
    runtime.delivery.drain()
    doc = stored(runtime, alert)
    assert doc["status"] == "dead" and doc["attempts"] == 2
    assert doc["last_error"] == "connection error: ConnectionError"


def test_an_open_circuit_makes_no_call_and_spends_no_attempt(
        notify_app, enqueue, stored, mock_upstream, notify_report):
    mock_upstream.admin("POST", "/admin/faults", json={"notify_outage_s": 3600})
    runtime = get_runtime(notify_app(notify_concurrency=1))
    alerts = enqueue(runtime, 8)
    runtime.delivery.drain()
    status = runtime.notify_breaker.status(runtime.clock.now())
    assert status["state"] == OPEN and status["failure_count"] == 5
    assert notify_report()["total_attempts"] == 5
    records = [stored(runtime, a) for a in alerts]
    assert [r["attempts"] for r in records] == [1] * 5 + [0] * 3
    for held in records[5:]:  # claimed, then handed back until the circuit may let a call through
        assert held["status"] == "pending" and held["lease_until"] is None
        assert_same_time(held["next_attempt_at"], utc(status["retry_at"]))

    runtime.delivery.drain()
    assert notify_report()["total_attempts"] == 5
    assert [stored(runtime, a)["attempts"] for a in alerts] == [1] * 5 + [0] * 3


def test_after_an_outage_every_alert_is_delivered_exactly_once(
        notify_app, fake_clock, enqueue, stored, mock_upstream, notify_report):
    mock_upstream.admin("POST", "/admin/faults", json={"notify_outage_s": 3600})
    runtime = get_runtime(notify_app(cb_open_s=30.0))
    alerts = enqueue(runtime, 40)
    runtime.delivery.drain()
    assert runtime.notify_breaker.status(fake_clock.now())["state"] == OPEN
    assert outbox_by_status(runtime) == {"pending": 40, "delivered": 0, "dead": 0, "withdrawn": 0}
    calls_during_outage = notify_report()["total_attempts"]
    assert calls_during_outage < 40

    mock_upstream.admin("DELETE", "/admin/faults")  # the endpoint recovers
    fake_clock.advance(30)
    runtime.delivery.drain()
    assert runtime.notify_breaker.status(fake_clock.now())["state"] == CLOSED
    assert outbox_by_status(runtime) == {"pending": 0, "delivered": 40, "dead": 0, "withdrawn": 0}
    report = notify_report()
    assert report["successes"] == {f"tenant_a:{a.ticket_id}": 1 for a in alerts}
    assert report["total_attempts"] == calls_during_outage + 40


def test_half_open_lets_one_probe_through_across_workers_and_threads(
        notify_app, fake_clock, enqueue, mock_upstream, notify_report):
    mock_upstream.admin("POST", "/admin/faults", json={"notify_outage_s": 3600})
    workers = [get_runtime(notify_app()) for _ in range(2)]
    enqueue(workers[0], 30)
    workers[0].delivery.drain()
    assert workers[1].notify_breaker.gate(fake_clock.now()) == OPEN
    before = notify_report()["total_attempts"]

    fake_clock.advance(30)
    assert workers[1].notify_breaker.status(fake_clock.now())["state"] == HALF_OPEN
    start = threading.Barrier(6)

    def drain(runtime):
        start.wait()
        runtime.delivery.drain()

    threads = [threading.Thread(target=drain, args=(workers[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert notify_report()["total_attempts"] == before + 1  # the probe; it failed
    status = workers[0].notify_breaker.status(fake_clock.now())
    assert status["state"] == OPEN and status["opened_at"] == fake_clock.now()


def test_two_app_instances_share_one_breaker(notify_app, fake_clock, enqueue, mock_upstream, notify_report):
    first, second = notify_app(), notify_app()
    mock_upstream.admin("POST", "/admin/faults", json={"notify_outage_s": 3600})
    enqueue(get_runtime(first), 10)
    get_runtime(first).delivery.drain()
    calls = notify_report()["total_attempts"]

    status = second.test_client().get("/circuit/notify/status").get_json()
    assert status["state"] == "open" and status["failure_count"] >= 5
    get_runtime(second).delivery.drain()
    assert notify_report()["total_attempts"] == calls

    mock_upstream.admin("DELETE", "/admin/faults")
    assert second.test_client().post("/circuit/notify/reset").get_json()["state"] == "closed"
    assert first.test_client().get("/circuit/notify/status").get_json()["state"] == "closed"
    fake_clock.advance(30)  # alerts held back by the open circuit were due at its retry_at
    get_runtime(first).delivery.drain()
    assert outbox_by_status(get_runtime(first))["delivered"] == 10


def test_a_dead_senders_claim_is_delivered_by_another_instance_after_its_lease(
        notify_app, fake_clock, enqueue, stored, notify_report):
    crashed = get_runtime(notify_app(notify_lease_s=30.0))
    survivor = get_runtime(notify_app(notify_lease_s=30.0))
    [alert] = enqueue(crashed, 1)
    [claim] = crashed.outbox.claim(fake_clock.now(), 30.0, 10)  # ...and then the worker dies

    survivor.delivery.drain()
    assert notify_report()["total_attempts"] == 0  # the lease still holds

    fake_clock.advance(30)
    survivor.delivery.drain()
    doc = stored(survivor, alert)
    assert doc["status"] == "delivered" and doc["attempts"] == 1
    assert notify_report()["successes"] == {"tenant_a:T0": 1}

    # The first sender comes back late: its claim no longer counts and changes nothing.
    assert crashed.outbox.retry(claim, "late", fake_clock.now()) is False
    assert crashed.outbox.complete(claim, fake_clock.now()) is False
    assert stored(survivor, alert)["status"] == "delivered" and stored(survivor, alert)["attempts"] == 1


def test_concurrent_workers_never_send_the_same_alert_twice(notify_app, enqueue, notify_report):
    workers = [get_runtime(notify_app(notify_batch_size=5)) for _ in range(3)]
    alerts = enqueue(workers[0], 60)
    threads = [threading.Thread(target=w.delivery.drain) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = notify_report()
    assert report["total_attempts"] == 60
    assert report["successes"] == {f"tenant_a:{a.ticket_id}": 1 for a in alerts}


def test_the_scheduler_drains_the_outbox_in_the_background(make_app, enqueue, notify_report):
    runtime = get_runtime(make_app(notify_poll_s=0.05))  # real clock
    enqueue(runtime, 25)
    runtime.start_background()
    deadline = time.monotonic() + 15
    while outbox_by_status(runtime)["delivered"] < 25 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert outbox_by_status(runtime) == {"pending": 0, "delivered": 25, "dead": 0, "withdrawn": 0}
    assert notify_report()["total_successes"] == 25
