"""NotificationDelivery: drains the outbox to the upstream's ``/notify`` (``UpstreamClient.notify``).

Each worker runs ``tick`` on its scheduler. A tick claims due alerts (leases in MongoDB, so
workers share the outbox without sending one alert twice), hands them to this process's
bounded pool and tops the pool up as sends finish, until nothing is due or its time budget
is spent. Every send first asks the shared circuit breaker: while it is open no call is
made and the alert is handed back, due when the circuit may let a call through again,
without spending an attempt. Each outcome is written back under the claim's token:

- 2xx: ``delivered``.
- timeout, connection error, 408, 429, 5xx: a failed attempt; due again after a backoff with
  full jitter (``Retry-After`` is honoured as a floor), ``dead`` once attempts run out.
  These are failures for the breaker.
- any other 4xx: ``dead`` at once (sending the same request again cannot help). For the
  breaker it is a success: the endpoint is up and answering, and an alert we cannot
  deliver must not hold back the others.

Just before sending, the sender looks at the alert's ticket: if it was soft-deleted since
the alert was queued, the alert is ``withdrawn`` (no call, no attempt spent).
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

from ..clock import Clock
from ..config import Settings
from ..retry import Backoff
from ..upstream import UpstreamClient
from .breaker import CLOSED, FAILURE, OPEN, SUCCESS, CircuitBreaker, CircuitOpen, Permit
from .outbox import Claim, NotificationOutbox

log = logging.getLogger(__name__)

# Share of the poll interval a scheduled tick spends topping the pool up, so ticks never
# overlap; the pool keeps a queue of claimed alerts to send until the next tick.
TICK_SHARE = 0.5


def build_notify_breaker(collection, settings: Settings) -> CircuitBreaker:
    """The breaker guarding ``/notify``, from the ``CB_*`` settings."""
    return CircuitBreaker(
        collection, "notify", window_size=settings.cb_window, failure_threshold=settings.cb_failure_threshold,
        open_s=settings.cb_open_s,
        # The probe's lease outlasts its longest call (connect and read timeouts) and its writes.
        probe_lease_s=2 * settings.notify_timeout_s + 5,
    )


@dataclass
class DrainStats:
    """What one ``drain`` set in motion (sends still running when it returns add later)."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    withdrawn: int = 0
    deferred: int = 0
    lost: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


