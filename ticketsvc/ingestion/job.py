"""An ingestion job and its record: what a run is, how its status changes, and
``JobRecords``, the only code that reads or writes ``ingestion_logs``.

The record is both the job and its audit trail: written when the run starts, kept current
while it runs (progress, heartbeat), read by any worker (progress, the cancel flag) and
finalised once, by the run itself or, if its worker died, by the reaper.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Iterator

from pymongo import DESCENDING, ReturnDocument
from pymongo.errors import PyMongoError

from ..clock import utc
from ..domain import Page, PageRequest, read_page
from ..storage.failover import retry_once
from ..upstream import CallStats
from .modes import SyncMode, SyncPlan, parse_upstream_time
from .sync import SyncCounts

log = logging.getLogger(__name__)


class JobStatus(str, Enum):
    """Where a run is: ``running`` until it ends in one of the final statuses."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"  # its worker died: the lease lapsed without a final write

    @classmethod
    def final(cls) -> tuple["JobStatus", ...]:
        return tuple(status for status in cls if status is not cls.RUNNING)


class Trigger(str, Enum):
    """Who asked for the run."""

    API = "api"
    SCHEDULE = "schedule"
    CLI = "cli"


class StopReason(str, Enum):
    """Why a run stopped before its end (``stop_reason`` in the record)."""

    USER_CANCEL = "user_cancel"  # DELETE /ingest/{job_id}, served by any worker
    SHUTDOWN = "shutdown"  # its worker is stopping (SIGTERM)
    LEASE_LOST = "lease_lost"  # the tenant's lease lapsed or was taken over


class JobStopped(Exception):
    """The run must stop now, for ``reason``."""

    def __init__(self, reason: StopReason, detail: str = ""):
        super().__init__(detail or reason.value)
        self.reason = reason
        self.detail = detail


@dataclass
class IngestionJob:
    """One run as its worker holds it: identity, figures, and how it ended."""

    job_id: str
    tenant_id: str
    trigger: Trigger
    started_at: datetime
    worker: str
    counts: SyncCounts = field(default_factory=SyncCounts)
    http: CallStats = field(default_factory=CallStats)
    processed_pages: int = 0
    total_pages: int | None = None
    plan: SyncPlan | None = None  # set once the lease is held
    mode: SyncMode | None = None  # the plan's mode, until a fall back to a full walk
    mode_reason: str | None = None
    # The change feed as this run saw it: available, since, as_of (latest page), position
    # (the latest change read: how far a feed walk has come, for progress).
    feed: dict[str, Any] = field(default_factory=dict)
    # The upstream time the next incremental run starts from, once this run completes.
    feed_as_of: datetime | None = None
    status: JobStatus = JobStatus.RUNNING
    stop_reason: StopReason | None = None
    stopped_early: str | None = None  # why a run that ended well did not see every page ("page loop")
    waiting: dict | None = None  # {"reason", "until"} while it waits on the rate limit or a backoff
    error: str | None = None
    last_heartbeat: datetime | None = None
    # Set by this process's shutdown; a user's cancel arrives through the record instead.
    shutdown_requested: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @classmethod
    def new(cls, tenant_id: str, trigger: Trigger, now: datetime) -> "IngestionJob":
        return cls(uuid.uuid4().hex, tenant_id, Trigger(trigger), now, _worker_name(), last_heartbeat=now)

    def use_plan(self, plan: SyncPlan) -> None:
        self.plan, self.mode, self.mode_reason = plan, plan.mode, plan.reason

    def fall_back_to_full(self, reason: str) -> None:
        """The feed could not serve this run: it walks every page instead."""
        self.mode, self.mode_reason = SyncMode.FULL, f"fell back to a full walk: {reason}"
        self.feed_as_of = None
        self.processed_pages, self.total_pages = 0, None

    # -- transitions: the only places a job's status changes --------------------------
    def complete(self) -> None:
        self._end(JobStatus.COMPLETED)

    def cancel(self, reason: StopReason) -> None:
        self._end(JobStatus.CANCELLED, stop_reason=reason)

    def fail(self, error: str | None, stop_reason: StopReason | None = None) -> None:
        self._end(JobStatus.FAILED, error=error, stop_reason=stop_reason)

    def cancel_came_last(self, control: dict | None) -> bool:
        """A run that completed, but whose cancel came in after its last check, ends
        ``cancelled`` (its record said ``cancel_requested``: never ``completed`` with it)."""
        if self.status is not JobStatus.COMPLETED or not control or control.get("status") != JobStatus.RUNNING:
            return False
        self.status, self.stop_reason = JobStatus.CANCELLED, StopReason.USER_CANCEL
        return True

    def _end(self, status: JobStatus, *, error: str | None = None, stop_reason: StopReason | None = None) -> None:
        if self.status is not JobStatus.RUNNING:
            raise RuntimeError(f"job {self.job_id} already ended {self.status.value}")
        self.status, self.error, self.stop_reason = status, error, stop_reason

    # -- as stored ------------------------------------------------------------------------
    def figures(self) -> dict[str, Any]:
        return {"processed_pages": self.processed_pages, "total_pages": self.total_pages,
                "counts": self.counts.as_dict(), "http": self.http.as_dict(),
                "stopped_early": self.stopped_early, "waiting": self.waiting,
                "mode": self.mode.value if self.mode else None, "mode_reason": self.mode_reason,
                "feed": dict(self.feed) or None}

    def record(self) -> dict[str, Any]:
        """The record as first written."""
        return {
            "job_id": self.job_id, "tenant_id": self.tenant_id, "trigger": self.trigger.value,
            "status": self.status.value, "cancel_requested": False, "stop_reason": None,
            "started_at": self.started_at, "heartbeat_at": self.started_at, "ended_at": None, "duration_s": None,
            **self.figures(), "error": None, "worker": self.worker,
        }


