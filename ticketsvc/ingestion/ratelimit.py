"""The global budget for calls to the external ticket API, shared through MongoDB.

The budget is N slots (``RATE_LIMIT_CALLS``), one document each in ``rate_limits``. A call
claims a free slot (a ``TokenLease`` whose expiry is ``free_at``) before it is sent, and the
slot becomes free again one window after the call's *response* arrived. The upstream counts a
call when it arrives, which is always before its response reaches us, so consecutive
calls on one slot arrive at least a window apart and no rolling window upstream ever sees
more than N calls, whatever the network jitter, the number of threads, workers or hosts.

A 429 from the upstream pauses every caller: the pause is a document all processes read
before claiming a slot. The slot documents are created by ``prepare()`` (start-up), not by
the constructor.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from pymongo.errors import BulkWriteError

from ..clock import Clock, utc
from ..storage.lease import TokenLease

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class CallSlot:
    """One claimed slot; ``release(now)`` once the call's response (or failure) is in."""

    limiter: "SlidingWindowLimiter"
    slot_id: str
    token: str
    released: bool = False

    def release(self, now: datetime) -> None:
        if not self.released:
            self.released = True
            self.limiter.release(self, now)


class SlidingWindowLimiter:
    def __init__(self, collection: Any, *, name: str, calls: int, window_s: float,
                 in_flight_s: float, margin_s: float = 0.05):
        """``in_flight_s`` bounds how long a claimed slot may stay unreleased (a worker that dies
        mid-call frees its slot after that plus a window)."""
        self.collection = collection
        self.slots = TokenLease(collection, token="token", expiry="free_at")
        self.name = name
        self.calls = calls
        self.window = timedelta(seconds=window_s)
        self.in_flight = timedelta(seconds=in_flight_s)
        self.margin = timedelta(seconds=margin_s)
        self._pause_id = f"{name}:pause"
        self._mine = {"limiter": name, "index": {"$lt": calls}}

    def prepare(self) -> None:
        """Create the missing slot documents (idempotent; every process may race to it)."""
        existing = {doc["index"] for doc in self.collection.find({"limiter": self.name}, {"index": 1})}
        missing = [{"_id": f"{self.name}:{i}", "limiter": self.name, "index": i, "free_at": EPOCH, "token": None}
                   for i in range(self.calls) if i not in existing]
        if missing:
            try:
                self.collection.insert_many(missing, ordered=False)
            except BulkWriteError:
                pass  # another process created some of them at the same moment: same documents

    def try_acquire(self, now: datetime) -> CallSlot | None:
        """Claim a free slot now, or return None (see ``wait_hint`` for how long to wait)."""
        if self.paused_for(now) > 0:
            return None
        doc = self.slots.take(self._mine, now, now + self.in_flight + self.window, fields={"claimed_at": now})
        if doc is None:
            return None
        return CallSlot(self, doc["_id"], doc["token"])

    def acquire(self, wait: Callable[[float], None], clock: Clock) -> CallSlot:
        """Block (through ``wait``, which may raise to abort) until a slot is claimed."""
        while True:
            now = clock.now()
            permit = self.try_acquire(now)
            if permit is not None:
                return permit
            wait(max(self.wait_hint(now), 0.01))

    def wait_hint(self, now: datetime) -> float:
        """Seconds until a slot may be free (a pause counts)."""
        paused = self.paused_for(now)
        if paused > 0:
            return paused
        doc = self.collection.find_one(self._mine, sort=[("free_at", 1)], projection={"free_at": 1})
        if doc is None:
            return 0.0
        return max((utc(doc["free_at"]) - now).total_seconds(), 0.0)

    def release(self, permit: CallSlot, now: datetime) -> None:
        """The call is answered: its slot reopens one window (and a margin) from ``now``."""
        # Only the claimer may move the slot, and only once: a slot reclaimed after a lapse
        # keeps its new owner's window.
        self.slots.settle({"_id": permit.slot_id}, permit.token, expiry=now + self.window + self.margin)

    def pause(self, seconds: float, now: datetime) -> None:
        """Every caller waits ``seconds`` from now (a 429's Retry-After); never shortens a pause."""
        until = now + timedelta(seconds=seconds) + self.margin
        self.collection.update_one({"_id": self._pause_id}, {"$max": {"until": until}}, upsert=True)
        log.warning("upstream rate limit hit: every caller paused %.2fs", seconds)

    def paused_for(self, now: datetime) -> float:
        doc = self.collection.find_one({"_id": self._pause_id})
        if not doc or not doc.get("until"):
            return 0.0
        return max((utc(doc["until"]) - now).total_seconds(), 0.0)