class NotificationDelivery:
    def __init__(self, settings: Settings, outbox: NotificationOutbox, breaker: CircuitBreaker,
                 upstream: UpstreamClient, pool: Executor, clock: Clock, backoff: Backoff | None = None,
                 on_outcome: Callable[[str], None] = lambda outcome: None):
        self.outbox = outbox
        # Told what became of each claimed alert (the DrainStats field names), e.g. for metrics.
        self.on_outcome = on_outcome
        self.breaker = breaker
        self.upstream = upstream
        self.pool = pool
        self.clock = clock
        self.backoff = backoff or Backoff(settings.notify_backoff_base_s, settings.notify_backoff_max_s)
        self.max_attempts = settings.notify_max_attempts
        self.batch_size = settings.notify_batch_size
        self.lease_s = settings.notify_lease_s
        self.tick_budget_s = settings.notify_poll_s * TICK_SHARE
        # Claimed alerts handed to the pool and not yet recorded. Topping up below two rounds
        # of sends keeps the pool busy between ticks; at most 2 * concurrency - 1 + batch_size.
        self._outstanding: set[Future] = set()
        self._low_water = 2 * settings.notify_concurrency
        self._outstanding_lock = threading.Lock()
        self._stopping = threading.Event()

    # -- draining --------------------------------------------------------------------------
    def tick(self) -> None:
        """The scheduler's job: drain for a share of one poll interval."""
        stats = self.drain(budget_s=self.tick_budget_s)
        if stats.claimed:
            log.debug("notify tick %s", stats.as_dict())

    def drain(self, budget_s: float | None = None) -> DrainStats:
        """Send due alerts, keeping the pool busy, until none is due and none is in flight,
        or ``budget_s`` (wall time) has passed; then sends still running finish on their own.
        Without a budget it returns only once every send it started has been recorded."""
        stats = DrainStats()
        started = time.monotonic()
        while not self._stopping.is_set():
            left = None if budget_s is None else budget_s - (time.monotonic() - started)
            if left is not None and left <= 0:
                break
            claimed = self._claim_more(stats) if self._in_flight() < self._low_water else 0
            outstanding = self._snapshot()
            if not outstanding:
                if claimed:
                    continue  # those were quick: look for more
                break
            wait(outstanding, timeout=left, return_when=FIRST_COMPLETED)
        return stats

    def _claim_more(self, stats: DrainStats) -> int:
        """Claim due alerts and hand them to the pool; returns how many."""
        now = self.clock.now()
        gate = self.breaker.gate(now)
        if gate == OPEN:
            return 0  # nothing may be sent: leave the alerts where they are
        limit = self.batch_size if gate == CLOSED else 1  # half-open: just the probe
        claims = self.outbox.claim(now, self.lease_s, limit)
        stats.add("claimed", len(claims))
        for claim in claims:
            try:
                future = self.pool.submit(self._deliver, claim, stats)
            except RuntimeError:  # the pool is shutting down
                self.outbox.release(claim, now)
                continue
            with self._outstanding_lock:
                self._outstanding.add(future)
            future.add_done_callback(self._forget)
        return len(claims)

    def _forget(self, future: Future) -> None:
        with self._outstanding_lock:
            self._outstanding.discard(future)

    def _in_flight(self) -> int:
        with self._outstanding_lock:
            return len(self._outstanding)

    def _snapshot(self) -> list[Future]:
        with self._outstanding_lock:
            return list(self._outstanding)

    # -- one alert -----------------------------------------------------------------------
    def _deliver(self, claim: Claim, stats: DrainStats) -> None:
        try:
            outcome = self._deliver_one(claim)
            stats.add(outcome)
            self.on_outcome(outcome)
        except Exception:  # the claim's lease lapses and another sender picks the alert up
            log.exception("delivering %s failed unexpectedly", claim.alert.dedupe_key)

    def _deliver_one(self, claim: Claim) -> str:
        """Send one claimed alert and record the outcome; returns the stats field to bump."""
        now = self.clock.now()
        if self._stopping.is_set():
            self.outbox.release(claim, now)
            return "deferred"
        deleted_at = self.outbox.ticket_deleted_at(claim.alert)
        if deleted_at is not None:
            kind, settled = "withdrawn", self.outbox.withdraw(claim, deleted_at, now)
            if settled:
                log.info("alert %s withdrawn unsent: its ticket was deleted", claim.alert.dedupe_key)
        else:
            try:
                permit = self.breaker.acquire(now)
            except CircuitOpen as refused:
                self.outbox.release(claim, refused.retry_at)
                return "deferred"
            kind, settled = self._send(claim, permit)
        if not settled:
            log.warning("alert %s: claim lost before its %s outcome was recorded (lease lapsed)",
                        claim.alert.dedupe_key, kind)
            return "lost"
        return kind

    def _send(self, claim: Claim, permit: Permit) -> tuple[str, bool]:
        """Call ``/notify`` under the breaker's permit and record the outcome: (the stats
        field, whether the claim still held when it was written)."""
        alert = claim.alert
        result = self.upstream.notify(tenant_id=alert.tenant_id, ticket_id=alert.ticket_id, urgency=alert.urgency,
                                      reason=alert.reason, idempotency_key=alert.dedupe_key)
        now = self.clock.now()
        self.breaker.record(permit, FAILURE if result.retryable else SUCCESS, now)
        attempt = claim.attempts + 1
        if result.delivered:
            return "delivered", self.outbox.complete(claim, now)
        if not result.retryable or attempt >= self.max_attempts:
            log.warning("alert %s is dead after %d attempt(s): %s", alert.dedupe_key, attempt, result.error)
            return "dead", self.outbox.bury(claim, result.error or "failed")
        delay = self.backoff.delay(attempt)
        if result.retry_after_s is not None:
            delay = max(delay, min(result.retry_after_s, self.backoff.max_s))
        return "retried", self.outbox.retry(claim, result.error or "failed", now + timedelta(seconds=delay))

    # -- lifecycle -------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop claiming; sends not yet started hand their alerts back. The caller then shuts
        the pool down (waiting for the sends in flight)."""
        self._stopping.set()

