"""Time as a dependency, so leases, breaker windows and backoff are testable without sleeping."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` (a fake clock advances instead)."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock tests move by hand; ``sleep`` advances it instantly."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)


_ZERO = timedelta(0)


def utc(dt: datetime) -> datetime:
    """Normalise a datetime read back from storage to aware UTC (BSON keeps milliseconds)."""
    if dt.tzinfo is None or dt.utcoffset() == _ZERO:
        # Storage hands back UTC under its own tzinfo class; relabelling is exact and,
        # unlike astimezone() through a Python tzinfo, leaves nothing behind in CPython.
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def isoformat_z(dt: datetime | None) -> str | None:
    """ISO 8601 UTC with a ``Z``, second precision: the one time format of the API."""
    if dt is None:
        return None
    # Not strftime: its %Y writes year 1 as "1", which is not ISO 8601.
    return utc(dt).replace(microsecond=0, tzinfo=None).isoformat() + "Z"
