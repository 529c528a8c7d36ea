"""ServerClock: the database server's time, read through this host's clock.

Deadlines that several hosts write and compare (a lease's expiry, a rate-limit slot's
reuse time, the shared 429 pause, the reaper's silence cut-off) must be in one time base,
or a host whose clock runs ahead takes a slot another host still counts as in use. That
base is the server's clock: ``now()`` is the local clock plus the offset last measured
from ``hello``'s ``localTime``, taken as the server's time at the middle of the round
trip. The error is at most half the round trip (plus BSON's millisecond), below the
limiter's margin on any sane network; a measurement whose round trip is slower than
that is logged.

The offset is measured at start-up (``measure()``, from ``Runtime.prepare()``) and again
every ``REMEASURE_S`` (``refresh()``, a scheduler job), which also corrects a host clock
stepped since. On the embedded engine the server is this process: the offset stays 0.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol

from pymongo.errors import PyMongoError

from ..clock import Clock

log = logging.getLogger(__name__)

REMEASURE_S = 300.0
SAMPLES = 3
# Half of the limiter's default margin: a wider uncertainty can let the upstream see a call early.
UNCERTAINTY_WARN = timedelta(milliseconds=25)


class TimeServer(Protocol):
    def server_time(self) -> datetime | None:
        """The server's clock now, or None when the server is this process."""


class ServerClock:
    """A ``Clock`` (``now``, ``sleep``) reading the server's time. ``sleep`` is the local clock's."""

    def __init__(self, clock: Clock, server: TimeServer):
        self.local = clock
        self.server = server
        # Server time minus local time, as last measured (replaced whole, so read without a lock).
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self.local.now() + self.offset

    def sleep(self, seconds: float) -> None:
        self.local.sleep(seconds)

    def measure(self) -> timedelta:
        """Ask the server its time ``SAMPLES`` times and keep the sample with the shortest
        round trip (the tightest bound); returns the new offset. Raises what the driver raises."""
        best: tuple[timedelta, timedelta] | None = None  # (round trip, offset)
        for _ in range(SAMPLES):
            sent = self.local.now()
            server_now = self.server.server_time()
            received = self.local.now()
            if server_now is None:
                best = (timedelta(0), timedelta(0))
                break
            round_trip = received - sent
            sample = (round_trip, server_now - (sent + round_trip / 2))
            if best is None or sample[0] < best[0]:
                best = sample
        round_trip, offset = best
        self.offset = offset
        if round_trip / 2 > UNCERTAINTY_WARN:
            log.warning("server clock: offset %.3fs measured over a %.0f ms round trip; "
                        "shared deadlines may be off by up to half of it",
                        offset.total_seconds(), round_trip.total_seconds() * 1000)
        else:
            log.debug("server clock: offset %.3fs (round trip %.1f ms)",
                      offset.total_seconds(), round_trip.total_seconds() * 1000)
        return offset

    def refresh(self) -> None:
        """``measure()`` for the scheduler: a failure keeps the last offset and is logged."""
        try:
            self.measure()
        except PyMongoError as exc:
            log.warning("server clock: could not re-measure (%s); keeping offset %.3fs",
                        exc, self.offset.total_seconds())
