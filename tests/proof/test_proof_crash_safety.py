"""Crash safety: a worker that dies (or stalls) mid-run leaves nothing the next run has to
undo. Its lease expires, a reaper on another worker marks the run ``abandoned`` and frees
the lock, the next run completes, and no ticket, history entry or alert exists twice.

The embedded engine dies with its process, so here death is simulated in-process on a
fake clock: the dead worker's leftovers are built exactly as it leaves them (its own
lease, its running record, whatever its last page had written), or its job is stalled
inside an upstream call while the clock passes its lease. With ``TEST_MONGO_URL`` the
real thing runs too: two gunicorn services over one database, SIGKILL to the workers of
the one running the job. tests/ingestion/test_job_runner.py already proves the reaper
on a bare record and lease; these add pages written, the next run and the duplicates check.
"""
from __future__ import annotations

import os
import signal
import uuid

import pytest
import requests

from conftest import TEST_MONGO_URL, base_settings, real_mongo_required
from proof.proof_support import (assert_converged, assert_final_audit_record, assert_history_and_alerts_consistent,
                                 assert_lock_free, child_pids, poll, upstream_count, wait_for_http_job)
from support import wait_for_job
from ticketsvc.clock import isoformat_z
from ticketsvc.ingestion.job import JobStatus
from ticketsvc.ingestion.runner import lock_resource
from ticketsvc.ingestion.sync import SyncCounts, TicketSync
from ticketsvc.api.context import get_runtime
from ticketsvc.upstream import CallStats

TENANT = "tenant_c"  # 160 tickets in the 800-ticket mock
PAGE = 20


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing after it runs, no ``finally`` of the job's own."""


def _leave_a_dead_workers_run(runtime, database, mock, clock, pages_written: int) -> str:
    """Do what a worker does before it is killed between the writes of a page: take the
    lease, write the running record, store ``pages_written`` whole pages, then write the
    next page's alerts and history but not its tickets. Returns the dead job's id."""
    job_id = uuid.uuid4().hex
    runtime.ingestion.leases.acquire(lock_resource(TENANT), job_id, clock.now())
    now = clock.now()
    database.ingestion_logs.insert_one({
        "job_id": job_id, "tenant_id": TENANT, "trigger": "api", "status": JobStatus.RUNNING.value, "cancel_requested": False,
        "started_at": now, "heartbeat_at": now, "ended_at": None, "duration_s": None, "total_pages": None,
        "processed_pages": pages_written, "counts": SyncCounts().as_dict(), "http": CallStats().as_dict(), "error": None,
        "worker": "dead-host:1",
    })
    sync = TicketSync(database, TENANT, runtime.classifier, runtime.outbox, clock.now)
    counts = SyncCounts()
    for page in range(1, pages_written + 1):
        sync.apply_page(mock.upstream.list_tickets(page, PAGE, TENANT, False)["tickets"], job_id, counts)

    def killed(_ops):
        raise WorkerKilled()

    sync.repo.write_tickets = killed  # this one object only: the kill lands after outbox and history
    with pytest.raises(WorkerKilled):
        sync.apply_page(mock.upstream.list_tickets(pages_written + 1, PAGE, TENANT, False)["tickets"], job_id, counts)
    return job_id


def test_a_worker_killed_between_a_pages_writes_is_reaped_and_the_next_run_converges_without_duplicates(
        make_app, mock_upstream, database, fake_clock):
    dead = get_runtime(make_app(clock=fake_clock, external_page_size=PAGE))
    dead_job = _leave_a_dead_workers_run(dead, database, mock_upstream, fake_clock, pages_written=2)
    half_written = database.ticket_history.count_documents({"tenant_id": TENANT, "job_id": dead_job})
    assert database.tickets.count_documents({"tenant_id": TENANT}) == 2 * PAGE
    assert half_written == 3 * PAGE  # the third page's history is in, its tickets are not

    survivor_app = make_app(clock=fake_clock, external_page_size=PAGE)
    survivor = get_runtime(survivor_app)
    client = survivor_app.test_client()
    assert client.post(f"/ingest/run?tenant_id={TENANT}").get_json()["job_id"] == dead_job  # 409: still leased
    assert survivor.ingestion.reap() == 0
    fake_clock.advance(survivor.settings.lock_ttl_s + 1)
    assert survivor.ingestion.reap() == 1
    reaped = client.get(f"/ingest/progress/{dead_job}").get_json()
    assert_final_audit_record(reaped, "abandoned")
    assert reaped["processed_pages"] == 2 and "heartbeat" in reaped["error"]
    assert_lock_free(database, TENANT)

    started = client.post(f"/ingest/run?tenant_id={TENANT}")
    assert started.status_code == 202
    record = wait_for_job(survivor, started.get_json()["job_id"])
    assert_final_audit_record(record, "completed")
    assert record["counts"]["new"] == upstream_count(mock_upstream, TENANT) - 2 * PAGE
    assert record["counts"]["unchanged"] == 2 * PAGE
    assert_converged(database, mock_upstream, TENANT)
    assert_history_and_alerts_consistent(database, TENANT)
    # The third page's history and alerts, written by the dead worker, were not written again.
    assert database.ticket_history.count_documents({"tenant_id": TENANT, "job_id": dead_job}) == half_written


