"""The global budget for calls to the external ticket API, shared through MongoDB.

The budget is N slots (``RATE_LIMIT_CALLS``), one document each in ``rate_limits``. A call
claims a free slot with one atomic ``find_one_and_update`` before it is sent, and the slot
becomes free again one window after the call's *response* arrived. The upstream counts a
call when it arrives, which is always before its response reaches us, so consecutive
calls on one slot arrive at least a window apart and no rolling window upstream ever sees
more than N calls, whatever the network jitter, the number of threads, workers or hosts.

A 429 from the upstream pauses every caller: the pause is a document all processes read
before claiming a slot.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError

from ..clock import Clock, utc

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class Permit:
    """One claimed slot; ``release()`` once the call's response (or failure) is in."""

    limiter: "SlidingWindowLimiter"
    slot_id: str
    token: str
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.limiter._release(self)


class SlidingWindowLimiter:
    def __init__(self, collection: Any, clock: Clock, *, name: str, calls: int, window_s: float,
                 in_flight_s: float, margin_s: float = 0.05):
        """``in_flight_s`` bounds how long a claimed slot may stay unreleased (a worker that dies
        mid-call frees its slot after that plus a window)."""
        self.collection = collection
        self.clock = clock
        self.name = name
        self.calls = calls
        self.window = timedelta(seconds=window_s)
        self.in_flight = timedelta(seconds=in_flight_s)
        self.margin = timedelta(seconds=margin_s)
        self._pause_id = f"{name}:pause"
        self._ensure_slots()

    def _ensure_slots(self) -> None:
        existing = {doc["index"] for doc in self.collection.find({"limiter": self.name}, {"index": 1})}
        missing = [{"_id": f"{self.name}:{i}", "limiter": self.name, "index": i, "free_at": EPOCH, "token": None}
                   for i in range(self.calls) if i not in existing]
        if missing:
            try:
                self.collection.insert_many(missing, ordered=False)
            except BulkWriteError:
                pass  # another process created some of them at the same moment: same documents

    def try_acquire(self) -> Permit | None:
        """Claim a free slot now, or return None (see ``wait_hint`` for how long to wait)."""
        now = self.clock.now()
        if self.paused_for(now) > 0:
            return None
        token = uuid.uuid4().hex
        doc = self.collection.find_one_and_update(
            {"limiter": self.name, "index": {"$lt": self.calls}, "free_at": {"$lte": now}},
            {"$set": {"free_at": now + self.in_flight + self.window, "token": token, "claimed_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        return Permit(self, doc["_id"], token)

    def acquire(self, wait: Callable[[float], None]) -> Permit:
        """Block (through ``wait``, which may raise to abort) until a slot is claimed."""
        while True:
            permit = self.try_acquire()
            if permit is not None:
                return permit
            wait(max(self.wait_hint(), 0.01))

    def wait_hint(self) -> float:
        """Seconds until a slot may be free (a pause counts)."""
        now = self.clock.now()
        paused = self.paused_for(now)
        if paused > 0:
            return paused
        doc = self.collection.find_one(
            {"limiter": self.name, "index": {"$lt": self.calls}}, sort=[("free_at", 1)], projection={"free_at": 1}
        )
        if doc is None:
            return 0.0
        return max((utc(doc["free_at"]) - now).total_seconds(), 0.0)

    def _release(self, permit: Permit) -> None:
        # Only the claimer may move the slot, and only once: a slot reclaimed after a lapse
        # keeps its new owner's window.
        free_at = self.clock.now() + self.window + self.margin
        self.collection.update_one({"_id": permit.slot_id, "token": permit.token},
                                   {"$set": {"free_at": free_at, "token": None}})

    def pause(self, seconds: float) -> None:
        """Every caller waits ``seconds`` from now (a 429's Retry-After); never shortens a pause."""
        until = self.clock.now() + timedelta(seconds=seconds) + self.margin
        self.collection.update_one({"_id": self._pause_id}, {"$max": {"until": until}}, upsert=True)
        log.warning("upstream rate limit hit: every caller paused %.2fs", seconds)

    def paused_for(self, now: datetime | None = None) -> float:
        doc = self.collection.find_one({"_id": self._pause_id})
        if not doc or not doc.get("until"):
            return 0.0
        now = now or self.clock.now()
        return max((utc(doc["until"]) - now).total_seconds(), 0.0)

    def in_use(self) -> int:
        """Slots not free right now (for metrics and tests)."""
        return self.collection.count_documents(
            {"limiter": self.name, "index": {"$lt": self.calls}, "free_at": {"$gt": self.clock.now()}}
        )
