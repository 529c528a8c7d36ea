"""Periodic re-sync of known tenants: once per interval, once across workers."""
from support import ingest, wait_for_job
from ticketsvc.api.context import get_runtime


def test_a_tenant_is_resynced_one_interval_after_its_last_run(make_app, fake_clock, database):
    runtime = get_runtime(make_app(clock=fake_clock, sync_interval_s=900))
    ingest(runtime, "tenant_d")
    assert runtime.ingestion.sync_due_tenants() == []  # just ran: not due
    fake_clock.advance(899)
    assert runtime.ingestion.sync_due_tenants() == []
    fake_clock.advance(2)
    [tenant] = runtime.ingestion.sync_due_tenants()
    assert tenant == "tenant_d"
    job = runtime.ingestion.status("tenant_d")["job"]
    assert job["trigger"] == "schedule"
    wait_for_job(runtime, job["job_id"])


def test_two_workers_start_one_scheduled_run_between_them(make_app, fake_clock):
    first = get_runtime(make_app(clock=fake_clock, sync_interval_s=60))
    second = get_runtime(make_app(clock=fake_clock, sync_interval_s=60))
    ingest(first, "tenant_c")
    ingest(first, "tenant_d")
    fake_clock.advance(61)
    started = first.ingestion.sync_due_tenants() + second.ingestion.sync_due_tenants()
    assert sorted(started) == ["tenant_c", "tenant_d"]
    for tenant in started:
        wait_for_job(first, first.ingestion.status(tenant)["job"]["job_id"])


def test_sync_disabled_when_the_interval_is_zero(make_app, fake_clock):
    runtime = get_runtime(make_app(clock=fake_clock, sync_interval_s=0))
    ingest(runtime, "tenant_d")
    fake_clock.advance(10_000)
    assert runtime.ingestion.sync_due_tenants() == []
    assert "tenant-sync" not in [job_id for job_id, _, _ in runtime.periodic_jobs()]
