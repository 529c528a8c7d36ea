"""Server time for shared deadlines: every host reads the database server's clock (its own
clock plus the offset measured from ``hello``'s ``localTime``), so hosts whose clocks
disagree still agree on when a lease lapses, a rate-limit slot reopens or a pause ends.

The hosts and the server are played by ``SkewedClock``s over one true time: a ``FakeClock``
for the specifications, the system clock where a real upstream counts calls in real time.
``server=None`` plays the embedded engine (the server is this process: offset 0), which is
also how a test shows what happens without a server clock.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from pymongo.errors import AutoReconnect

from conftest import base_settings, mock_config, real_mongo_required
from ingestion.executors import DeadWorker
from mock_api.testing import MockUpstreamServer
from support import ingest_on_workers
from ticketsvc import create_app
from ticketsvc.api.context import get_runtime
from ticketsvc.clock import Clock, FakeClock, SystemClock
from ticketsvc.ingestion.ratelimit import SlidingWindowLimiter
from ticketsvc.ingestion.runner import IngestionRunner
from ticketsvc.storage import Database
from ticketsvc.storage.migrate import migrate
from ticketsvc.storage.servertime import REMEASURE_S, ServerClock


class SkewedClock:
    """A host's (or the server's) clock: true time ``base`` plus a fixed ``skew``."""

    def __init__(self, base: Clock, skew_s: float):
        self.base = base
        self.skew = timedelta(seconds=skew_s)

    def now(self) -> datetime:
        return self.base.now() + self.skew

    def sleep(self, seconds: float) -> None:
        self.base.sleep(seconds)


class StandInServer:
    """A server whose clock is ``clock``; each answer takes ``legs[i]`` (out, back) seconds
    of true time (a ``FakeClock`` the test owns) for the i-th question."""

    def __init__(self, clock: Clock, truth: FakeClock | None = None, legs=((0.0, 0.0),)):
        self.clock = clock
        self.truth = truth
        self.legs = list(legs)
        self.asked = 0

    def server_time(self) -> datetime:
        out, back = self.legs[min(self.asked, len(self.legs) - 1)]
        self.asked += 1
        if self.truth is not None:
            self.truth.advance(out)
        answer = self.clock.now()
        if self.truth is not None:
            self.truth.advance(back)
        return answer


class StandInServerDatabase(Database):
    """The embedded engine answering ``server_time`` as a server whose clock is ``server``
    (None: as the embedded engine does, the server being this process)."""

    def __init__(self, settings, server: Clock | None):
        super().__init__(settings)
        self.server = server

    def server_time(self) -> datetime | None:
        return None if self.server is None else self.server.now()


@pytest.fixture
def truth() -> FakeClock:
    return FakeClock()


def test_the_offset_is_the_server_time_at_the_middle_of_the_round_trip(truth):
    host = SkewedClock(truth, +2.0)
    server = StandInServer(SkewedClock(truth, -0.5), truth, legs=[(0.1, 0.1)])
    clock = ServerClock(host, server)
    assert clock.measure() == timedelta(seconds=-2.5)
    assert clock.now() == server.clock.now()


def test_the_sample_with_the_shortest_round_trip_is_kept(truth):
    host = SkewedClock(truth, 0.0)
    # Lopsided slow answers would put the offset 0.4 s off; the quick one bounds it to 1 ms.
    server = StandInServer(SkewedClock(truth, 3.0), truth, legs=[(0.9, 0.1), (0.001, 0.001), (0.1, 0.9)])
    clock = ServerClock(host, server)
    assert abs(clock.measure() - timedelta(seconds=3)) <= timedelta(milliseconds=1)
    assert server.asked == 3


def test_a_slow_round_trip_is_logged_as_uncertainty(truth, caplog):
    server = StandInServer(SkewedClock(truth, 0.0), truth, legs=[(0.1, 0.1)])
    with caplog.at_level(logging.WARNING, logger="ticketsvc.storage.servertime"):
        ServerClock(SkewedClock(truth, 0.0), server).measure()
    assert "200 ms round trip" in caplog.text


def test_re_measuring_corrects_a_host_clock_stepped_since(truth):
    host = SkewedClock(truth, 0.0)
    server = StandInServer(SkewedClock(truth, 0.0))
    clock = ServerClock(host, server)
    clock.measure()
    host.skew = timedelta(seconds=5)  # an operator (or NTP) stepped the host clock
    assert clock.now() - truth.now() == timedelta(seconds=5)
    clock.refresh()
    assert clock.now() == truth.now()


def test_a_failed_re_measure_keeps_the_last_offset_and_says_so(truth, caplog):
    class Unreachable:
        def server_time(self):
            raise AutoReconnect("primary stepped down")

    clock = ServerClock(SkewedClock(truth, 1.0), StandInServer(SkewedClock(truth, 0.0)))
    clock.measure()
    clock.server = Unreachable()
    with caplog.at_level(logging.WARNING, logger="ticketsvc.storage.servertime"):
        clock.refresh()
    assert clock.offset == timedelta(seconds=-1) and "could not re-measure" in caplog.text
    with pytest.raises(AutoReconnect):
        clock.measure()  # at start-up a failure is the start-up's to report


def test_on_the_embedded_engine_the_server_is_this_process(fake_clock):
    database = Database(base_settings(mongo_url="mongomock://"))
    try:
        assert database.server_time() is None
        clock = ServerClock(fake_clock, database)
        assert clock.measure() == timedelta(0) and clock.now() == fake_clock.now()
    finally:
        database.close()


def test_sleeping_is_the_host_clocks(truth):
    clock = ServerClock(SkewedClock(truth, 0.0), StandInServer(SkewedClock(truth, 7.0)))
    before = truth.now()
    clock.sleep(1.5)
    assert truth.now() - before == timedelta(seconds=1.5)


def test_the_runtime_reads_server_time_measured_at_start_and_re_measured_by_the_scheduler(settings, truth,
                                                                                          packaged_classifier):
    server = SkewedClock(truth, 30.0)
    database = StandInServerDatabase(settings, server)
    try:
        runtime = get_runtime(create_app(settings, database=database, clock=truth, classifier=packaged_classifier))
        try:
            assert runtime.clock.now() == server.now()  # measured by prepare()
            assert ("server-clock", runtime.clock.refresh, REMEASURE_S) in runtime.periodic_jobs()
            assert runtime.ingestion.clock is runtime.clock and runtime.upstream.clock is runtime.clock
        finally:
            runtime.stop()
    finally:
        database.close()


# -- what the shared deadlines make of skewed hosts ---------------------------------------------

class ThisProcess:
    """The embedded engine's answer: the server is this process."""

    def server_time(self) -> None:
        return None


