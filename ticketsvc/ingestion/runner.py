"""IngestionRunner: starts runs, runs them, checkpoints them, shuts them down, reaps the dead.

Starting takes the tenant's lease with one atomic operation, writes the job's record and
hands the run to an executor (this process's bounded thread pool; tests and one-off runs
may pass one that runs it in the calling thread). A running job passes a checkpoint
before every upstream call and every write, and inside every wait: it stops there when a
user cancelled it (the flag on its record, set by any worker), when this process shuts
down, or when its lease is gone, and heartbeats its lease and record when one is due. It
always leaves a final record saying how and why it ended. The reaper finalises runs whose
worker died (no heartbeat for a whole lease) as ``abandoned``: the one worker-less path.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Callable

from ..classification import Classifier
from ..clock import Clock
from ..config import Settings
from ..domain import Page, PageRequest
from ..storage import Database
from ..errors import Conflict, NotFound, Unavailable
from ..logcontext import capture_log_context, log_context
from ..notifications.outbox import NotificationOutbox
from ..upstream import CallStats, UpstreamClient, UpstreamError
from .job import IngestionJob, JobRecords, JobStatus, JobStopped, StopReason, Trigger
from .locks import LeaseHeld, LeaseLock
from .schedule import TenantSchedule
from .sync import TicketSync, sync_version
from .tenant_sync import TenantSync

log = logging.getLogger(__name__)

WAIT_SLICE_S = 0.25
CAPACITY_WAIT_S = 1.0


def lock_resource(tenant_id: str) -> str:
    return f"ingest:{tenant_id}"


class InlineExecutor(Executor):
    """Runs each submitted job in the caller's thread, to its end (synchronous runs)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # as a pool would: the job's own business
            future.set_exception(exc)
        return future


class RunningJob:
    """A job's hold on its run: the checkpoint, waits that keep the lease, progress saves.
    Its sync and the upstream client (as a ``Caller``) call back into it."""

    def __init__(self, runner: "IngestionRunner", job: IngestionJob):
        self.runner = runner
        self.job = job

    @property
    def stats(self) -> CallStats:
        return self.job.http

    def checkpoint(self) -> None:
        """Raise ``JobStopped`` if the job must stop; heartbeat when one is due."""
        job, runner = self.job, self.runner
        if job.shutdown_requested.is_set():
            raise JobStopped(StopReason.SHUTDOWN)
        control = runner.records.control(job.job_id)
        if control is None or control.get("cancel_requested"):
            raise JobStopped(StopReason.USER_CANCEL)
        if control.get("status") != JobStatus.RUNNING:
            raise JobStopped(StopReason.LEASE_LOST, f"record already finalised as {control.get('status')}")
        now = runner.clock.now()
        if job.last_heartbeat is None or (now - job.last_heartbeat).total_seconds() >= runner.settings.lock_heartbeat_s:
            if not runner.leases.refresh(lock_resource(job.tenant_id), job.job_id, now):
                raise JobStopped(StopReason.LEASE_LOST, "lease expired or taken over")
            runner.records.heartbeat(job, now)
            job.last_heartbeat = now

    def wait(self, seconds: float, reason: str | None = None) -> None:
        """Sleep in short slices, keeping the lease and watching for a stop; while it waits,
        the record says for what and until when (``waiting``)."""
        clock = self.runner.clock
        deadline = clock.now() + timedelta(seconds=seconds)
        if reason is not None:
            self.job.waiting = {"reason": reason, "until": deadline}
            self.save_progress()
        try:
            while True:
                self.checkpoint()
                remaining = (deadline - clock.now()).total_seconds()
                if remaining <= 0:
                    return
                clock.sleep(min(remaining, WAIT_SLICE_S))
        finally:
            if reason is not None:
                self.job.waiting = None
                self.save_progress()

    def save_progress(self) -> None:
        self.runner.records.save_progress(self.job)


