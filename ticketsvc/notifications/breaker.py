"""CircuitBreaker: a small policy over one document in ``circuit_breakers``, shared by every
thread, worker and host that calls the same endpoint.

The document: ``{_id: name, state, window, opened_at, retry_at, probe_token, probe_until,
trips, version}``. ``window`` holds the outcomes (``success`` | ``failure``) of the last
``window_size`` calls made while CLOSED, oldest first.

- CLOSED -> OPEN when at least ``failure_threshold`` of the window failed.
- OPEN: callers are refused (``CircuitOpen`` with ``retry_at``) without calling out.
- OPEN -> HALF_OPEN once ``retry_at`` (``opened_at + open_s``) has passed: the first caller
  takes the one probe, a ``TokenLease`` (``probe_token`` until ``probe_until``) so a prober
  that dies does not wedge the circuit; everyone else is refused until the probe settles
  (only under its token) or its lease lapses.
- HALF_OPEN -> CLOSED (window cleared) when the probe succeeds; -> OPEN when it fails.

Every write is one atomic operation on the document. Outcomes are appended with ``$push``
and ``$slice``; the trip to OPEN is conditional on the ``version`` the appender saw, so of
several senders recording at once, each decides on a window it actually observed and the
last one to append always gets to decide. Outcomes of calls that were already in flight
when the circuit opened are ignored: only the probe decides a HALF_OPEN circuit.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from ..clock import isoformat_z, utc
from ..storage.lease import TokenLease

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
SUCCESS, FAILURE = "success", "failure"


class CircuitOpen(Exception):
    """The circuit refuses calls until ``retry_at`` (the end of the open period, or of the
    running probe's lease)."""

    def __init__(self, name: str, retry_at: datetime):
        super().__init__(f"circuit {name} is open until {isoformat_z(retry_at)}")
        self.name = name
        self.retry_at = retry_at


@dataclass(frozen=True)
class Permit:
    """Leave to make one call; ``probe_token`` is set when the call is the half-open probe."""

    probe_token: str | None = None

    @property
    def is_probe(self) -> bool:
        return self.probe_token is not None


class CircuitBreaker:
    def __init__(self, collection: Any, name: str, *, window_size: int, failure_threshold: int,
                 open_s: float, probe_lease_s: float):
        if not 1 <= failure_threshold <= window_size:
            raise ValueError("failure_threshold must be within 1..window_size")
        self.collection = collection
        self.probe = TokenLease(collection, token="probe_token", expiry="probe_until")
        self.name = name
        self.window_size = window_size
        self.failure_threshold = failure_threshold
        self.open_for = timedelta(seconds=open_s)
        self.probe_lease = timedelta(seconds=probe_lease_s)

    # -- asking ---------------------------------------------------------------------------
    def acquire(self, now: datetime) -> Permit:
        """Leave to make one call now; raises ``CircuitOpen`` when the circuit refuses it.

        In HALF_OPEN (or OPEN past ``retry_at``) exactly one caller gets the probe permit.
        """
        doc = self._read()
        if doc["state"] == CLOSED:
            return Permit()
        if doc["state"] == OPEN and now < utc(doc["retry_at"]):
            raise CircuitOpen(self.name, utc(doc["retry_at"]))
        # An open circuit holds no probe lease, so it is free once retry_at has passed; a
        # half-open one is free again only when its prober's lease has lapsed.
        taken = self.probe.take(
            {"_id": self.name, "$or": [{"state": OPEN, "retry_at": {"$lte": now}}, {"state": HALF_OPEN}]},
            now, now + self.probe_lease, fields={"state": HALF_OPEN}, also={"$inc": {"version": 1}})
        if taken is not None:
            token = taken["probe_token"]
            log.info("circuit %s half-open: probe %s let through", self.name, token[:8])
            return Permit(probe_token=token)
        doc = self._read()  # another caller took the probe, or it already settled
        if doc["state"] == CLOSED:
            return Permit()
        if doc["state"] == HALF_OPEN:
            raise CircuitOpen(self.name, utc(doc["probe_until"]))
        raise CircuitOpen(self.name, utc(doc["retry_at"]))

    def gate(self, now: datetime) -> str:
        """What a call made now would meet, without claiming anything (one read): ``CLOSED``
        (calls flow), ``HALF_OPEN`` (one probe may go) or ``OPEN`` (nothing may go)."""
        doc = self._read()
        if doc["state"] == CLOSED:
            return CLOSED
        if doc["state"] == OPEN:
            return OPEN if now < utc(doc["retry_at"]) else HALF_OPEN
        return OPEN if now < utc(doc["probe_until"]) else HALF_OPEN

    # -- telling ---------------------------------------------------------------------------
    def record(self, permit: Permit, outcome: str, now: datetime) -> None:
        """Record the outcome (``SUCCESS`` | ``FAILURE``) of a call made under ``permit``."""
        if outcome not in (SUCCESS, FAILURE):
            raise ValueError(f"unknown outcome {outcome!r}")
        if permit.is_probe:
            self._settle_probe(permit.probe_token, outcome, now)
            return
        try:
            doc = self.collection.find_one_and_update(
                {"_id": self.name, "state": CLOSED},
                {"$push": {"window": {"$each": [outcome], "$slice": -self.window_size}}, "$inc": {"version": 1}},
                upsert=True, return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return  # the circuit is not closed: a call from before it opened; ignore it
        if doc["window"].count(FAILURE) < self.failure_threshold:
            return
        tripped = self.collection.update_one(
            {"_id": self.name, "state": CLOSED, "version": doc["version"]},
            {"$set": self._open_fields(now), "$inc": {"trips": 1, "version": 1}},
        )
        if tripped.modified_count:
            log.warning("circuit %s opened: %d of the last %d calls failed; retry at %s", self.name,
                        doc["window"].count(FAILURE), len(doc["window"]), isoformat_z(now + self.open_for))

    def _settle_probe(self, token: str, outcome: str, now: datetime) -> None:
        mine = {"_id": self.name, "state": HALF_OPEN}
        if outcome == SUCCESS:
            if self.probe.settle(mine, token, self._closed_fields(), also={"$inc": {"version": 1}}):
                log.info("circuit %s closed: the probe succeeded", self.name)
            return
        if self.probe.settle(mine, token, self._open_fields(now), also={
            "$push": {"window": {"$each": [FAILURE], "$slice": -self.window_size}},
            "$inc": {"trips": 1, "version": 1},
        }):
            log.warning("circuit %s reopened: the probe failed; retry at %s", self.name,
                        isoformat_z(now + self.open_for))

    # -- operating ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Close the circuit and forget its window (an operator's override)."""
        self.collection.update_one({"_id": self.name}, {"$set": self._closed_fields(), "$inc": {"version": 1}},
                                   upsert=True)
        log.warning("circuit %s reset by an operator", self.name)

    def status(self, now: datetime) -> dict[str, Any]:
        """The circuit as the API shows it; an OPEN circuit past ``retry_at`` reads ``half_open``
        (the next call will be the probe)."""
        doc = self._read()
        state = doc["state"]
        if state == OPEN and now >= utc(doc["retry_at"]):
            state = HALF_OPEN
        window = list(doc["window"])
        return {
            "name": self.name,
            "state": state,
            "failure_count": window.count(FAILURE),
            "window": window,
            "opened_at": doc["opened_at"],
            "retry_at": doc["retry_at"],
        }

    def snapshot(self) -> dict[str, Any]:
        """The stored document with defaults filled in (diagnostics, benchmarks)."""
        return self._read()

    # -- storage ---------------------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        doc = self.collection.find_one({"_id": self.name}) or {}
        return {"_id": self.name, "state": CLOSED, "window": [], "opened_at": None, "retry_at": None,
                "probe_token": None, "probe_until": None, "trips": 0, "version": 0, **doc}

    def _open_fields(self, now: datetime) -> dict[str, Any]:
        return {"state": OPEN, "opened_at": now, "retry_at": now + self.open_for,
                "probe_token": None, "probe_until": None}

    @staticmethod
    def _closed_fields() -> dict[str, Any]:
        return {"state": CLOSED, "window": [], "opened_at": None, "retry_at": None,
                "probe_token": None, "probe_until": None}
