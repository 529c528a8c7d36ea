"""Ingestion jobs: start, run, watch, cancel, reap.

A job is its record in ``ingestion_logs`` (status, progress, counts, HTTP figures,
heartbeat, cancel flag) plus the tenant's lease in ``locks``. Starting takes the lease
with one atomic operation, writes the record and hands the run to this process's bounded
thread pool. The run heartbeats (lease and record) between pages and inside every wait,
sees a cancel request from any worker through the record, and always leaves a final
status. A reaper finalises runs whose worker died as ``abandoned``.
"""
from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from pymongo import DESCENDING, ReturnDocument

from ..classification import Classifier
from ..clock import Clock, utc
from ..config import Settings
from ..storage import Database
from ..errors import Conflict, NotFound, Unavailable
from ..notifications.outbox import NotificationOutbox
from .locks import LeaseHeld, LeaseLock
from .sync import SyncCounts, TicketSync
from .upstream import CallStats, UpstreamClient, UpstreamError

log = logging.getLogger(__name__)

RUNNING, COMPLETED, FAILED, CANCELLED, ABANDONED = "running", "completed", "failed", "cancelled", "abandoned"
FINAL_STATUSES = (COMPLETED, FAILED, CANCELLED, ABANDONED)
TRIGGERS = ("api", "schedule", "cli")
WAIT_SLICE_S = 0.25
MAX_PAGES = 100_000
CAPACITY_WAIT_S = 1.0
MAX_SINGLE_CHECKS = 50  # single-ticket confirmations of a deletion per run (each costs budget)


class JobCancelled(Exception):
    """The job's cancel flag was seen (or this process is shutting down)."""


class LeaseLost(Exception):
    """Another owner holds the tenant's lease now: this job must stop writing."""


def lock_resource(tenant_id: str) -> str:
    return f"ingest:{tenant_id}"


@dataclass
class RunContext:
    """What a running job carries: identity, figures, and its heartbeat bookkeeping."""

    job_id: str
    tenant_id: str
    started_at: datetime
    counts: SyncCounts = field(default_factory=SyncCounts)
    http: CallStats = field(default_factory=CallStats)
    processed_pages: int = 0
    total_pages: int | None = None
    last_heartbeat: datetime | None = None
    stop_requested: threading.Event = field(default_factory=threading.Event)


