"""The process's handles and background services, built once per process.

A ``Runtime`` wires the components and owns what may live in process memory: the
``Database`` (unless a test hands one in), the upstream client (which owns the HTTP
session), the ingestion and notify thread pools and the scheduler. Everything shared
between processes lives in MongoDB and is reached through the components it wires here.
Building one does no I/O: ``prepare()`` names the start-up I/O.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from apscheduler.schedulers.background import BackgroundScheduler

from .analytics import Rollups, TenantStats
from .auth import AccessControl, ApiKeyStore
from .clock import Clock, SystemClock
from .config import Settings
from .errors import NotFound
from .storage import Database
from .storage.servertime import REMEASURE_S, ServerClock
from .classification import Classifier, load_classifier
from .ingestion.runner import IngestionRunner
from .ingestion.ratelimit import SlidingWindowLimiter
from .metrics import ServiceMetrics, SharedStateCollector, TenantRunCollector
from .notifications.delivery import NotificationDelivery, build_notify_breaker
from .notifications.outbox import NotificationOutbox
from .notifications.status import DeliveryStatus, read_delivery_status
from .upstream import UpstreamClient

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings, *, database: Database | None = None, clock: Clock | None = None,
                 classifier: Classifier | None = None):
        self.settings = settings
        self.owns_database = database is None
        self.db = database or Database(settings)
        # Every component reads the database server's time (this host's clock corrected by
        # the measured offset): leases, slots, the pause and the reaper compare deadlines
        # that other hosts wrote.
        self.clock = ServerClock(clock or SystemClock(), self.db)
        self.classifier = classifier or load_classifier(settings.classifier_rules_path)
        self.metrics = ServiceMetrics(settings)
        self.outbox = NotificationOutbox(self.db)
        self.limiter = SlidingWindowLimiter(
            self.db.rate_limits, name="external_api",
            calls=settings.rate_limit_calls, window_s=settings.rate_limit_window_s,
            in_flight_s=settings.http_total_timeout_s,
        )
        self.upstream = UpstreamClient(settings, self.limiter, self.clock, observer=self.metrics)
        self.rollups = Rollups(self.db)
        self.ingestion = IngestionRunner(settings, self.db, self.clock, self.upstream, self.classifier, self.outbox,
                                         on_finished=self._ingestion_finished)
        self.notify_breaker = build_notify_breaker(self.db.circuit_breakers, settings)
        self.circuit_breakers = {self.notify_breaker.name: self.notify_breaker}
        self.notify_pool = ThreadPoolExecutor(max_workers=settings.notify_concurrency, thread_name_prefix="notify")
        self.delivery = NotificationDelivery(settings, self.outbox, self.notify_breaker, self.upstream,
                                             self.notify_pool, self.clock, on_outcome=self.metrics.delivery_outcome)
        # Shared state is read from MongoDB when /metrics is scraped, so every worker agrees.
        self.metrics.add_scrape_collector(SharedStateCollector(self.circuit_breakers, self.outbox, self.clock))
        self.metrics.add_scrape_collector(TenantRunCollector(self.db, self.metrics))
        self.stats = TenantStats(self.db, self.clock)
        self.api_keys = ApiKeyStore(self.db, self.clock, admin_key_configured=settings.admin_api_key is not None)
        self.access = AccessControl(settings, self.api_keys, job_tenant=self._job_tenant)
        self.scheduler: BackgroundScheduler | None = None
        self._background_lock = threading.Lock()
        # Below gunicorn's graceful timeout (30 s), so jobs end before the master kills us.
        self.shutdown_timeout_s = 20.0

    def _ingestion_finished(self, record: dict) -> None:
        self.metrics.ingestion_finished(record)
        try:
            self.rollups.run_finished(record)
        except Exception:  # the days stay marked dirty: the next run's end refreshes them
            log.exception("rollup refresh after job %s failed", record.get("job_id"))

    def _job_tenant(self, job_id: str) -> str | None:
        try:
            return self.ingestion.get(job_id).get("tenant_id")
        except NotFound:
            return None

    def prepare(self) -> None:
        """The start-up I/O, named in one place: storage set-up, the offset to the server's
        clock, the shared documents the components need (the rate-limit slots), then the
        refusal to run ``AUTH_MODE=keys`` with no way in (``ConfigError``)."""
        self.db.prepare()
        self.clock.measure()
        self.limiter.prepare()
        self.access.check_startup()

    # -- background services ---------------------------------------------------------
    def start_background(self) -> None:
        """Start this process's scheduler and its periodic jobs (call after fork)."""
        with self._background_lock:
            if self.scheduler is not None:
                return
            scheduler = BackgroundScheduler(
                timezone="UTC",
                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
            )
            for job_id, func, seconds in self.periodic_jobs():
                scheduler.add_job(func, "interval", seconds=seconds, id=job_id, name=job_id)
            scheduler.start()
            self.scheduler = scheduler
            log.info("background services started jobs=%s", [j.id for j in scheduler.get_jobs()])

    def periodic_jobs(self) -> list[tuple[str, Callable[[], None], float]]:
        """(id, function, interval seconds) of every periodic job this process runs."""
        jobs = [
            ("ingestion-reaper", self.ingestion.reap, self.settings.reaper_interval_s),
            ("notify-drain", self.delivery.tick, self.settings.notify_poll_s),
            ("server-clock", self.clock.refresh, REMEASURE_S),
        ]
        if self.db.snapshot is not None:  # EMBEDDED_DATA_FILE: bound what a crash loses
            jobs.append(("embedded-snapshot", self.db.save_snapshot, self.settings.embedded_snapshot_interval_s))
        if self.settings.sync_interval_s > 0:
            jobs.append(("tenant-sync", self.ingestion.sync_due_tenants, min(self.settings.sync_interval_s, 30.0)))
        return jobs

    def scheduler_state(self) -> str:
        if self.scheduler is None:
            return "stopped"
        return "running" if self.scheduler.running else "stopped"

    def delivery_status(self) -> DeliveryStatus:
        """Alert delivery for /health: the outbox's depth and lag, the notify circuit."""
        return read_delivery_status(self.outbox, self.notify_breaker, self.clock.now(), self.settings.notify_poll_s)

    def stop(self) -> None:
        """Stop background work cleanly, then release process handles. Idempotent."""
        with self._background_lock:
            scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        self.ingestion.shutdown(timeout=self.shutdown_timeout_s)
        self.delivery.stop()
        self.notify_pool.shutdown(wait=True)  # sends in flight end within their timeout
        self.upstream.close()
        if self.owns_database:
            self.db.close()
        log.info("runtime stopped")
