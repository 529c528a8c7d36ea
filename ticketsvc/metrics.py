"""Prometheus metrics, correct across gunicorn workers (prometheus-client multiprocess mode).

Under gunicorn the master points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before
forking; each worker writes its samples there and ``/metrics`` aggregates them. Outside
gunicorn (tests, CLI) each process keeps its samples in memory and exposes only its own.

Where the metric objects live: in a ``ServiceMetrics`` that each process's ``Runtime``
builds, on a ``CollectorRegistry`` of its own, not as module-level metrics on the default
registry. Tests build several apps in one process; module-level metrics would be state
shared between them (and registering a name twice fails). In multiprocess mode the values
live in per-process files and ``/metrics`` reads every worker's files with a
``MultiProcessCollector`` on a registry built for that scrape; the instance registry is
then only a home for the metric objects and is never exposed (that would count this worker
twice).

What is not recorded by anyone: the circuit breaker's state and the outbox depth are shared
state in MongoDB, so ``SharedStateCollector`` reads them when ``/metrics`` is scraped. Every
worker then reports the same figures, and nothing goes stale when a worker dies.

Label values are bounded: route templates (never raw paths), fixed outcome and status
sets, and tenant ids only for the tenants listed in ``METRICS_TENANT_LABELS`` (every other
tenant is ``other``), or with ``METRICS_TENANT_LABELS=all`` for the first
``TENANT_LABEL_CAP`` tenants a process sees (the rest are ``other``). No ticket ids, no
free text.

prometheus-client is imported only inside functions: it picks where values live (memory or
files) when it is first imported, and the gunicorn master must not import it before
``prepare_multiprocess_dir`` has set the directory.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from datetime import timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

from .config import Settings
from .ingestion.job import JobStatus
from .domain import is_tenant_id

if TYPE_CHECKING:
    from .clock import Clock
    from .notifications.breaker import CircuitBreaker
    from .notifications.outbox import NotificationOutbox

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
NAMESPACE = "ticketsvc"
OTHER = "other"
# METRICS_TENANT_LABELS=all: at most this many tenants get a label value of their own (each
# adds a few dozen series); past it every further tenant is ``other``.
TENANT_LABEL_CAP = 50
UNMATCHED_ROUTE = "unmatched"  # 404s and 405s: no route template to name them by

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# The stats view's endpoint name (``auth/policy.py`` lists it too): its requests also feed
# the stats latency histogram, split by whether a pipeline ran or the ETag matched.
STATS_ENDPOINT = "stats.TenantStatsView"
RUN_STATUSES = tuple(status.value for status in JobStatus.final())
# A run record's ``counts`` key -> the ``outcome`` label of the tickets it counts.
TICKET_OUTCOMES = {
    "new": "new", "updated": "updated", "unchanged": "unchanged", "deleted": "deleted",
    "restored": "restored", "foreign_tenant": "foreign", "invalid": "invalid",
}
UPSTREAM_OUTCOMES = ("ok", "rate_limited", "error")
UPSTREAM_WAITS = ("rate_limit", "backoff")
_UPSTREAM_LIST = "/external/support-tickets"
_UPSTREAM_ONE = "/external/support-tickets/{id}"
_UPSTREAM_DELETED = "/external/deleted-tickets"
# What became of an alert a sender claimed (``NotificationDelivery``): an attempt was made
# (delivered, retried, dead), or none was (withdrawn: its ticket was deleted; deferred: held
# back by an open circuit or a shutdown; lost: the claim's lease lapsed before the outcome
# was written).
DELIVERY_OUTCOMES = ("delivered", "retried", "dead", "withdrawn", "deferred", "lost")

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STATS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RUN_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)


# -- gunicorn hooks ---------------------------------------------------------------------------
def prepare_multiprocess_dir() -> str:
    """Called once in the gunicorn master: an empty directory for this server's samples."""
    path = os.environ.get(MULTIPROC_ENV) or os.path.join(tempfile.gettempdir(), f"ticketsvc-metrics-{os.getpid()}")
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)
    os.environ[MULTIPROC_ENV] = path
    return path