def _hosts(truth: FakeClock, server_clock: bool, skews=(0.0, 2.0)) -> list[ServerClock]:
    """One clock per host, measured against a server at true time (``server_clock=False``:
    each host keeps its own clock, as before the server clock)."""
    server = StandInServer(SkewedClock(truth, 0.0)) if server_clock else ThisProcess()
    clocks = [ServerClock(SkewedClock(truth, skew), server) for skew in skews]
    for clock in clocks:
        clock.measure()
    return clocks


def _limiter(database, calls: int = 1) -> SlidingWindowLimiter:
    limiter = SlidingWindowLimiter(database.rate_limits, name="skew", calls=calls, window_s=1.0, in_flight_s=5.0)
    limiter.prepare()
    return limiter


@pytest.mark.parametrize("server_clock", [True, False], ids=["server-clock", "host-clocks"])
def test_a_host_two_seconds_ahead_cannot_reuse_a_slot_before_its_window_ends(database, truth, server_clock):
    limiter = _limiter(database)
    slow, fast = _hosts(truth, server_clock)
    slot = limiter.try_acquire(slow.now())
    slot.release(slow.now())  # the call was answered: the slot reopens a window from now
    truth.advance(0.5)
    stolen = limiter.try_acquire(fast.now())
    if server_clock:
        assert stolen is None and limiter.wait_hint(fast.now()) == pytest.approx(0.55)
    else:  # what the server clock prevents: a second call within the window
        assert stolen is not None