class IngestionRunner:
    def __init__(self, settings: Settings, db: Database, clock: Clock, upstream: UpstreamClient,
                 classifier: Classifier, outbox: NotificationOutbox, *, executor: Executor | None = None,
                 on_finished: Callable[[dict], None] = lambda record: None):
        self.settings = settings
        self.db = db
        self.clock = clock
        self.upstream = upstream
        self.classifier = classifier
        self.outbox = outbox
        self.records = JobRecords(db.ingestion_logs)
        self.schedule = TenantSchedule(db.tenants, settings.sync_interval_s, settings.full_sync_interval_s,
                                       sync_version(classifier.version))
        self.leases = LeaseLock(db.locks, settings.lock_ttl_s)
        self.on_finished = on_finished  # told each final record this process writes (metrics)
        self._executor = executor or ThreadPoolExecutor(max_workers=settings.ingest_workers,
                                                        thread_name_prefix="ingest")
        self._capacity = threading.BoundedSemaphore(settings.ingest_workers)
        # Runs in this process right now (at most INGEST_WORKERS); emptied as they end.
        self._active: dict[str, IngestionJob] = {}
        self._active_lock = threading.Lock()
        self._closed = False

    # -- starting -----------------------------------------------------------------------
    def start(self, tenant_id: str, trigger: Trigger | str = Trigger.API) -> dict:
        """Take the tenant's lease, write the running record, hand the run to the executor.

        Raises ``Conflict`` (with the running ``job_id``) while another job holds the lease,
        ``Unavailable`` when this process's ingestion capacity is full or shutting down.
        """
        return self._start(tenant_id, Trigger(trigger), self._executor)

    def run(self, tenant_id: str, trigger: Trigger | str = Trigger.API) -> dict:
        """Start a run and run it in the calling thread; its final record."""
        record = self._start(tenant_id, Trigger(trigger), InlineExecutor())
        return self.get(record["job_id"])

    def _start(self, tenant_id: str, trigger: Trigger, executor: Executor) -> dict:
        if self._closed:
            raise Unavailable("this worker is shutting down; retry", retry_after=1)
        job = IngestionJob.new(tenant_id, trigger, self.clock.now())
        # The lease first: a tenant that is running is a 409 naming its job, whatever this
        # worker's load. A 503 then means only "this tenant is free, this worker is full".
        try:
            self.leases.acquire(lock_resource(tenant_id), job.job_id, job.started_at)
        except LeaseHeld as held:
            raise Conflict(f"an ingestion job is already running for tenant {tenant_id}",
                           job_id=held.owner, tenant_id=tenant_id) from None
        # Wait a moment for a slot: a run that just ended frees its slot a moment after
        # its lease, and its caller may start the next run at once.
        if not self._capacity.acquire(timeout=CAPACITY_WAIT_S):
            self.leases.release(lock_resource(tenant_id), job.job_id)
            raise Unavailable("ingestion capacity of this worker is full; retry shortly", retry_after=5)
        try:
            try:
                job.use_plan(self.schedule.plan(tenant_id, job.started_at))
                record = self.records.insert(job)
                self.schedule.run_started(tenant_id, job.started_at)
                with self._active_lock:
                    self._active[job.job_id] = job
                log.info("ingestion started job_id=%s tenant=%s trigger=%s", job.job_id, tenant_id, trigger.value)
                # The pool thread starts from an empty log context: carry the request's
                # (its request_id) along, so the run's lines can be traced to the request.
                executor.submit(self._run_logged, job, capture_log_context())
            except BaseException:
                with self._active_lock:
                    self._active.pop(job.job_id, None)
                self.leases.release(lock_resource(tenant_id), job.job_id)
                if job.status is JobStatus.RUNNING:
                    job.fail("could not start")
                    self.records.finalise(job, self.clock.now())
                raise
        except BaseException:
            self._capacity.release()
            raise
        return record

    # -- the run ------------------------------------------------------------------------
    def _run_logged(self, job: IngestionJob, context: dict) -> None:
        with log_context(**context, job_id=job.job_id, tenant=job.tenant_id):
            self._run(job)

    def _run(self, job: IngestionJob) -> None:
        running = RunningJob(self, job)
        try:
            self._tenant_sync(running).run(job)
            running.checkpoint()  # a cancel or a lost lease during the last call ends it here
            job.complete()
        except JobStopped as stopped:
            if stopped.reason is StopReason.LEASE_LOST:
                job.fail(f"lost the tenant lease: {stopped.detail}", StopReason.LEASE_LOST)
            else:
                job.cancel(stopped.reason)
        except UpstreamError as exc:
            job.fail(f"upstream: {exc}")
        except Exception as exc:  # the record must still end truthfully
            log.exception("ingestion job %s crashed", job.job_id)
            job.fail(f"internal error: {type(exc).__name__}: {exc}"[:500])
        finally:
            if job.status is JobStatus.RUNNING:  # interrupted by a BaseException
                job.fail(None)
            # Free the lease before the record says the run is over, so a caller who sees
            # the final status can start the next run at once. A crash between the two
            # leaves a "running" record without a lease: the reaper finalises it.
            try:
                self.leases.release(lock_resource(job.tenant_id), job.job_id)
                self._finish(job)
            finally:
                with self._active_lock:
                    self._active.pop(job.job_id, None)
                self._capacity.release()

    def _tenant_sync(self, running: RunningJob) -> TenantSync:
        tenant_id = running.job.tenant_id
        tickets = TicketSync(self.db, tenant_id, self.classifier, self.outbox, self.clock.now)
        return TenantSync(self.upstream, tickets, running, page_size=self.settings.external_page_size,
                          data_changed=lambda: self.schedule.data_changed(tenant_id), now=self.clock.now)

    def _finish(self, job: IngestionJob) -> None:
        now = self.clock.now()
        record = self.records.finalise(job, now)
        if record is None and job.cancel_came_last(self.records.control(job.job_id)):
            now = self.clock.now()
            record = self.records.finalise(job, now)
        if record is None:
            log.warning("job %s ended %s but its record was already final", job.job_id, job.status.value)
            return
        # After the final record: the feed's cursor moves only for a run recorded complete.
        self.schedule.run_ended(job, job.status is JobStatus.COMPLETED, now)
        log.info("ingestion finished job_id=%s tenant=%s status=%s stop_reason=%s pages=%s counts=%s http=%s "
                 "error=%s", job.job_id, job.tenant_id, job.status.value,
                 job.stop_reason.value if job.stop_reason else None, job.processed_pages, job.counts.as_dict(),
                 job.http.as_dict(), job.error)
        self.on_finished(record)

    # -- control and views --------------------------------------------------------------
    def cancel(self, job_id: str) -> dict:
        """Flag a running job for cancellation (it stops at its next check, on any worker)."""
        if self.records.request_cancel(job_id) is not None:
            return {"job_id": job_id, "status": "cancelling"}
        existing = self.records.get(job_id)
        if existing is None:
            raise NotFound(f"unknown job {job_id}")
        raise Conflict(f"job {job_id} already ended as {existing['status']}", job_id=job_id,
                       job_status=existing["status"])

    def get(self, job_id: str) -> dict:
        record = self.records.get(job_id)
        if record is None:
            raise NotFound(f"unknown job {job_id}")
        return record

    def status(self, tenant_id: str) -> dict:
        holder = self.leases.holder(lock_resource(tenant_id), self.clock.now())
        job = None
        if holder is not None:
            job = self.records.get(holder["owner"])
        if job is None:
            job = self.records.latest(tenant_id)
        running = holder is not None and job is not None and job.get("status") == JobStatus.RUNNING
        return {"tenant_id": tenant_id, "running": running, "job": job,
                "sync": self.schedule.sync_view(tenant_id, self.clock.now())}

    def logs(self, tenant_id: str, request: PageRequest) -> Page:
        return self.records.page(tenant_id, request)

    # -- housekeeping -------------------------------------------------------------------
    def reap(self) -> int:
        """Finalise runs whose worker stopped heartbeating for a whole lease as ``abandoned``."""
        now = self.clock.now()
        reaped = 0
        for record in self.records.silent_since(now - timedelta(seconds=self.settings.lock_ttl_s)):
            with self._active_lock:
                if record["job_id"] in self._active:
                    continue  # alive in this very process, just between heartbeats
            done = self.records.abandon(record, now)
            if done is not None:
                self.leases.release_expired(lock_resource(record["tenant_id"]), record["job_id"], now)
                reaped += 1
                log.warning("reaped abandoned job job_id=%s tenant=%s", record["job_id"], record["tenant_id"])
                self.on_finished(done)
        return reaped

    def sync_due_tenants(self) -> list[str]:
        """Start a scheduled run for every known tenant whose next sync is due."""
        return self.schedule.start_due(self.clock.now(), lambda tenant_id: self.start(tenant_id, Trigger.SCHEDULE))

    def active_jobs(self) -> list[str]:
        with self._active_lock:
            return list(self._active)

    def shutdown(self, timeout: float = 20.0) -> None:
        """Stop accepting runs, stop this process's running jobs at their next checkpoint
        (they end ``cancelled`` with ``stop_reason: shutdown`` and release their leases),
        wait for them, then stop the executor."""
        self._closed = True
        with self._active_lock:
            jobs = list(self._active.values())
        for job in jobs:
            job.shutdown_requested.set()
        if jobs:
            log.info("shutdown: cancelling %d running job(s): %s", len(jobs), [j.job_id for j in jobs])
        self._executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        while self.active_jobs() and time.monotonic() < deadline:
            time.sleep(0.05)  # each job sees its flag within one wait slice and ends
        if self.active_jobs():
            log.warning("shutdown: jobs still running after %.0fs: %s", timeout, self.active_jobs())
