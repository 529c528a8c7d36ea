"""The building blocks shared between workers: the tenant lease and the global rate limit."""
import threading

import pytest

from ticketsvc.ingestion.locks import LeaseHeld, LeaseLock
from ticketsvc.ingestion.ratelimit import SlidingWindowLimiter


@pytest.fixture
def leases(database, fake_clock):
    return LeaseLock(database.locks, ttl_s=60)


def test_lease_is_exclusive_until_it_expires(leases, fake_clock):
    leases.acquire("ingest:a", "job-1", fake_clock.now())
    with pytest.raises(LeaseHeld) as held:
        leases.acquire("ingest:a", "job-2", fake_clock.now())
    assert held.value.owner == "job-1"
    fake_clock.advance(61)
    leases.acquire("ingest:a", "job-2", fake_clock.now())
    assert leases.holder("ingest:a", fake_clock.now())["owner"] == "job-2"


def test_only_the_owner_refreshes_or_releases(leases, fake_clock):
    leases.acquire("ingest:a", "job-1", fake_clock.now())
    assert not leases.refresh("ingest:a", "job-2", fake_clock.now())
    assert not leases.release("ingest:a", "job-2")
    fake_clock.advance(50)
    assert leases.refresh("ingest:a", "job-1", fake_clock.now())
    fake_clock.advance(50)  # 100 s after taking it, alive thanks to the refresh
    assert leases.holder("ingest:a", fake_clock.now())["owner"] == "job-1"
    assert leases.release("ingest:a", "job-1")
    assert leases.holder("ingest:a", fake_clock.now()) is None


def test_a_lapsed_lease_cannot_be_refreshed_by_its_old_owner(leases, fake_clock):
    leases.acquire("ingest:a", "job-1", fake_clock.now())
    fake_clock.advance(61)
    assert not leases.refresh("ingest:a", "job-1", fake_clock.now())


def test_leases_of_different_tenants_are_independent(leases, fake_clock):
    leases.acquire("ingest:a", "job-1", fake_clock.now())
    leases.acquire("ingest:b", "job-2", fake_clock.now())


def _limiter(database, calls=3, window=10.0):
    limiter = SlidingWindowLimiter(database.rate_limits, name="external_api", calls=calls,
                                   window_s=window, in_flight_s=13, margin_s=0.0)
    limiter.prepare()
    return limiter


def test_limiter_grants_n_slots_then_waits_a_window_from_each_response(database, fake_clock):
    limiter = _limiter(database)
    permits = [limiter.try_acquire(fake_clock.now()) for _ in range(3)]
    assert all(permits) and limiter.try_acquire(fake_clock.now()) is None
    fake_clock.advance(2)
    for permit in permits:
        permit.release(fake_clock.now())  # responses arrive at t=2: each slot reopens at t=12
    fake_clock.advance(9.9)
    assert limiter.try_acquire(fake_clock.now()) is None
    assert limiter.wait_hint(fake_clock.now()) == pytest.approx(0.1, abs=1e-3)
    fake_clock.advance(0.1)
    assert limiter.try_acquire(fake_clock.now()) is not None


def test_unreleased_slot_frees_after_in_flight_bound_plus_window(database, fake_clock):
    limiter = _limiter(database, calls=1)
    assert limiter.try_acquire(fake_clock.now()) is not None  # its worker dies mid-call
    fake_clock.advance(22.9)
    assert limiter.try_acquire(fake_clock.now()) is None
    fake_clock.advance(0.2)
    assert limiter.try_acquire(fake_clock.now()) is not None


def test_two_processes_share_one_budget(database, fake_clock):
    first, second = _limiter(database), _limiter(database)
    granted = [first.try_acquire(fake_clock.now()), second.try_acquire(fake_clock.now()), first.try_acquire(fake_clock.now())]
    assert all(granted)
    assert second.try_acquire(fake_clock.now()) is None and first.try_acquire(fake_clock.now()) is None


def test_concurrent_callers_never_exceed_the_budget(database, fake_clock):
    limiter = _limiter(database, calls=5)
    granted = []
    barrier = threading.Barrier(20)

    def grab():
        barrier.wait()
        permit = limiter.try_acquire(fake_clock.now())
        if permit:
            granted.append(permit)

    threads = [threading.Thread(target=grab) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 5


def test_a_pause_stops_every_caller_until_it_ends(database, fake_clock):
    first, second = _limiter(database), _limiter(database)
    first.pause(5, fake_clock.now())
    assert second.try_acquire(fake_clock.now()) is None
    assert second.wait_hint(fake_clock.now()) == pytest.approx(5)
    first.pause(1, fake_clock.now())  # a shorter pause never shortens the running one
    fake_clock.advance(4.5)
    assert second.try_acquire(fake_clock.now()) is None
    fake_clock.advance(0.6)
    assert second.try_acquire(fake_clock.now()) is not None


def test_acquire_waits_through_the_given_wait_function(database, fake_clock):
    limiter = _limiter(database, calls=1)
    limiter.try_acquire(fake_clock.now()).release(fake_clock.now())
    waits = []

    def wait(seconds):
        waits.append(seconds)
        fake_clock.sleep(seconds)

    assert limiter.acquire(wait, fake_clock) is not None
    assert sum(waits) == pytest.approx(10, abs=0.05)
