"""Time as a dependency: the mock's window math and outages run on an injectable clock.

A clock is any object with ``now()`` returning epoch seconds (a float) or an aware
``datetime``, and optionally ``sleep(seconds)``. Accepting both shapes lets a test share
one fake clock between the service and the mock.
"""
from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timezone

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class SystemClock:
    """Wall-clock time; ``sleep`` really blocks."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock tests move by hand; ``sleep`` advances it instantly instead of blocking."""

    def __init__(self, start: float = 1_800_000_000.0):
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set(self, epoch_s: float) -> None:
        with self._lock:
            self._now = float(epoch_s)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)


class ClockAdapter:
    """Normalises any supported clock to ``now() -> float`` and ``sleep(s)``."""

    def __init__(self, clock=None):
        self._clock = clock if clock is not None else SystemClock()
        self._sleep = getattr(self._clock, "sleep", None) or time.sleep

    def now(self) -> float:
        value = self._clock.now()
        if isinstance(value, datetime):
            return value.timestamp()
        return float(value)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)


def format_iso(epoch_s: float) -> str:
    """ISO 8601 UTC with ``Z`` at whole seconds, the upstream's one time format."""
    return time.strftime(ISO_FORMAT, time.gmtime(math.floor(epoch_s)))


def parse_iso(value) -> float:
    """Epoch seconds from an ISO 8601 string (``Z`` or offset; naive means UTC) or a number.

    Raises ValueError for anything else.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    else:
        raise ValueError(f"not a time: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()
