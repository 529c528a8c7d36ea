"""The job runner on its own terms: a run can be carried out synchronously, and its record
says how it ended and why it stopped early (a user's cancel, shutdown, a lost lease)."""
from ingestion.executors import BeforeRun, DeadWorker
from support import upstream_total, wait_for_pages
from ticketsvc.ingestion.job import JobStatus, StopReason, Trigger
from ticketsvc.ingestion.runner import InlineExecutor, lock_resource
from ticketsvc.api.context import get_runtime


def test_a_synchronous_run_returns_its_final_record_and_frees_everything(runtime, runner_over, mock_upstream, database):
    runner = runner_over(runtime, InlineExecutor())
    started = runner.start("tenant_d", Trigger.CLI)
    record = runner.get(started["job_id"])  # the run is over when start returns
    assert started["status"] == "running"
    assert record["status"] == JobStatus.COMPLETED and record["stop_reason"] is None
    assert record["trigger"] == "cli" and record["cancel_requested"] is False
    assert record["counts"]["new"] == upstream_total(mock_upstream, "tenant_d")
    assert database.locks.find_one({"_id": lock_resource("tenant_d")}) is None
    assert runner.active_jobs() == []


def test_run_runs_in_the_callers_thread_and_answers_the_final_record(runtime):
    record = runtime.ingestion.run("tenant_d")
    assert record["status"] == "completed" and record["ended_at"] is not None


def test_a_job_cancelled_by_a_user_ends_cancelled_with_user_cancel(runtime, runner_over, database):
    runner = runner_over(runtime, BeforeRun(lambda job: runtime.ingestion.cancel(job.job_id)))
    record = runner.get(runner.start("tenant_d")["job_id"])
    assert record["status"] == "cancelled" and record["stop_reason"] == StopReason.USER_CANCEL
    assert record["cancel_requested"] is True and record["processed_pages"] == 0
    assert database.tickets.count_documents({"tenant_id": "tenant_d"}) == 0
    assert database.locks.find_one({"_id": lock_resource("tenant_d")}) is None


def test_shutdown_stops_a_job_as_shutdown_not_as_a_users_cancel(make_app, mock_upstream, database):
    runtime = get_runtime(make_app(external_page_size=10))
    mock_upstream.admin("POST", "/admin/faults", json={"latency_s": 0.05})
    job_id = runtime.ingestion.start("tenant_a")["job_id"]
    wait_for_pages(runtime, job_id, 1)
    runtime.ingestion.shutdown(timeout=10)  # returns once the job has ended
    record = runtime.ingestion.get(job_id)
    assert record["status"] == "cancelled" and record["stop_reason"] == StopReason.SHUTDOWN
    assert record["cancel_requested"] is False  # nobody asked to cancel it
    assert database.locks.find_one({"_id": lock_resource("tenant_a")}) is None


def test_a_job_whose_worker_died_after_starting_it_is_reaped_as_abandoned(make_app, runner_over, database, fake_clock):
    dead = runner_over(get_runtime(make_app(clock=fake_clock)), DeadWorker())
    job_id = dead.start("tenant_a")["job_id"]  # lease taken, record written, then the worker died
    survivor = make_app(clock=fake_clock)
    client = survivor.test_client()
    assert client.post("/ingest/run?tenant_id=tenant_a").get_json()["job_id"] == job_id  # 409: still leased
    assert get_runtime(survivor).ingestion.reap() == 0  # lease still young
    fake_clock.advance(61)
    assert get_runtime(survivor).ingestion.reap() == 1
    record = client.get(f"/ingest/progress/{job_id}").get_json()
    assert record["status"] == "abandoned" and record["ended_at"] and "heartbeat" in record["error"]
    assert database.locks.find_one({"_id": lock_resource("tenant_a")}) is None
    assert client.post("/ingest/run?tenant_id=tenant_a").status_code == 202


def test_a_cancel_that_comes_after_the_last_check_ends_the_run_cancelled_never_completed(
        runtime, runner_over, database):
    runner = runner_over(runtime, InlineExecutor())
    release = runner.leases.release

    def cancel_then_release(resource, owner):  # the cancel lands between the last check and the final write
        assert runner.records.request_cancel(owner) is not None
        return release(resource, owner)

    runner.leases.release = cancel_then_release
    record = runner.get(runner.start("tenant_d")["job_id"])
    assert record["status"] == "cancelled" and record["stop_reason"] == StopReason.USER_CANCEL
    assert record["cancel_requested"] is True and record["counts"]["new"] > 0  # it keeps what it stored
    assert database.locks.find_one({"_id": lock_resource("tenant_d")}) is None
