"""MockUpstream: the whole state of one mock upstream, behind one lock.

Several instances can live in one process (one per app); nothing is module-level.
Methods take the lock, decide, and return values; waiting (latency) happens in the
caller, outside the lock, through ``sleep``.
"""
from __future__ import annotations

import random
import threading
from collections import Counter

from .clock import ClockAdapter, format_iso, parse_iso
from .config import MockConfig
from .dataset import TicketStore
from .errors import MockApiError
from .faults import Admission, Faults
from .feed import changes_page
from .mutations import Mutation, apply_mutation, parse_mutation
from .notify import FlakyNotifier, NotifyOutcome, NotifyRequest
from .ratelimit import RollingWindowLimiter


class MockUpstream:
    """Data, rate limiter, faults and notify state of one mock, and the counters it reports."""

    def __init__(self, config: MockConfig, clock=None):
        self.clock = clock if isinstance(clock, ClockAdapter) else ClockAdapter(clock)
        self._lock = threading.RLock()
        self.config = config.validate()
        self._reset_state()

    # --- time -------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.now()

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)

    # --- /external/* --------------------------------------------------------------------

    def admit_external(self, endpoint: str) -> Admission:
        """Count an arriving ``/external/*`` call and decide whether it is served."""
        with self._lock:
            now = self.now()
            self.calls += 1
            self.calls_by_endpoint[endpoint] += 1
            wait = self.limiter.arrive(now)
            admission = self.faults.admit(None if wait is None else self.limiter.retry_after_header(wait))
            if admission.status == 429:
                self.rate_limited += 1
            return admission

    def external_answered(self) -> None:
        """Called once per ``/external/*`` call after its answer is ready; runs a scheduled
        mutation when its turn has come."""
        with self._lock:
            mutation = self.faults.call_answered()
            if mutation is not None:
                try:
                    result = self._apply(mutation)
                except MockApiError as exc:
                    result = {"error": exc.message}
                self.faults.last_scheduled_result = result

    def list_tickets(self, page: int, page_size: int, tenant_id: str | None, include_deleted: bool) -> dict:
        with self._lock:
            return self.store.page(page, page_size, tenant_id, include_deleted, self.faults.foreign_tickets)

    def ticket_changes(self, tenant_id: str, since_s: float, cursor: str | None, page_size: int) -> dict | None:
        """One page of the change feed, or None when the feed is switched off (a 404)."""
        with self._lock:
            if not self.config.change_feed:
                return None
            return changes_page(self.store, tenant_id, since_s, cursor, page_size, self.now())

    def get_ticket(self, ticket_id: str, tenant_id: str | None) -> dict:
        with self._lock:
            return self.store.get(ticket_id, tenant_id)

    def deleted_ids(self, tenant_id: str | None) -> list[str]:
        with self._lock:
            return self.store.deleted_ids(tenant_id)

    # --- /notify ------------------------------------------------------------------------

    def notify(self, request: NotifyRequest) -> NotifyOutcome:
        with self._lock:
            return self.notifier.attempt(request, self.now())

    # --- /admin -------------------------------------------------------------------------

    def reset(self, body: dict | None = None) -> dict:
        """Regenerate the data (optionally with another seed, size, tenants, now) and clear
        counters, faults and notify state. Keeps the rate-limit and notify settings."""
        with self._lock:
            self.config = self.config.with_data(body or {})
            self._reset_state()
            return self.describe_data()

    def configure(self, body: dict) -> dict:
        with self._lock:
            self.config = self.config.with_limits(body)
            self.limiter.configure(self.config.rate_limit_calls, self.config.rate_limit_window_s)
            self.notifier.config = self.config.notify
            return self.config.to_dict()

    def mutate(self, body) -> dict:
        mutation = parse_mutation(body)
        with self._lock:
            return self._apply(mutation)

    def set_faults(self, body) -> dict:
        with self._lock:
            outage_s = self.faults.update(body)
            if outage_s is not None:
                self.notifier.force_outage(self.now() + outage_s)
            return self.faults_report()

    def clear_faults(self) -> dict:
        with self._lock:
            self.faults.clear()
            self.notifier.outage_until = float("-inf")
            return self.faults_report()

    def faults_report(self) -> dict:
        with self._lock:
            return self.faults.to_dict() | {"notify_in_outage": self.notifier.in_outage(self.now())}

    def report(self) -> dict:
        with self._lock:
            now = self.now()
            return {
                "calls": self.calls,
                "calls_by_endpoint": dict(self.calls_by_endpoint),
                "rate_limited": self.rate_limited,
                "max_calls_in_window": self.limiter.max_in_window,
                "calls_in_window": self.limiter.in_window(now),
                "window_s": self.limiter.window_s,
                "limit": self.limiter.limit,
                "notify": self.notifier.report(now),
                "faults": self.faults.to_dict(),
            }

    def describe_data(self) -> dict:
        with self._lock:
            return {
                "seed": self.config.seed,
                # Not len(self.store): that would generate the data eagerly.
                "tickets": self.config.tickets if self._store is None else len(self._store),
                "tenants": list(self.config.tenants),
                "now": format_iso(self.data_now),
            }

    @property
    def store(self) -> TicketStore:
        """The data set, generated on first use so starting (or resetting) a mock is instant."""
        with self._lock:
            if self._store is None:
                self._store = TicketStore.generate(self.config, self.data_now)
            return self._store

    # --- internals ----------------------------------------------------------------------

    def _apply(self, mutation: Mutation) -> dict:
        return apply_mutation(self.store, mutation, self.now(), self._mutation_rng)

    def _reset_state(self) -> None:
        config = self.config
        self.data_now = parse_iso(config.now) if config.now is not None else self.now()
        self._store: TicketStore | None = None
        self._mutation_rng = random.Random(f"{config.seed}:mutations")
        self.faults = Faults(config.seed)
        self.notifier = FlakyNotifier(config.notify, config.seed)
        self.limiter = RollingWindowLimiter(config.rate_limit_calls, config.rate_limit_window_s)
        self.calls = 0
        self.calls_by_endpoint: Counter[str] = Counter()
        self.rate_limited = 0
