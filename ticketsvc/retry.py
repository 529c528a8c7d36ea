"""How to wait before trying a call again: one backoff and one ``Retry-After`` reader,
shared by ingestion (``/external/*``) and alert delivery (``/notify``)."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


@dataclass
class Backoff:
    """Exponential backoff with full jitter: after the n-th failed attempt, wait a uniform
    random time in ``[0, min(max_s, base_s * 2**(n-1))]``."""

    base_s: float
    max_s: float
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempts: int) -> float:
        ceiling = min(self.max_s, self.base_s * 2 ** min(max(attempts, 1) - 1, 62))
        return self.rng.uniform(0.0, ceiling)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date.

    None when the header is absent or unusable (garbage, negative, NaN, infinite); the
    caller decides what an unusable answer means (a whole window, or its own backoff).
    """
    if not value or not value.strip():
        return None
    raw = value.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
        return max(seconds, 0.0)  # a date already past means "now"
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds
