"""Fair delivery: one tenant's flood of alerts does not hold back another tenant's.

Measured where it matters: the order in which the mock's ``/notify`` (real HTTP) receives
the alerts. Tenant A queues thousands first; tenant B's 30, queued a minute later, must
all arrive within the first two batches (one batch of delay at most), not after A's
flood. The drains stop once those batches are sent: the rest of the flood would only
take time.
"""
from __future__ import annotations

import threading
from datetime import timedelta

from ticketsvc.api.context import get_runtime
from ticketsvc.notifications.outbox import Alert

BATCH = 32
FLOOD = 2000
FEW = 30


def _positions(arrivals: list[str], tenant_id: str) -> list[int]:
    return [i for i, key in enumerate(arrivals) if key.startswith(tenant_id + ":")]


def _stop_after(runtimes, outcomes: int) -> None:
    """Stop every worker's delivery once ``outcomes`` sends have been recorded between them."""
    seen, lock = [0], threading.Lock()

    def count(outcome: str) -> None:
        with lock:
            seen[0] += 1
            done = seen[0] >= outcomes
        if done:
            for runtime in runtimes:
                runtime.delivery.stop()

    for runtime in runtimes:
        runtime.delivery.on_outcome = count


def _flood_then_few(runtime, fake_clock, enqueue) -> None:
    enqueue(runtime, FLOOD, tenant_id="tenant_a", prefix="A")
    fake_clock.advance(60)
    enqueue(runtime, FEW, tenant_id="tenant_b", prefix="B")


def test_a_flood_from_one_tenant_delays_another_tenants_alerts_by_at_most_one_batch(
        notify_app, fake_clock, enqueue, notify_report):
    # One sender thread: the mock sees alerts in exactly the order they were claimed.
    runtime = get_runtime(notify_app(notify_batch_size=BATCH, notify_concurrency=1))
    _flood_then_few(runtime, fake_clock, enqueue)
    _stop_after([runtime], 2 * BATCH)

    runtime.delivery.drain()

    arrivals = notify_report()["arrivals"]
    assert 2 * BATCH <= len(arrivals) < 3 * BATCH and len(set(arrivals)) == len(arrivals)
    b = _positions(arrivals, "tenant_b")
    assert len(b) == FEW, f"B's alerts among the first {len(arrivals)} sent: {len(b)} of {FEW}"
    assert b[0] < 2, "B's first alert goes out at the head of the first batch"
    assert b[-1] < 2 * BATCH
    # A is not starved: its alerts fill what B does not need, oldest first.
    a = [key for key in arrivals if key.startswith("tenant_a:")]
    assert len(a) >= BATCH and a[:3] == ["tenant_a:A0", "tenant_a:A1", "tenant_a:A2"]


def test_two_workers_over_one_outbox_share_it_fairly_and_send_nothing_twice(
        notify_app, fake_clock, enqueue, notify_report):
    workers = [get_runtime(notify_app(notify_batch_size=BATCH, notify_concurrency=4)) for _ in range(2)]
    _flood_then_few(workers[0], fake_clock, enqueue)
    _stop_after(workers, 4 * BATCH)

    threads = [threading.Thread(target=worker.delivery.drain) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    arrivals = notify_report()["arrivals"]
    assert len(set(arrivals)) == len(arrivals), "an alert was sent twice"
    b = _positions(arrivals, "tenant_b")
    # Each worker's first two batches: B's 30 are all among them.
    assert len(b) == FEW and b[-1] < 4 * BATCH, b


def test_claims_go_round_robin_when_more_tenants_are_due_than_a_batch_has_room_for(make_app, fake_clock):
    outbox = get_runtime(make_app(clock=fake_clock)).outbox
    tenants = [f"t{i}" for i in range(5)]
    outbox.enqueue([Alert(t, f"{t}-{n}", "high", "r", f"{t}:{n}") for t in tenants for n in range(3)], fake_clock.now())

    served = []
    for _ in range(5):
        claims = outbox.claim(fake_clock.now(), lease_s=30, limit=2)
        served.append([c.alert.tenant_id for c in claims])
    assert served == [["t0", "t1"], ["t2", "t3"], ["t4", "t0"], ["t1", "t2"], ["t3", "t4"]]


def test_a_tenants_share_it_does_not_need_goes_to_the_others(make_app, fake_clock):
    outbox = get_runtime(make_app(clock=fake_clock)).outbox
    outbox.enqueue([Alert("big", f"b{n}", "high", "r", f"big:{n}") for n in range(20)]
                   + [Alert("small", "s0", "high", "r", "small:0")], fake_clock.now())
    claims = outbox.claim(fake_clock.now(), lease_s=30, limit=8)
    assert [c.alert.ticket_id for c in claims] == ["b0", "s0", "b1", "b2", "b3", "b4", "b5", "b6"]


def test_within_a_tenant_the_longest_due_alert_goes_first(make_app, fake_clock):
    outbox = get_runtime(make_app(clock=fake_clock)).outbox
    start = fake_clock.now()
    outbox.enqueue([Alert("t", "old", "high", "r", "t:old")], start)
    fake_clock.advance(10)
    outbox.enqueue([Alert("t", "new", "high", "r", "t:new")], fake_clock.now())
    [old] = outbox.claim(start, lease_s=5, limit=1)  # only "old" is due then
    assert old.alert.ticket_id == "old"
    outbox.retry(old, "HTTP 503", fake_clock.now() + timedelta(seconds=30))  # due again later than "new"
    fake_clock.advance(60)
    assert [c.alert.ticket_id for c in outbox.claim(fake_clock.now(), lease_s=5, limit=2)] == ["new", "old"]


def test_small_tenants_share_one_query_and_a_tenant_cut_off_by_it_is_read_again_in_full(make_app, fake_clock):
    outbox = get_runtime(make_app(clock=fake_clock)).outbox
    sizes = {"a": 1, "b": 1, "c": 5}
    outbox.enqueue([Alert(t, f"{t}{n}", "high", "r", f"{t}:{n}") for t, size in sizes.items() for n in range(size)],
                   fake_clock.now())
    # The first query's 4 rows are a0, b0, c0, c1: c is cut off, and read again from its start.
    claims = outbox.claim(fake_clock.now(), lease_s=30, limit=4)
    assert [c.alert.ticket_id for c in claims] == ["a0", "b0", "c0", "c1"]
    assert [c.alert.ticket_id for c in outbox.claim(fake_clock.now(), lease_s=30, limit=4)] == ["c2", "c3", "c4"]