@pytest.mark.parametrize("server_clock", [True, False], ids=["server-clock", "host-clocks"])
def test_a_fast_clocks_pause_is_no_longer_than_anyone_elses(database, truth, server_clock):
    limiter = _limiter(database)
    slow, fast = _hosts(truth, server_clock)
    limiter.pause(1.0, fast.now())  # both hosts met a 429 with Retry-After: 1 at the same moment
    limiter.pause(1.0, slow.now())
    paused = limiter.paused_for(slow.now())
    if server_clock:
        assert paused == pytest.approx(1.05)
    else:  # what the server clock prevents: $max keeps the fast host's later deadline
        assert paused == pytest.approx(3.05)


@pytest.mark.parametrize("server_clock", [True, False], ids=["server-clock", "host-clocks"])
def test_a_reaper_on_a_host_a_lease_ahead_leaves_a_run_that_just_heartbeat_alone(settings, truth, server_clock,
                                                                                  packaged_classifier):
    database = StandInServerDatabase(settings, SkewedClock(truth, 0.0) if server_clock else None)
    try:
        here, ahead = [get_runtime(create_app(settings, database=database, clock=SkewedClock(truth, skew),
                                              classifier=packaged_classifier))
                       for skew in (0.0, settings.lock_ttl_s + 1)]
        try:
            # A run that started (and heartbeat) a second ago; its worker is between heartbeats.
            IngestionRunner(here.settings, here.db, here.clock, here.upstream, here.classifier, here.outbox,
                            executor=DeadWorker()).start("tenant_a")
            truth.advance(1)
            reaped = ahead.ingestion.reap()
        finally:
            here.stop()
            ahead.stop()
    finally:
        database.close()
    # What the server clock prevents: a host whose clock runs a lease ahead reaps a live run.
    assert reaped == (0 if server_clock else 1)


@pytest.mark.slow
@pytest.mark.parametrize("server_clock", [True, False], ids=["server-clock", "host-clocks"])
def test_two_workers_whose_clocks_disagree_by_two_seconds_keep_the_upstream_within_its_limit(server_clock,
                                                                                              packaged_classifier):
    # A tight, fast window (10 calls a second upstream, the same budget here) and two
    # workers, one 2 s ahead: more than the window, so a host clock would reuse the other's
    # slots at once.
    with MockUpstreamServer(mock_config(rate_limit_calls=10, rate_limit_window_s=1.0)) as mock:
        settings = base_settings(external_api_url=mock.url, rate_limit_calls=10, rate_limit_window_s=1.0,
                                 external_page_size=25)
        system = SystemClock()
        database = StandInServerDatabase(settings, SkewedClock(system, 0.0) if server_clock else None)
        if not settings.embedded:
            migrate(database)
        try:
            records = ingest_on_workers(settings, database, [SkewedClock(system, 0.0), SkewedClock(system, 2.0)],
                                        ["tenant_a", "tenant_b", "tenant_c", "tenant_d"],
                                        classifier=packaged_classifier)
            report = mock.report()
        finally:
            if not settings.embedded:
                database.client.drop_database(settings.mongo_db)
            database.close()
    assert all(r["status"] == "completed" for r in records), records
    if server_clock:
        assert report["max_calls_in_window"] <= 10 and report["rate_limited"] == 0, report
    else:  # what the server clock prevents: the upstream saw more than its limit
        assert report["max_calls_in_window"] > 10 and report["rate_limited"] > 0, report


@real_mongo_required()
def test_a_real_server_reports_its_time_and_the_offset_is_that_of_the_hosts_clock(database):
    clock = ServerClock(SystemClock(), database)
    offset = clock.measure()
    # Server and test share this host's clock: what remains is the measurement's error.
    assert abs(offset) < timedelta(milliseconds=50)
    assert database.server_time().tzinfo is not None
