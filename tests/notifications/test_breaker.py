"""The circuit breaker's states and transitions, on its storage document and a fake clock."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from ticketsvc.notifications.breaker import (
    CLOSED, FAILURE, HALF_OPEN, OPEN, SUCCESS, CircuitBreaker, CircuitOpen, Permit,
)

OPEN_S = 30.0
PROBE_LEASE_S = 5.0


@pytest.fixture
def breaker(database):
    return CircuitBreaker(database.circuit_breakers, "notify", window_size=10, failure_threshold=5,
                          open_s=OPEN_S, probe_lease_s=PROBE_LEASE_S)


def calls(breaker, clock, outcomes: str) -> None:
    """Make one call per letter (``F`` fails, ``S`` succeeds), each under its own permit."""
    for letter in outcomes:
        now = clock.now()
        breaker.record(breaker.acquire(now), FAILURE if letter == "F" else SUCCESS, now)


def trip(breaker, clock) -> None:
    calls(breaker, clock, "FFFFF")
    assert breaker.status(clock.now())["state"] == OPEN


def test_a_new_circuit_is_closed_with_an_empty_window(breaker, fake_clock):
    assert breaker.status(fake_clock.now()) == {
        "name": "notify", "state": CLOSED, "failure_count": 0, "window": [], "opened_at": None, "retry_at": None,
    }
    assert breaker.acquire(fake_clock.now()) == Permit()


def test_stays_closed_while_fewer_than_threshold_of_the_window_failed(breaker, fake_clock):
    calls(breaker, fake_clock, "FSFSFSFSSS")
    status = breaker.status(fake_clock.now())
    assert status["state"] == CLOSED and status["failure_count"] == 4
    assert status["window"] == ["failure", "success"] * 3 + ["failure"] + ["success"] * 3


def test_opens_when_threshold_of_the_last_window_calls_failed(breaker, fake_clock):
    calls(breaker, fake_clock, "SFSFFSF")
    assert breaker.status(fake_clock.now())["state"] == CLOSED
    calls(breaker, fake_clock, "F")
    now = fake_clock.now()
    status = breaker.status(now)
    assert status["state"] == OPEN and status["failure_count"] == 5
    assert status["opened_at"] == now and status["retry_at"] == now + timedelta(seconds=OPEN_S)
    assert breaker.snapshot()["trips"] == 1


def test_failures_that_slid_out_of_the_window_no_longer_count(breaker, fake_clock):
    calls(breaker, fake_clock, "FFFF" + "S" * 10 + "FFFF")
    status = breaker.status(fake_clock.now())
    assert status["state"] == CLOSED and len(status["window"]) == 10 and status["failure_count"] == 4


def test_an_open_circuit_refuses_calls_until_retry_at(breaker, fake_clock):
    trip(breaker, fake_clock)
    fake_clock.advance(OPEN_S - 1)
    with pytest.raises(CircuitOpen) as refused:
        breaker.acquire(fake_clock.now())
    assert refused.value.retry_at == breaker.status(fake_clock.now())["retry_at"]
    assert breaker.gate(fake_clock.now()) == OPEN


def test_an_open_circuit_turns_half_open_after_the_open_period(breaker, fake_clock):
    trip(breaker, fake_clock)
    fake_clock.advance(OPEN_S)
    assert breaker.status(fake_clock.now())["state"] == HALF_OPEN
    assert breaker.gate(fake_clock.now()) == HALF_OPEN
    assert breaker.acquire(fake_clock.now()).is_probe


def test_half_open_lets_exactly_one_probe_through(breaker, fake_clock):
    trip(breaker, fake_clock)
    fake_clock.advance(OPEN_S)
    breaker.acquire(fake_clock.now())
    with pytest.raises(CircuitOpen) as refused:
        breaker.acquire(fake_clock.now())
    assert refused.value.retry_at == fake_clock.now() + timedelta(seconds=PROBE_LEASE_S)
    assert breaker.gate(fake_clock.now()) == OPEN


def test_a_successful_probe_closes_the_circuit_and_clears_its_window(breaker, fake_clock):
    trip(breaker, fake_clock)
    fake_clock.advance(OPEN_S)
    probe = breaker.acquire(fake_clock.now())
    breaker.record(probe, SUCCESS, fake_clock.now())
    assert breaker.status(fake_clock.now()) == {
        "name": "notify", "state": CLOSED, "failure_count": 0, "window": [], "opened_at": None, "retry_at": None,
    }
    assert breaker.acquire(fake_clock.now()) == Permit()


def test_a_failed_probe_reopens_the_circuit_for_another_open_period(breaker, fake_clock):
    trip(breaker, fake_clock)
    fake_clock.advance(OPEN_S)
    probe = breaker.acquire(fake_clock.now())
    fake_clock.advance(1)
    breaker.record(probe, FAILURE, fake_clock.now())
    status = breaker.status(fake_clock.now())
    assert status["state"] == OPEN
    assert status["opened_at"] == fake_clock.now()
    assert status["retry_at"] == fake_clock.now() + timedelta(seconds=OPEN_S)
    assert breaker.snapshot()["trips"] == 2


def test_a_probe_whose_caller_died_is_let_through_again_after_its_lease(breaker, fake_clock):
    trip(breaker, fake_clock)
    fake_clock.advance(OPEN_S)
    lost_probe = breaker.acquire(fake_clock.now())
    fake_clock.advance(PROBE_LEASE_S)
    second_probe = breaker.acquire(fake_clock.now())
    assert second_probe.is_probe and second_probe != lost_probe
    # The first prober's late report belongs to a lease that lapsed: it decides nothing.
    breaker.record(lost_probe, SUCCESS, fake_clock.now())
    assert breaker.gate(fake_clock.now()) == OPEN
    breaker.record(second_probe, SUCCESS, fake_clock.now())
    assert breaker.status(fake_clock.now())["state"] == CLOSED


def test_outcomes_of_calls_in_flight_when_it_opened_are_ignored(breaker, fake_clock):
    now = fake_clock.now()
    permits = [breaker.acquire(now) for _ in range(8)]
    for permit in permits[:5]:
        breaker.record(permit, FAILURE, now)
    window = breaker.status(now)["window"]
    for permit in permits[5:]:
        breaker.record(permit, SUCCESS, now)
    status = breaker.status(now)
    assert status["state"] == OPEN and status["window"] == window


def test_only_one_of_many_concurrent_callers_gets_the_probe(breaker, fake_clock):
    trip(breaker, fake_clock)
    fake_clock.advance(OPEN_S)
    start = threading.Barrier(16)
    permits, refusals = [], []

    def call():
        start.wait()
        try:
            permits.append(breaker.acquire(fake_clock.now()))
        except CircuitOpen:
            refusals.append(1)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(permits) == 1 and permits[0].is_probe and len(refusals) == 15


def test_concurrent_failures_trip_it_once_and_keep_the_window_bounded(breaker, fake_clock):
    now = fake_clock.now()
    permits = [breaker.acquire(now) for _ in range(24)]
    start = threading.Barrier(len(permits))

    def fail(permit):
        start.wait()
        breaker.record(permit, FAILURE, now)

    threads = [threading.Thread(target=fail, args=(permit,)) for permit in permits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    doc = breaker.snapshot()
    assert doc["state"] == OPEN and doc["trips"] == 1
    assert 5 <= len(doc["window"]) <= 10


def test_reset_closes_an_open_circuit_and_forgets_its_window(breaker, fake_clock):
    trip(breaker, fake_clock)
    breaker.reset()
    assert breaker.status(fake_clock.now()) == {
        "name": "notify", "state": CLOSED, "failure_count": 0, "window": [], "opened_at": None, "retry_at": None,
    }
    assert breaker.acquire(fake_clock.now()) == Permit()
