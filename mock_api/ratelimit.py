"""The upstream's one rolling-window limit, counted on arrival."""
from __future__ import annotations

import math
from collections import deque


class RollingWindowLimiter:
    """At most ``limit`` arrivals in any window (t - window_s, t].

    Every arrival is recorded, including the ones refused, as a real upstream counts
    every call that reaches it.
    """

    def __init__(self, limit: int, window_s: float):
        self.limit = limit
        self.window_s = float(window_s)
        self._arrivals: deque[float] = deque()
        self.max_in_window = 0

    def configure(self, limit: int, window_s: float) -> None:
        """Change the limit and window; a new window length restarts the peak measurement."""
        window_s = float(window_s)
        if window_s != self.window_s:
            self.window_s = window_s
            self.max_in_window = len(self._arrivals)
        self.limit = limit

    def arrive(self, now: float) -> float | None:
        """Record an arrival; None if it is within the limit, else the seconds until the
        oldest call in the window leaves it."""
        self._evict(now)
        retry_after = None
        if len(self._arrivals) >= self.limit:
            retry_after = self._arrivals[0] + self.window_s - now
        self._arrivals.append(now)
        self.max_in_window = max(self.max_in_window, len(self._arrivals))
        return retry_after

    def in_window(self, now: float) -> int:
        self._evict(now)
        return len(self._arrivals)

    def retry_after_header(self, seconds: float) -> str:
        """Whole seconds (rounded up) for a whole-second window, else milliseconds."""
        return format_retry_after(seconds, whole=float(self.window_s).is_integer())

    def _evict(self, now: float) -> None:
        # Compare as arrival + window so an arrival leaves exactly window_s after it came,
        # without float noise from subtracting.
        arrivals, window = self._arrivals, self.window_s
        while arrivals and arrivals[0] + window <= now:
            arrivals.popleft()


def format_retry_after(seconds: float, whole: bool) -> str:
    """Rounded up to whole seconds, or to milliseconds; never 0. Epoch-sized floats carry
    errors of a few 1e-7 s, so the value is first rounded to the microsecond."""
    if whole:
        return str(max(1, math.ceil(round(seconds, 6))))
    millis = max(1, math.ceil(round(seconds * 1000, 3)))
    return f"{millis / 1000:.3f}".rstrip("0").rstrip(".")