def progress(record: dict) -> int:
    """0-100: 100 only once completed, 0 before the first page. A full walk counts pages
    against ``total_pages``; a feed walk has no known end, so it measures how far the
    latest change it read lies between the walk's ``since`` and the feed's ``as_of``."""
    total, done = record.get("total_pages"), record.get("processed_pages") or 0
    if record.get("status") == JobStatus.COMPLETED:
        return 100
    if total:
        return min(99, int(done * 100 / total))
    feed = record.get("feed") or {}
    since, as_of, position = (parse_upstream_time(feed.get(k)) for k in ("since", "as_of", "position"))
    if since is not None and as_of is not None and position is not None and as_of > since:
        share = (position - since).total_seconds() / (as_of - since).total_seconds()
        return max(0, min(99, int(share * 100)))
    return 0


def _running(tenant_id: str, job_id: str) -> dict[str, Any]:
    """The filter of a running job's record, led by the shard key."""
    return {"tenant_id": tenant_id, "job_id": job_id, "status": _RUNNING}


def _duration_s(started_at: datetime, now: datetime) -> float:
    return round((now - utc(started_at)).total_seconds(), 3)


_RUNNING = JobStatus.RUNNING.value


class JobRecords:
    """The jobs' records in ``ingestion_logs``. Writes to a running record are conditional
    on ``status: running``, so a record finalised once (by its run or the reaper) stays so,
    and every write names the tenant first (the shard key, ``{tenant_id, job_id}``)."""

    def __init__(self, collection: Any):
        self.collection = collection

    def insert(self, job: IngestionJob) -> dict[str, Any]:
        record = job.record()
        self.collection.insert_one(dict(record))
        return record

    def save_progress(self, job: IngestionJob) -> None:
        self.collection.update_one(_running(job.tenant_id, job.job_id), {"$set": job.figures()})

    def heartbeat(self, job: IngestionJob, now: datetime) -> None:
        self.collection.update_one(_running(job.tenant_id, job.job_id), {"$set": {"heartbeat_at": now}})

    def control(self, job_id: str) -> dict | None:
        """What decides whether the run goes on: ``status`` and ``cancel_requested``."""
        return self.collection.find_one({"job_id": job_id}, {"cancel_requested": 1, "status": 1})

    def request_cancel(self, job_id: str) -> dict | None:
        """Flag a running job for cancellation; the record, or None if it is not running.
        The caller names only the job: its tenant is read first, so the write carries it."""
        record = self.collection.find_one({"job_id": job_id}, {"tenant_id": 1})
        if record is None:
            return None
        return self.collection.find_one_and_update(_running(record["tenant_id"], job_id),
                                                   {"$set": {"cancel_requested": True}},
                                                   return_document=ReturnDocument.AFTER)

    def finalise(self, job: IngestionJob, now: datetime) -> dict | None:
        """Write the job's end; the final record, or None if it was already final (or, for
        a completed job, if a cancel was asked for meanwhile: a cancel that came last wins).
        Tried once more after a failover: only the run writes its own final status (the
        reaper writes ``abandoned``), so matching it too makes a retry of a write that landed
        a no-op. A write that fails twice is logged and raised: the reaper finalises the record."""
        final = {"tenant_id": job.tenant_id, "job_id": job.job_id, "status": {"$in": [_RUNNING, job.status.value]}}
        if job.status is JobStatus.COMPLETED:
            final["cancel_requested"] = {"$ne": True}
        try:
            return retry_once(lambda: self.collection.find_one_and_update(
                final,
                {"$set": {"status": job.status.value, "ended_at": now,
                          "duration_s": _duration_s(job.started_at, now), **job.figures(), "error": job.error,
                          "stop_reason": job.stop_reason.value if job.stop_reason else None}},
                return_document=ReturnDocument.AFTER))
        except PyMongoError as error:
            log.error("final record of job %s (%s) not written (%s: %s); the reaper will finalise it as abandoned",
                      job.job_id, job.status.value, type(error).__name__, error)
            raise

    def silent_since(self, cutoff: datetime) -> Iterator[dict]:
        """Running records whose last heartbeat is older than ``cutoff``."""
        return self.collection.find({"status": _RUNNING, "heartbeat_at": {"$lt": cutoff}},
                                    {"job_id": 1, "tenant_id": 1, "started_at": 1, "heartbeat_at": 1})

    def abandon(self, record: dict, now: datetime) -> dict | None:
        """Finalise a silent record as ``abandoned``, unless it heartbeat or ended meanwhile."""
        return self.collection.find_one_and_update(
            {**_running(record["tenant_id"], record["job_id"]), "heartbeat_at": record["heartbeat_at"]},
            {"$set": {"status": JobStatus.ABANDONED.value, "ended_at": now,
                      "duration_s": _duration_s(record["started_at"], now),
                      "error": "abandoned: its worker stopped heartbeating (crash or kill)"}},
            return_document=ReturnDocument.AFTER)

    # -- reading --------------------------------------------------------------------------
    def get(self, job_id: str) -> dict | None:
        return self.collection.find_one({"job_id": job_id}, {"_id": 0})

    def latest(self, tenant_id: str) -> dict | None:
        return self.collection.find_one({"tenant_id": tenant_id}, {"_id": 0}, sort=[("started_at", DESCENDING), ("job_id", DESCENDING)])

    def page(self, tenant_id: str, request: PageRequest) -> Page:
        """One page of a tenant's records, newest first (the job id breaks ties, so pages
        are a stable partition), and how many there are."""
        return read_page(self.collection, {"tenant_id": tenant_id}, request,
                         [("started_at", DESCENDING), ("job_id", DESCENDING)], {"_id": 0})


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