def mark_process_dead(pid: int) -> None:
    """Called in the gunicorn master (``child_exit``) once a worker has exited, whatever the
    cause, so its live gauges stop counting; its counters and histograms stay (totals never
    go backwards)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


# -- recording --------------------------------------------------------------------------------
class ServiceMetrics:
    """This process's metrics: what the code records, and the ``/metrics`` exposition.

    Recording methods never raise: a metrics bug must not fail a request, a run or a send.
    """

    def __init__(self, settings: Settings):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        # Read once: the process's metrics are in files for its whole life, or never.
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        if self.multiprocess_dir:
            os.makedirs(self.multiprocess_dir, exist_ok=True)
        _align_value_store()
        self._tenants = settings.metrics_tenants
        self._all_tenants = settings.metrics_all_tenants
        self._labelled: set[str] = set()  # with ``all``: the tenants given a label so far, at most the cap
        self._labelled_lock = threading.Lock()
        self._scrape_collectors: list[Any] = []
        self.registry = CollectorRegistry()
        ns, reg = NAMESPACE, self.registry

        self.http_requests = Counter(
            "http_requests", "HTTP requests answered, by method, route template and status code.",
            ["method", "endpoint", "status"], namespace=ns, registry=reg)
        self.http_duration = Histogram(
            "http_request_duration_seconds", "Time to answer an HTTP request, by method and route template.",
            ["method", "endpoint"], namespace=ns, registry=reg, buckets=HTTP_BUCKETS)
        # livesum: the sum over live workers; a worker that exits is dropped (mark_process_dead).
        self.http_in_progress = Gauge(
            "http_requests_in_progress", "HTTP requests being served right now (all live workers).",
            namespace=ns, registry=reg, multiprocess_mode="livesum")
        self.stats_duration = Histogram(
            "stats_request_duration_seconds",
            "Time to answer GET /tenants/{tenant_id}/stats: result=computed (the pipelines ran), "
            "not_modified (304: the ETag matched, no pipeline), error.",
            ["result"], namespace=ns, registry=reg, buckets=STATS_BUCKETS)

        self.ingestion_runs = Counter(
            "ingestion_runs", "Ingestion runs that ended, by tenant and final status.",
            ["tenant", "status"], namespace=ns, registry=reg)
        self.ingestion_duration = Histogram(
            "ingestion_run_duration_seconds", "Wall time of ingestion runs that ended, by final status.",
            ["status"], namespace=ns, registry=reg, buckets=RUN_BUCKETS)
        self.ingestion_tickets = Counter(
            "ingestion_tickets", "Tickets seen by ended ingestion runs, by tenant and outcome "
            "(new, updated, unchanged, deleted, restored, foreign, invalid).",
            ["tenant", "outcome"], namespace=ns, registry=reg)

        self.upstream_calls = Counter(
            "upstream_calls", "Calls to the external ticket API, by endpoint template and outcome "
            "(ok, rate_limited = answered 429, error = 5xx, other status, timeout, connection error "
            "or unreadable body).",
            ["endpoint", "outcome"], namespace=ns, registry=reg)
        self.upstream_wait = Counter(
            "upstream_wait_seconds", "Seconds ingestion waited before calling the external API: "
            "reason=rate_limit (for a slot of the global budget, including 429 pauses), "
            "backoff (before retrying a failed call).",
            ["reason"], namespace=ns, registry=reg)

        self.delivery_attempts = Counter(
            "notify_delivery_attempts", "Claimed alerts handled by delivery, by outcome: an attempt was "
            "made (delivered, retried, dead) or not (deferred by an open circuit or a shutdown; lost "
            "when the claim lapsed before its outcome was written).",
            ["outcome"], namespace=ns, registry=reg)

        self._initialise_series()

    def _initialise_series(self) -> None:
        # Series that exist from the start read 0 instead of being absent, so rate() and
        # alerts see the first increment.
        for tenant in sorted(self._tenants) + [OTHER]:
            for status in RUN_STATUSES:
                self.ingestion_runs.labels(tenant, status)
            for outcome in TICKET_OUTCOMES.values():
                self.ingestion_tickets.labels(tenant, outcome)
        for endpoint in (_UPSTREAM_LIST, _UPSTREAM_ONE, _UPSTREAM_DELETED):
            for outcome in UPSTREAM_OUTCOMES:
                self.upstream_calls.labels(endpoint, outcome)
        for reason in UPSTREAM_WAITS:
            self.upstream_wait.labels(reason)
        for outcome in DELIVERY_OUTCOMES:
            self.delivery_attempts.labels(outcome)

    def tenant_label(self, tenant_id: Any) -> str:
        """The tenant as a label value: itself if listed in METRICS_TENANT_LABELS (or, with
        ``all``, while fewer than ``TENANT_LABEL_CAP`` tenants have a label), else ``other``."""
        if not isinstance(tenant_id, str):
            return OTHER
        if tenant_id in self._tenants:
            return tenant_id
        if not self._all_tenants or not is_tenant_id(tenant_id):
            return OTHER
        with self._labelled_lock:
            if tenant_id in self._labelled:
                return tenant_id
            if len(self._labelled) < TENANT_LABEL_CAP:
                self._labelled.add(tenant_id)
                return tenant_id
        return OTHER

    def labelled_tenants(self, known_tenants: Callable[[], Iterable[str]]) -> list[str]:
        """The tenants reported under a label of their own, sorted: the listed ones, or with
        ``all`` the first ``TENANT_LABEL_CAP`` of ``known_tenants()`` (called only then)."""
        if self._all_tenants:
            return sorted(t for t in known_tenants() if isinstance(t, str) and is_tenant_id(t))[:TENANT_LABEL_CAP]
        return sorted(self._tenants)

    # -- HTTP -------------------------------------------------------------------------------
    def request_started(self) -> None:
        _safely(self.http_in_progress.inc)

    def request_finished(self) -> None:
        _safely(self.http_in_progress.dec)

    def observe_request(self, method: str, route: str | None, endpoint: str | None, status: int,
                        seconds: float) -> None:
        """One answered request. ``route`` is the matched rule's template (None when no rule
        matched), ``endpoint`` its endpoint name."""
        def record() -> None:
            label_method = method if method in HTTP_METHODS else OTHER
            label_route = route if route else UNMATCHED_ROUTE
            self.http_requests.labels(label_method, label_route, str(int(status))).inc()
            self.http_duration.labels(label_method, label_route).observe(max(seconds, 0.0))
            if endpoint == STATS_ENDPOINT:
                result = "computed" if status == 200 else "not_modified" if status == 304 else "error"
                self.stats_duration.labels(result).observe(max(seconds, 0.0))
        _safely(record)

    # -- ingestion --------------------------------------------------------------------------
    def ingestion_finished(self, record: Mapping[str, Any]) -> None:
        """A run's final record (``IngestionRunner.on_finished``): once per run, by whichever
        worker finalised it (the run's own, or the reaper's for an abandoned run)."""
        def record_run() -> None:
            tenant = self.tenant_label(record.get("tenant_id"))
            status = record.get("status")
            status = status if status in RUN_STATUSES else OTHER
            self.ingestion_runs.labels(tenant, status).inc()
            duration = record.get("duration_s")
            if isinstance(duration, (int, float)) and not isinstance(duration, bool) and duration >= 0:
                self.ingestion_duration.labels(status).observe(duration)
            counts = record.get("counts") or {}
            for key, outcome in TICKET_OUTCOMES.items():
                value = counts.get(key)
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    self.ingestion_tickets.labels(tenant, outcome).inc(value)
        _safely(record_run)

    def upstream_call(self, path: str, status_code: int | None, usable: bool) -> None:
        """One call to the external API: its path, the status (None: no response) and
        whether its answer was usable."""
        def record() -> None:
            outcome = "rate_limited" if status_code == 429 else "ok" if usable else "error"
            self.upstream_calls.labels(upstream_endpoint(path), outcome).inc()
        _safely(record)

    def upstream_waited(self, reason: str, seconds: float) -> None:
        """A wait begun before an upstream call (the seconds asked for, as ``http.waited_s``
        in the run's record counts them)."""
        if reason in UPSTREAM_WAITS and seconds > 0:
            _safely(lambda: self.upstream_wait.labels(reason).inc(seconds))

    # -- notifications ----------------------------------------------------------------------
    def delivery_outcome(self, outcome: str) -> None:
        _safely(lambda: self.delivery_attempts.labels(outcome if outcome in DELIVERY_OUTCOMES else OTHER).inc())

    # -- exposition -------------------------------------------------------------------------
    def add_scrape_collector(self, collector: Any) -> None:
        """A collector that reads its figures when ``/metrics`` is scraped (shared state)."""
        self._scrape_collectors.append(collector)
        if not self.multiprocess_dir:
            self.registry.register(collector)

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition for a scrape, in the format the ``Accept`` header asks for (the
        Prometheus text format by default): (body, content type). In multiprocess mode it
        aggregates every worker's samples, live or exited."""
        from prometheus_client import CollectorRegistry
        from prometheus_client.exposition import choose_encoder
        from prometheus_client.multiprocess import MultiProcessCollector

        if self.multiprocess_dir:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.multiprocess_dir)
            for collector in self._scrape_collectors:
                registry.register(collector)
        else:
            registry = self.registry
        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type