def test_a_stalled_worker_is_reaped_and_when_it_wakes_it_writes_nothing(make_app, mock_upstream, database, fake_clock):
    stalled = get_runtime(make_app(clock=fake_clock, external_page_size=10, http_read_timeout_s=30))
    mock_upstream.admin("POST", "/admin/faults", json={"latency_s": 0.03})  # pages slow enough to stop between
    stalled_job = stalled.ingestion.start(TENANT)["job_id"]
    poll(lambda: stalled.ingestion.get(stalled_job)["processed_pages"] >= 2, 20, 0.005, "two pages")
    # The other worker is up before the stall: building an app takes a second or more on a
    # busy machine, which must not eat into the hang (the stalled job would wake first).
    survivor = get_runtime(make_app(clock=fake_clock, external_page_size=10))
    # Its next upstream call hangs (a GC pause, SIGSTOP, a frozen VM) for longer than it
    # takes the lease to lapse on the clock and another worker to take over.
    mock_upstream.admin("POST", "/admin/faults", json={"latency_s": 2.0, "latency_next": 1})
    poll(lambda: mock_upstream.admin("GET", "/admin/faults")["latency_next"] == 0, 10, 0.005, "the call to hang")
    fake_clock.advance(stalled.settings.lock_ttl_s + 1)

    assert survivor.ingestion.reap() == 1
    assert survivor.ingestion.get(stalled_job)["status"] == "abandoned"
    record = wait_for_job(survivor, survivor.ingestion.start(TENANT)["job_id"])
    assert_final_audit_record(record, "completed")

    poll(lambda: not stalled.ingestion.active_jobs(), 20, 0.05, "the stalled job to wake and stop")
    zombie = survivor.ingestion.get(stalled_job)
    assert zombie["status"] == "abandoned"  # its own end did not overwrite the reaper's verdict
    assert database.locks.find_one({"_id": lock_resource(TENANT)}) is None
    # Every live ticket was last written by the survivor's run, none by the woken job.
    assert database.tickets.count_documents({"tenant_id": TENANT, "last_seen_job": {"$ne": record["job_id"]}}) == 0
    stalled_writes = database.ticket_history.count_documents({"tenant_id": TENANT, "job_id": stalled_job})
    assert stalled_writes == zombie["counts"]["new"] == record["counts"]["unchanged"]
    assert_converged(database, mock_upstream, TENANT)
    assert_history_and_alerts_consistent(database, TENANT)


@pytest.mark.e2e
@pytest.mark.slow
@real_mongo_required()
def test_sigkilled_workers_run_is_reaped_by_another_service_and_the_next_run_completes_without_duplicates(
        gunicorn_service, mock_upstream):
    from ticketsvc.storage import Database

    db_name = "ticketsvc_crash_" + uuid.uuid4().hex[:12]
    env = dict(MONGO_URL=TEST_MONGO_URL, MONGO_DB=db_name, GUNICORN_WORKERS=2, EXTERNAL_PAGE_SIZE=10,
               LOCK_TTL_S=3, LOCK_HEARTBEAT_S=1, HTTP_TOTAL_TIMEOUT_S=2, REAPER_INTERVAL_S=0.5)
    victim = gunicorn_service(**env)
    survivor = gunicorn_service(**env)
    database = Database(base_settings(mongo_url=TEST_MONGO_URL, mongo_db=db_name))
    try:
        mock_upstream.admin("POST", "/admin/faults", json={"latency_s": 0.1})
        job_id = requests.post(f"{victim.url}/ingest/run?tenant_id={TENANT}", timeout=10).json()["job_id"]
        poll(lambda: requests.get(f"{victim.url}/ingest/progress/{job_id}", timeout=10).json()["processed_pages"] >= 3,
             30, 0.05, "three pages")
        running_pid = int(database.ingestion_logs.find_one({"job_id": job_id})["worker"].rsplit(":", 1)[1])
        workers = child_pids(victim.process.pid)
        assert running_pid in workers
        for pid in workers:  # workers first: a worker orphaned by its master would exit cleanly
            os.kill(pid, signal.SIGKILL)
        victim.process.kill()
        victim.process.wait(10)
        mock_upstream.admin("DELETE", "/admin/faults")

        reaped = poll(lambda: (lambda b: b if b["status"] != "running" else None)(
            requests.get(f"{survivor.url}/ingest/progress/{job_id}", timeout=10).json()), 30, 0.2, "the reaper")
        assert_final_audit_record(reaped, "abandoned")
        assert reaped["processed_pages"] >= 3
        assert_lock_free(database, TENANT)

        started = requests.post(f"{survivor.url}/ingest/run?tenant_id={TENANT}", timeout=10)
        assert started.status_code == 202, started.text
        record = wait_for_http_job(survivor.url, started.json()["job_id"])
        assert_final_audit_record(record, "completed")
        listing = requests.get(f"{survivor.url}/tickets", params={"tenant_id": TENANT, "page_size": 1}, timeout=10)
        assert listing.json()["total"] == upstream_count(mock_upstream, TENANT)
        assert_converged(database, mock_upstream, TENANT)
        assert_history_and_alerts_consistent(database, TENANT)
        print(f"\nkilled worker pid={running_pid} at page {reaped['processed_pages']}; reaped "
              f"{isoformat_z(database.ingestion_logs.find_one({'job_id': job_id})['ended_at'])}; "
              f"next run new={record['counts']['new']} unchanged={record['counts']['unchanged']}")
    finally:
        database._client.drop_database(db_name)
        database.close()