class IngestionService:
    def __init__(self, settings: Settings, db: Database, clock: Clock, upstream: UpstreamClient,
                 classifier: Classifier, outbox: NotificationOutbox,
                 on_finished: Callable[[dict], None] | None = None):
        self.settings = settings
        self.db = db
        self.clock = clock
        self.upstream = upstream
        self.classifier = classifier
        self.outbox = outbox
        self.leases = LeaseLock(db.locks, clock, settings.lock_ttl_s)
        self.on_finished = on_finished
        self._pool = ThreadPoolExecutor(max_workers=settings.ingest_workers, thread_name_prefix="ingest")
        self._capacity = threading.BoundedSemaphore(settings.ingest_workers)
        # Runs in this process right now (at most INGEST_WORKERS); emptied as they end.
        self._active: dict[str, RunContext] = {}
        self._active_lock = threading.Lock()
        self._closed = False

    # -- starting -----------------------------------------------------------------------
    def start(self, tenant_id: str, trigger: str = "api") -> dict:
        """Take the tenant's lease, write the running record, queue the run.

        Raises ``Conflict`` (with the running ``job_id``) while another job holds the lease,
        ``Unavailable`` when this process's ingestion pool is full or shutting down.
        """
        if self._closed:
            raise Unavailable("this worker is shutting down; retry", retry_after=1)
        # Wait a moment for a slot: concurrent requests that lose the lease race hold one
        # only for a few milliseconds, and must not make a caller see 503 instead of 409.
        if not self._capacity.acquire(timeout=CAPACITY_WAIT_S):
            raise Unavailable("ingestion capacity of this worker is full; retry shortly", retry_after=5)
        job_id = uuid.uuid4().hex
        try:
            try:
                self.leases.acquire(lock_resource(tenant_id), job_id)
            except LeaseHeld as held:
                raise Conflict(f"an ingestion job is already running for tenant {tenant_id}",
                               job_id=held.owner, tenant_id=tenant_id) from None
            now = self.clock.now()
            record = {
                "job_id": job_id, "tenant_id": tenant_id, "trigger": trigger, "status": RUNNING,
                "cancel_requested": False, "started_at": now, "heartbeat_at": now, "ended_at": None,
                "duration_s": None, "total_pages": None, "processed_pages": 0,
                "counts": SyncCounts().as_dict(), "http": CallStats().as_dict(), "error": None,
                "worker": _worker_name(),
            }
            try:
                self.db.ingestion_logs.insert_one(dict(record))
                # Any run resets the tenant's periodic timer: the next scheduled sync is one
                # interval after the latest run, not right after the first one.
                self.db.tenants.update_one(
                    {"_id": tenant_id},
                    {"$set": {"last_run_started_at": now,
                              "next_sync_at": now + timedelta(seconds=self.settings.sync_interval_s)},
                     "$setOnInsert": {"first_seen_at": now, "data_version": 0}},
                    upsert=True,
                )
                context = RunContext(job_id, tenant_id, now, last_heartbeat=now)
                with self._active_lock:
                    self._active[job_id] = context
                self._pool.submit(self._run, context)
            except BaseException:
                with self._active_lock:
                    self._active.pop(job_id, None)
                self.leases.release(lock_resource(tenant_id), job_id)
                self.db.ingestion_logs.update_one(
                    {"job_id": job_id, "status": RUNNING},
                    {"$set": {"status": FAILED, "ended_at": self.clock.now(), "error": "could not start"}})
                raise
        except BaseException:
            self._capacity.release()
            raise
        log.info("ingestion started job_id=%s tenant=%s trigger=%s", job_id, tenant_id, trigger)
        return record

    # -- the run ------------------------------------------------------------------------
    def _run(self, ctx: RunContext) -> None:
        status, error = FAILED, None
        try:
            complete = self._fetch_all_pages(ctx)
            if complete:
                self._confirm_deletions(ctx)
            status = COMPLETED
        except JobCancelled:
            status = CANCELLED
        except LeaseLost as exc:
            status, error = FAILED, f"lost the tenant lease: {exc}"
        except UpstreamError as exc:
            status, error = FAILED, f"upstream: {exc}"
        except Exception as exc:  # the record must still end truthfully
            log.exception("ingestion job %s crashed", ctx.job_id)
            status, error = FAILED, f"internal error: {type(exc).__name__}: {exc}"[:500]
        finally:
            # Free the lease before the record says the run is over, so a caller who sees
            # the final status can start the next run at once. A crash between the two
            # leaves a "running" record without a lease: the reaper finalises it.
            try:
                self.leases.release(lock_resource(ctx.tenant_id), ctx.job_id)
                self._finish(ctx, status, error)
            finally:
                with self._active_lock:
                    self._active.pop(ctx.job_id, None)
                self._capacity.release()

    def _fetch_all_pages(self, ctx: RunContext) -> bool:
        """Walk every page; True when the walk provably saw the whole list."""
        sync = TicketSync(self.db, ctx.tenant_id, self.classifier, self.outbox, self.clock.now)
        page_number = 1
        requested: set[int] = set()
        fingerprints: set[str] = set()
        while len(requested) < MAX_PAGES:
            self._checkpoint(ctx)
            requested.add(page_number)
            page = self.upstream.fetch_page(ctx.tenant_id, page_number, lambda s: self._wait(ctx, s), ctx.http)
            if page.total_count is not None and ctx.total_pages is None:
                ctx.total_pages = max(1, math.ceil(page.total_count / self.settings.external_page_size))
            if not page.tickets:
                self._save_progress(ctx)
                return True
            fingerprint = _fingerprint(page.tickets)
            if fingerprint in fingerprints:
                log.warning("job %s: page %d repeats an earlier page; stopping (loop guard)", ctx.job_id, page_number)
                self._save_progress(ctx)
                return False
            fingerprints.add(fingerprint)
            self._checkpoint(ctx)  # the lease is ours before we write
            if sync.apply_page(page.tickets, ctx.job_id, ctx.counts):
                self._bump_data_version(ctx.tenant_id)
            ctx.processed_pages += 1
            self._save_progress(ctx)
            if page.next_page is None:
                return True
            if page.next_page in requested:
                log.warning("job %s: next_page %s was already fetched; stopping (loop guard)",
                            ctx.job_id, page.next_page)
                return False
            page_number = page.next_page
        log.warning("job %s: stopped after %d pages (MAX_PAGES)", ctx.job_id, MAX_PAGES)
        return False

    def _confirm_deletions(self, ctx: RunContext) -> None:
        """Soft-delete stored tickets this complete run did not see, when the upstream
        confirms they are gone (deleted-tickets list, or 404 on the single ticket)."""
        sync = TicketSync(self.db, ctx.tenant_id, self.classifier, self.outbox, self.clock.now)
        missing = sync.repo.unseen_by(ctx.job_id, limit=100_000)
        if not missing:
            return
        wait = lambda s: self._wait(ctx, s)  # noqa: E731
        self._checkpoint(ctx)
        gone_upstream = self.upstream.deleted_ids(ctx.tenant_id, wait, ctx.http)
        confirmed = [i for i in missing if i in gone_upstream]
        unexplained = [i for i in missing if i not in gone_upstream]
        for external_id in unexplained[:MAX_SINGLE_CHECKS]:
            self._checkpoint(ctx)
            ticket = self.upstream.fetch_ticket(ctx.tenant_id, external_id, wait, ctx.http)
            if ticket is None:
                confirmed.append(external_id)
            elif sync.apply_page([ticket], ctx.job_id, ctx.counts):
                # Still there: the offset pages shifted under us. Seen now; not deleted.
                self._bump_data_version(ctx.tenant_id)
        if len(unexplained) > MAX_SINGLE_CHECKS:
            log.info("job %s: %d unseen tickets left for the next run to confirm",
                     ctx.job_id, len(unexplained) - MAX_SINGLE_CHECKS)
        self._checkpoint(ctx)
        deleted = sync.soft_delete(confirmed, ctx.job_id)
        ctx.counts.deleted += len(deleted)
        if deleted:
            self._bump_data_version(ctx.tenant_id)
        self._save_progress(ctx)

    # -- heartbeat, cancel, waits -----------------------------------------------------
    def _checkpoint(self, ctx: RunContext) -> None:
        """Raise if the job must stop (cancel or lost lease); heartbeat when one is due."""
        if ctx.stop_requested.is_set():
            raise JobCancelled()
        record = self.db.ingestion_logs.find_one({"job_id": ctx.job_id}, {"cancel_requested": 1, "status": 1})
        if record is None or record.get("cancel_requested"):
            raise JobCancelled()
        if record.get("status") != RUNNING:
            raise LeaseLost(f"record already finalised as {record.get('status')}")
        now = self.clock.now()
        if ctx.last_heartbeat is None or (now - ctx.last_heartbeat).total_seconds() >= self.settings.lock_heartbeat_s:
            if not self.leases.refresh(lock_resource(ctx.tenant_id), ctx.job_id):
                raise LeaseLost("lease expired or taken over")
            self.db.ingestion_logs.update_one({"job_id": ctx.job_id, "status": RUNNING},
                                              {"$set": {"heartbeat_at": now}})
            ctx.last_heartbeat = now

    def _wait(self, ctx: RunContext, seconds: float) -> None:
        """Sleep in short slices, keeping the lease and watching the cancel flag."""
        deadline = self.clock.now() + timedelta(seconds=seconds)
        while True:
            self._checkpoint(ctx)
            remaining = (deadline - self.clock.now()).total_seconds()
            if remaining <= 0:
                return
            self.clock.sleep(min(remaining, WAIT_SLICE_S))

    def _save_progress(self, ctx: RunContext) -> None:
        self.db.ingestion_logs.update_one(
            {"job_id": ctx.job_id, "status": RUNNING},
            {"$set": {"processed_pages": ctx.processed_pages, "total_pages": ctx.total_pages,
                      "counts": ctx.counts.as_dict(), "http": ctx.http.as_dict()}},
        )

    def _bump_data_version(self, tenant_id: str) -> None:
        self.db.tenants.update_one({"_id": tenant_id}, {"$inc": {"data_version": 1}}, upsert=True)

    def _finish(self, ctx: RunContext, status: str, error: str | None) -> None:
        now = self.clock.now()
        final = {
            "status": status, "ended_at": now,
            "duration_s": round((now - ctx.started_at).total_seconds(), 3),
            "processed_pages": ctx.processed_pages, "total_pages": ctx.total_pages,
            "counts": ctx.counts.as_dict(), "http": ctx.http.as_dict(), "error": error,
        }
        record = self.db.ingestion_logs.find_one_and_update(
            {"job_id": ctx.job_id, "status": RUNNING}, {"$set": final}, return_document=ReturnDocument.AFTER)
        if record is None:
            log.warning("job %s ended %s but its record was already final", ctx.job_id, status)
            return
        log.info("ingestion finished job_id=%s tenant=%s status=%s pages=%s counts=%s http=%s error=%s",
                 ctx.job_id, ctx.tenant_id, status, ctx.processed_pages, ctx.counts.as_dict(),
                 ctx.http.as_dict(), error)
        if self.on_finished is not None:
            self.on_finished(record)

    # -- control and views --------------------------------------------------------------
    def cancel(self, job_id: str) -> dict:
        """Flag a running job for cancellation (it stops at its next check, on any worker)."""
        record = self.db.ingestion_logs.find_one_and_update(
            {"job_id": job_id, "status": RUNNING},
            {"$set": {"cancel_requested": True}}, return_document=ReturnDocument.AFTER)
        if record is not None:
            return {"job_id": job_id, "status": "cancelling"}
        existing = self.db.ingestion_logs.find_one({"job_id": job_id}, {"status": 1})
        if existing is None:
            raise NotFound(f"unknown job {job_id}")
        raise Conflict(f"job {job_id} already ended as {existing['status']}", job_id=job_id,
                       job_status=existing["status"])

    def get(self, job_id: str) -> dict:
        record = self.db.ingestion_logs.find_one({"job_id": job_id}, {"_id": 0})
        if record is None:
            raise NotFound(f"unknown job {job_id}")
        return record

    def status(self, tenant_id: str) -> dict:
        holder = self.leases.holder(lock_resource(tenant_id))
        job = None
        if holder is not None:
            job = self.db.ingestion_logs.find_one({"job_id": holder["owner"]}, {"_id": 0})
        if job is None:
            job = self.db.ingestion_logs.find_one({"tenant_id": tenant_id}, {"_id": 0},
                                                  sort=[("started_at", DESCENDING)])
        running = holder is not None and job is not None and job.get("status") == RUNNING
        return {"tenant_id": tenant_id, "running": running, "job": job}

    def logs(self, tenant_id: str, page: int, page_size: int) -> tuple[list[dict], int]:
        criteria = {"tenant_id": tenant_id}
        total = self.db.ingestion_logs.count_documents(criteria)
        rows = list(self.db.ingestion_logs.find(criteria, {"_id": 0}).sort("started_at", DESCENDING)
                    .skip((page - 1) * page_size).limit(page_size))
        return rows, total

    # -- housekeeping -------------------------------------------------------------------
    def reap(self) -> int:
        """Finalise runs whose worker stopped heartbeating for a whole lease as ``abandoned``."""
        now = self.clock.now()
        cutoff = now - timedelta(seconds=self.settings.lock_ttl_s)
        reaped = 0
        for record in self.db.ingestion_logs.find({"status": RUNNING, "heartbeat_at": {"$lt": cutoff}},
                                                  {"job_id": 1, "tenant_id": 1, "started_at": 1, "heartbeat_at": 1}):
            with self._active_lock:
                if record["job_id"] in self._active:
                    continue  # alive in this very process, just between heartbeats
            done = self.db.ingestion_logs.find_one_and_update(
                {"job_id": record["job_id"], "status": RUNNING, "heartbeat_at": record["heartbeat_at"]},
                {"$set": {"status": ABANDONED, "ended_at": now,
                          "duration_s": round((now - utc(record["started_at"])).total_seconds(), 3),
                          "error": "abandoned: its worker stopped heartbeating (crash or kill)"}},
                return_document=ReturnDocument.AFTER,
            )
            if done is not None:
                self.leases.release_expired(lock_resource(record["tenant_id"]), record["job_id"])
                reaped += 1
                log.warning("reaped abandoned job job_id=%s tenant=%s", record["job_id"], record["tenant_id"])
                if self.on_finished is not None:
                    self.on_finished(done)
        return reaped

    def sync_due_tenants(self) -> list[str]:
        """Start a scheduled run for every known tenant whose next sync is due (once across
        all workers: the slot is claimed atomically); skip tenants whose lock is held."""
        interval = self.settings.sync_interval_s
        if interval <= 0:
            return []
        started = []
        now = self.clock.now()
        for tenant in self.db.tenants.find({"next_sync_at": {"$lte": now}, "sync_enabled": {"$ne": False}}, {"_id": 1}):
            claimed = self.db.tenants.find_one_and_update(
                {"_id": tenant["_id"], "next_sync_at": {"$lte": now}, "sync_enabled": {"$ne": False}},
                {"$set": {"next_sync_at": now + timedelta(seconds=interval)}})
            if claimed is None:
                continue
            try:
                self.start(tenant["_id"], trigger="schedule")
                started.append(tenant["_id"])
            except Conflict:
                log.info("scheduled sync skipped: tenant %s is already ingesting", tenant["_id"])
            except Unavailable:
                # No room in this worker now: give the slot back for the next tick.
                self.db.tenants.update_one({"_id": tenant["_id"]}, {"$set": {"next_sync_at": now}})
                break
        return started

    def active_jobs(self) -> list[str]:
        with self._active_lock:
            return list(self._active)

    def shutdown(self, timeout: float = 20.0) -> None:
        """Stop accepting runs, cancel this process's running jobs, wait for them to end
        (they release their leases), then stop the pool."""
        self._closed = True
        with self._active_lock:
            contexts = list(self._active.values())
        for ctx in contexts:
            ctx.stop_requested.set()
            self.db.ingestion_logs.update_one({"job_id": ctx.job_id, "status": RUNNING},
                                              {"$set": {"cancel_requested": True}})
        if contexts:
            log.info("shutdown: cancelling %d running job(s): %s", len(contexts), [c.job_id for c in contexts])
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        while self.active_jobs() and time.monotonic() < deadline:
            time.sleep(0.05)  # each job sees its flag within one wait slice and ends
        if self.active_jobs():
            log.warning("shutdown: jobs still running after %.0fs: %s", timeout, self.active_jobs())


def _fingerprint(tickets: list[Any]) -> str:
    digest = hashlib.sha1()
    for ticket in tickets:
        if isinstance(ticket, dict):
            digest.update(f"{ticket.get('tenant_id')}/{ticket.get('id')}/{ticket.get('updated_at')}|".encode())
    return digest.hexdigest()


def _worker_name() -> str:
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"