def upstream_endpoint(path: str) -> str:
    """An external API path as a bounded label: its template, never a ticket id."""
    if path in (_UPSTREAM_LIST, _UPSTREAM_DELETED):
        return path
    if path.startswith(_UPSTREAM_LIST + "/"):
        return _UPSTREAM_ONE
    return OTHER


# -- read at scrape time ------------------------------------------------------------------------
class SharedStateCollector:
    """The circuit breakers and the outbox, read from MongoDB at scrape time (a few small
    reads: one per breaker document, one count per outbox status, the backlog's two ends).
    If MongoDB does not answer, those families are left out and ``ticketsvc_shared_state_up``
    reads 0, so the rest of ``/metrics`` still answers."""

    def __init__(self, breakers: Mapping[str, "CircuitBreaker"], outbox: "NotificationOutbox", clock: "Clock"):
        self.breakers = breakers
        self.outbox = outbox
        self.clock = clock

    def describe(self) -> Iterable[Any]:
        return []  # no reads when the collector is registered; names are not checked twice

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily(f"{NAMESPACE}_shared_state_up",
                               "1 if this scrape could read the shared state (breakers, outbox) from MongoDB.")
        try:
            families = list(self._read())
        except Exception:  # storage down: report that, not a failed scrape
            log.warning("metrics: could not read the shared state from MongoDB", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield from families
        yield up

    def _read(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        from .notifications.breaker import CLOSED, HALF_OPEN, OPEN

        state = GaugeMetricFamily(
            f"{NAMESPACE}_circuit_breaker_state",
            "1 for the state each circuit is in (closed, open, half_open), 0 for the others. "
            "An open circuit past its retry time reads half_open.", labels=["circuit", "state"])
        failures = GaugeMetricFamily(
            f"{NAMESPACE}_circuit_breaker_window_failures",
            "Failed calls among the last calls the circuit counts.", labels=["circuit"])
        trips = CounterMetricFamily(
            f"{NAMESPACE}_circuit_breaker_trips", "Times the circuit opened (including reopenings after "
            "a failed probe).", labels=["circuit"])
        now = self.clock.now()
        for name, breaker in sorted(self.breakers.items()):
            status = breaker.status(now)
            for value in (CLOSED, OPEN, HALF_OPEN):
                state.add_metric([name, value], 1.0 if status["state"] == value else 0.0)
            failures.add_metric([name], float(status["failure_count"]))
            trips.add_metric([name], float(breaker.snapshot().get("trips") or 0))
        outbox = GaugeMetricFamily(
            f"{NAMESPACE}_outbox_alerts", "Alerts in the notification outbox, by status (pending, dead; "
            "delivered ones are counted by ticketsvc_notify_delivery_attempts_total).", labels=["status"])
        for status_name, count in self.outbox.counts().items():
            outbox.add_metric([status_name], float(count))
        backlog = self.outbox.backlog(now)
        oldest = GaugeMetricFamily(
            f"{NAMESPACE}_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending alert (0 when none is pending).")
        oldest.add_metric([], backlog.oldest_pending_age_s(now) or 0.0)
        overdue = GaugeMetricFamily(
            f"{NAMESPACE}_outbox_longest_overdue_seconds",
            "How long the alert due longest has waited past its due time (0 when none is due): "
            "grows while senders are behind, stopped, or held back by an open circuit.")
        overdue.add_metric([], backlog.longest_overdue_s(now) or 0.0)
        return iter([state, failures, trips, outbox, oldest, overdue])


class TenantRunCollector:
    """``ticketsvc_tenant_last_success_timestamp``: per labelled tenant, when its last
    completed run ended, read from the run records at scrape time (so every worker agrees and
    a restart loses nothing). One indexed lookup per labelled tenant (``tenant_started``);
    tenants without a label of their own are not reported."""

    def __init__(self, db: Any, metrics: ServiceMetrics):
        self.db = db
        self.metrics = metrics

    def describe(self) -> Iterable[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily(
            f"{NAMESPACE}_tenant_last_success_timestamp",
            "Unix time at which the tenant's last completed ingestion run ended (tenants with a "
            "label of their own, see METRICS_TENANT_LABELS).", labels=["tenant"])
        try:
            for tenant in self.metrics.labelled_tenants(lambda: self.db.tenants.distinct("_id")):
                run = self.db.ingestion_logs.find_one({"tenant_id": tenant, "status": "completed"},
                                                      {"ended_at": 1, "_id": 0}, sort=[("started_at", -1)])
                if run and run.get("ended_at") is not None:
                    ended = run["ended_at"]
                    if ended.tzinfo is None:
                        ended = ended.replace(tzinfo=timezone.utc)
                    family.add_metric([tenant], ended.timestamp())
        except Exception:  # storage down: SharedStateCollector reports it; leave this family empty
            log.warning("metrics: could not read the tenants' last runs", exc_info=True)
        yield family


# -- helpers ------------------------------------------------------------------------------------
def _safely(action) -> None:
    try:
        action()
    except Exception:  # metrics must never fail the work they describe
        log.warning("metrics: recording failed", exc_info=True)


def _align_value_store() -> None:
    """Make prometheus-client keep values where the environment says, before we build metrics.

    The library chooses memory or files (``PROMETHEUS_MULTIPROC_DIR``) when it is first
    imported. If something imported it before the directory was set (or the variable was
    removed since), metrics built now would silently report only this process; choosing
    again here, before this process's first metric exists, keeps the two in step.
    """
    from prometheus_client import values

    wanted = bool(os.environ.get(MULTIPROC_ENV))
    if bool(getattr(values.ValueClass, "_multiprocess", False)) != wanted:
        log.info("metrics: prometheus-client was imported before %s was %s; choosing its value store again",
                 MULTIPROC_ENV, "set" if wanted else "unset")
        values.ValueClass = values.get_value_class()
