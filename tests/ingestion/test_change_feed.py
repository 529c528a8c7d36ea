"""Re-syncs that cost what changed: incremental runs over the upstream's change feed,
against the mock over HTTP. The upstream runs on its own fake clock (its data generated
an hour before it), so each test decides exactly which changes fall in which window."""
import math
import time
from datetime import timedelta

import pytest

from conftest import mock_config
from ingestion.executors import DeadWorker
from mock_api.testing import FakeClock as UpstreamClock
from mock_api.testing import MockUpstreamServer
from support import ingest, upstream_total, wait_for_job, wait_for_pages
from ticketsvc.api.context import get_runtime
from ticketsvc.clock import FakeClock, isoformat_z, utc
from ticketsvc.errors import Conflict, Unavailable
from ticketsvc.ingestion.job import progress
from ticketsvc.ingestion.runner import lock_resource

TENANT = "tenant_a"
PAGE = 10
T0 = 1_800_000_000.0  # the upstream's clock at the start of each test
HIGH_SUBJECT = "Chargeback filed"
HIGH_MESSAGE = "I have asked my bank to reverse this fraudulent charge."


@pytest.fixture
def upstream_clock():
    return UpstreamClock(T0)


@pytest.fixture
def feed_mock(upstream_clock):
    server = MockUpstreamServer(mock_config(now=T0 - 3600), clock=upstream_clock)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def service(make_app, feed_mock):
    """``service(**settings)``: a runtime ingesting from the feed mock, pages of 10."""

    def build(**overrides):
        return get_runtime(make_app(external_api_url=feed_mock.url, external_page_size=PAGE, **overrides))

    return build


def mutate(mock, **body) -> dict:
    return mock.admin("POST", "/admin/mutate", json={"tenant_id": TENANT, **body})


def calls(mock) -> int:
    return mock.report()["calls"]


def tenant_state(database) -> dict:
    return database.tenants.find_one({"_id": TENANT})


def history(database, job_id, action) -> list[dict]:
    return list(database.ticket_history.find({"tenant_id": TENANT, "job_id": job_id, "action": action}))


def stored(database, ticket_id) -> dict:
    return database.tickets.find_one({"tenant_id": TENANT, "external_id": ticket_id})


def later(clock, seconds=120):
    """Move the upstream past the previous run's overlap window."""
    clock.advance(seconds)


def test_first_run_is_a_full_walk_that_takes_the_feeds_as_of(service, feed_mock, database):
    record = ingest(service(), TENANT)
    pages = math.ceil(upstream_total(feed_mock, TENANT) / PAGE)
    assert (record["status"], record["mode"]) == ("completed", "full")
    assert "first complete run" in record["mode_reason"]
    assert record["http"]["calls"] == pages + 1  # every page, and one ask of the feed for its as_of
    assert record["feed"]["available"] is True and record["feed"]["as_of"] == "2027-01-15T08:00:00Z"
    state = tenant_state(database)
    assert utc(state["feed_as_of"]).timestamp() == T0 and state["last_complete_run_mode"] == "full"


def test_an_unchanged_tenant_resyncs_in_exactly_one_call(service, feed_mock, upstream_clock, database):
    runtime = service()
    ingest(runtime, TENANT)
    later(upstream_clock)
    before = calls(feed_mock)
    record = ingest(runtime, TENANT)
    assert (record["status"], record["mode"], record["http"]["calls"]) == ("completed", "incremental", 1)
    assert calls(feed_mock) == before + 1
    assert record["total_pages"] is None and record["processed_pages"] == 0 and progress(record) == 100
    assert not any(record["counts"].values())
    assert record["feed"]["since"] == "2027-01-15T07:59:00Z"  # the last as_of minus the 60 s overlap
    assert utc(tenant_state(database)["feed_as_of"]).timestamp() == T0 + 120


def test_n_changes_cost_ceil_n_over_page_size_and_land_with_history(service, feed_mock, upstream_clock, database):
    runtime = service()
    ingest(runtime, TENANT)
    later(upstream_clock)
    mutate(feed_mock, delete=["tkt-000050"])
    assert ingest(runtime, TENANT)["counts"]["deleted"] == 1
    later(upstream_clock)
    updated = [f"tkt-{n:06d}" for n in range(10, 21)]
    deleted = [f"tkt-{n:06d}" for n in range(30, 35)]
    result = mutate(feed_mock, update=[{"id": i, "fields": {"subject": f"Follow-up on {i}"}} for i in updated],
                    delete=deleted, create=3, restore=["tkt-000050"])
    changes = len(updated) + len(deleted) + len(result["created"]) + 1
    before = calls(feed_mock)

    record = ingest(runtime, TENANT)

    assert record["mode"] == "incremental" and record["status"] == "completed"
    assert record["http"]["calls"] == calls(feed_mock) - before == math.ceil(changes / PAGE) == 2
    counts = record["counts"]
    assert (counts["fetched"], counts["updated"], counts["deleted"], counts["new"], counts["restored"]) == (
        changes, len(updated), len(deleted), 3, 1)
    assert {e["ticket_id"] for e in history(database, record["job_id"], "updated")} == set(updated)
    assert all(set(e["changes"]) >= {"subject", "updated_at"} for e in history(database, record["job_id"], "updated"))
    assert stored(database, "tkt-000010")["subject"] == "Follow-up on tkt-000010"
    gone = history(database, record["job_id"], "deleted")
    assert {e["ticket_id"] for e in gone} == set(deleted) and all("change feed" in e["reason"] for e in gone)
    assert all(stored(database, i)["deleted_at"] is not None for i in deleted)
    assert {e["ticket_id"] for e in history(database, record["job_id"], "created")} == set(result["created"])
    assert [e["ticket_id"] for e in history(database, record["job_id"], "restored")] == ["tkt-000050"]
    assert "deleted_at" not in stored(database, "tkt-000050")
    live = database.tickets.count_documents({"tenant_id": TENANT, "deleted_at": None})
    assert live == upstream_total(feed_mock, TENANT)


def test_repeats_in_the_overlap_change_nothing_and_alert_once(service, feed_mock, upstream_clock, database):
    runtime = service()
    ingest(runtime, TENANT)
    assert runtime.classifier.classify(HIGH_SUBJECT, HIGH_MESSAGE).urgency == "high"
    later(upstream_clock)
    low = next(d["external_id"] for d in database.tickets.find({"tenant_id": TENANT, "urgency": "low"}))
    mutate(feed_mock, update=[{"id": low, "fields": {"subject": HIGH_SUBJECT, "message": HIGH_MESSAGE}}])
    first = ingest(runtime, TENANT)
    assert first["counts"]["notifications_queued"] == 1 and stored(database, low)["urgency"] == "high"
    history_before = database.ticket_history.count_documents({})
    # The upstream clock stands still: the change lies in the next run's 60 s overlap.
    again = ingest(runtime, TENANT)
    assert again["mode"] == "incremental" and again["counts"]["fetched"] == 1
    assert (again["counts"]["updated"], again["counts"]["unchanged"], again["counts"]["notifications_queued"]) == (
        0, 1, 0)
    assert database.ticket_history.count_documents({}) == history_before
    assert database.notifications.count_documents({"tenant_id": TENANT, "ticket_id": low}) == 1


def test_a_change_made_during_a_feed_walk_is_not_lost(service, feed_mock, upstream_clock, database):
    runtime = service()
    ingest(runtime, TENANT)
    later(upstream_clock)
    ids = [f"tkt-{n:06d}" for n in range(1, 16)]
    mutate(feed_mock, update=[{"id": i, "fields": {"status": "pending", "subject": f"First {i}"}} for i in ids])
    # Right after the feed's first page is served, a ticket on that page changes again.
    feed_mock.admin("POST", "/admin/faults", json={"mutate_after_calls": {"calls": 1, "mutation": {
        "tenant_id": TENANT, "update": [{"id": "tkt-000001", "fields": {"subject": "Second edit"}}]}}})
    record = ingest(runtime, TENANT)
    assert record["status"] == "completed" and record["http"]["calls"] == 2
    assert stored(database, "tkt-000001")["subject"] == "Second edit"  # later in the same walk
    assert record["counts"]["updated"] == 16


def test_a_change_stamped_before_as_of_but_written_after_the_walk_is_read_next_run(
        service, feed_mock, upstream_clock, database):
    runtime = service()
    ingest(runtime, TENANT)
    later(upstream_clock, 300)
    walk = ingest(runtime, TENANT)
    as_of = utc(tenant_state(database)["feed_as_of"]).timestamp()
    assert as_of == T0 + 300
    # Another upstream node whose clock is 40 s behind commits a change after the walk:
    # its stamp lies before the as_of the tenant's cursor moved to.
    upstream_clock.set(as_of - 40)
    mutate(feed_mock, update=[{"id": "tkt-000007", "fields": {"subject": "Late write"}}])
    upstream_clock.set(as_of + 120)
    record = ingest(runtime, TENANT)
    assert walk["mode"] == record["mode"] == "incremental"
    assert record["counts"]["updated"] == 1 and stored(database, "tkt-000007")["subject"] == "Late write"


def test_an_upstream_without_the_feed_gets_full_walks_that_stay_correct(service, feed_mock, upstream_clock, database):
    feed_mock.admin("POST", "/admin/config", json={"change_feed": False})
    runtime = service()
    first = ingest(runtime, TENANT)
    pages = math.ceil(upstream_total(feed_mock, TENANT) / PAGE)
    assert first["mode"] == "full" and first["feed"]["available"] is False
    assert first["http"]["calls"] == pages + 1  # the one ask that found no feed
    later(upstream_clock)
    result = mutate(feed_mock, update=[{"id": "tkt-000004", "fields": {"subject": "Changed"}}],
                    delete=["tkt-000005"], create=1)
    second = ingest(runtime, TENANT)
    assert second["mode"] == "full" and "no usable change feed" in second["mode_reason"]
    # Every page and the deleted list; the feed is not asked again before the next reconciliation.
    assert second["http"]["calls"] == math.ceil(upstream_total(feed_mock, TENANT) / PAGE) + 1
    counts = second["counts"]
    assert (counts["updated"], counts["deleted"], counts["new"]) == (1, 1, 1)
    assert stored(database, result["created"][0]) is not None
    assert tenant_state(database)["feed_available"] is False and tenant_state(database)["feed_as_of"] is None


def test_a_feed_that_disappears_makes_the_run_fall_back_to_a_full_walk(service, feed_mock, upstream_clock, database):
    runtime = service()
    ingest(runtime, TENANT)
    later(upstream_clock)
    mutate(feed_mock, update=[{"id": "tkt-000004", "fields": {"subject": "Changed"}}], delete=["tkt-000005"])
    feed_mock.admin("POST", "/admin/config", json={"change_feed": False})
    record = ingest(runtime, TENANT)
    assert record["status"] == "completed" and record["mode"] == "full"
    assert "fell back to a full walk" in record["mode_reason"] and "404" in record["mode_reason"]
    assert (record["counts"]["updated"], record["counts"]["deleted"]) == (1, 1)
    assert stored(database, "tkt-000005")["deleted_at"] is not None
    state = tenant_state(database)
    assert (state["last_complete_run_mode"], state["feed_as_of"], state["feed_available"]) == ("full", None, False)


def test_a_400_from_the_feed_falls_back_and_takes_a_fresh_cursor(service, feed_mock, upstream_clock, database):
    runtime = service()
    ingest(runtime, TENANT)
    later(upstream_clock)
    feed_mock.admin("POST", "/admin/faults", json={"fail_next": 1, "fail_status": 400})
    record = ingest(runtime, TENANT)
    assert record["status"] == "completed" and record["mode"] == "full" and "400" in record["mode_reason"]
    assert record["feed"]["available"] is True  # asked again for its as_of: the feed exists
    assert utc(tenant_state(database)["feed_as_of"]).timestamp() == T0 + 120
    assert ingest(runtime, TENANT)["mode"] == "incremental"


def test_a_failed_incremental_run_does_not_advance_the_cursor(make_app, database):
    # The upstream on the real clock here: its latency must really keep the run going.
    with MockUpstreamServer(mock_config(now=time.time() - 3600)) as mock:
        runtime = get_runtime(make_app(external_api_url=mock.url, external_page_size=PAGE, http_max_attempts=2))
        ingest(runtime, TENANT)
        cursor = tenant_state(database)["feed_as_of"]
        ids = [f"tkt-{n:06d}" for n in range(1, 26)]
        mock.admin("POST", "/admin/mutate", json={"tenant_id": TENANT, "update": [
            {"id": i, "fields": {"subject": f"Edited {i}"}} for i in ids]})
        mock.admin("POST", "/admin/faults", json={"latency_s": 0.1})
        job_id = runtime.ingestion.start(TENANT)["job_id"]
        wait_for_pages(runtime, job_id, 1)
        mock.admin("POST", "/admin/faults", json={"fail_next": 1000})
        failed = wait_for_job(runtime, job_id)
        assert failed["status"] == "failed" and failed["mode"] == "incremental"
        assert 0 < failed["counts"]["updated"] < len(ids)
        state = tenant_state(database)
        assert state["feed_as_of"] == cursor and state["last_run_status"] == "failed"
        mock.admin("DELETE", "/admin/faults")
        retried = ingest(runtime, TENANT)
    assert retried["mode"] == "incremental" and retried["feed"]["since"] == failed["feed"]["since"]
    assert retried["counts"]["fetched"] == len(ids)
    assert retried["counts"]["updated"] + failed["counts"]["updated"] == len(ids)
    assert all(stored(database, i)["subject"] == f"Edited {i}" for i in ids)


def test_a_full_reconciliation_runs_after_full_sync_interval(service, feed_mock, upstream_clock, database):
    clock = FakeClock()
    runtime = service(clock=clock, full_sync_interval_s=3600)
    assert ingest(runtime, TENANT)["mode"] == "full"
    # A ticket the feed never reported (lost upstream without a trace): only a full walk sees it.
    ghost = dict(stored(database, "tkt-000001"), external_id="tkt-999999")
    ghost.pop("_id", None)
    database.tickets.insert_one(ghost)
    clock.advance(1800)
    later(upstream_clock)
    assert ingest(runtime, TENANT)["mode"] == "incremental"
    assert stored(database, "tkt-999999").get("deleted_at") is None
    clock.advance(1801)
    later(upstream_clock)
    record = ingest(runtime, TENANT)
    assert record["mode"] == "full" and "reconciliation" in record["mode_reason"]
    assert record["counts"]["deleted"] == 1 and stored(database, "tkt-999999")["deleted_at"] is not None
    assert utc(tenant_state(database)["last_full_sync_at"]) == utc(record["started_at"])
    assert ingest(runtime, TENANT)["mode"] == "incremental"


def test_ingest_status_shows_the_tenants_mode_and_last_complete_run(make_app, feed_mock):
    app = make_app(external_api_url=feed_mock.url, external_page_size=PAGE)
    record = ingest(get_runtime(app), TENANT)
    sync = app.test_client().get(f"/ingest/status?tenant_id={TENANT}").get_json()["sync"]
    assert sync["last_complete_run_at"] == isoformat_z(record["ended_at"])
    assert sync["last_complete_job_id"] == record["job_id"]
    assert (sync["last_complete_run_mode"], sync["next_run_mode"], sync["feed_available"]) == (
        "full", "incremental", True)
    assert sync["feed_as_of"] == "2027-01-15T08:00:00Z"
    assert sync["next_full_sync_at"] == isoformat_z(utc(record["started_at"]) + timedelta(days=1))


def test_a_feed_walk_reports_progress_between_since_and_as_of_without_a_total():
    record = {"status": "running", "total_pages": None, "processed_pages": 3,
              "feed": {"since": "2027-01-15T08:00:00Z", "as_of": "2027-01-15T09:00:00Z",
                       "position": "2027-01-15T08:45:00Z"}}
    assert progress(record) == 75
    assert progress({**record, "feed": {**record["feed"], "position": None}}) == 0
    assert progress({**record, "status": "completed"}) == 100


def test_a_running_tenant_gets_409_naming_its_job_even_when_this_worker_is_full(make_app, feed_mock, runner_over):
    runtime = get_runtime(make_app(external_api_url=feed_mock.url, ingest_workers=1))
    runner = runner_over(runtime, DeadWorker())  # its one slot stays taken
    running = runner.start(TENANT)["job_id"]
    with pytest.raises(Conflict) as conflict:
        runner.start(TENANT)
    assert conflict.value.details["job_id"] == running
    # Another tenant is free, but this worker is full: 503, and it keeps no lease.
    with pytest.raises(Unavailable):
        runner.start("tenant_b")
    assert runner.leases.holder(lock_resource("tenant_b"), runtime.clock.now()) is None


@pytest.mark.parametrize("full_sync_interval_s", [86400, 0], ids=["incremental", "full"])
def test_a_rewrite_of_updated_at_alone_is_stored_without_history_or_a_new_data_version(
        service, feed_mock, upstream_clock, database, full_sync_interval_s):
    runtime = service(full_sync_interval_s=full_sync_interval_s)
    ingest(runtime, TENANT)
    later(upstream_clock)
    version = tenant_state(database)["data_version"]
    history_before = database.ticket_history.count_documents({})
    mutate(feed_mock, update=[{"id": "tkt-000003", "fields": {}, "updated_at": "2027-01-15T08:02:00Z"}])
    record = ingest(runtime, TENANT)
    assert record["mode"] == ("incremental" if full_sync_interval_s else "full")
    assert (record["counts"]["updated"], record["counts"]["unchanged"] >= 1) == (0, True)
    assert isoformat_z(stored(database, "tkt-000003")["updated_at"]) == "2027-01-15T08:02:00Z"
    assert database.ticket_history.count_documents({}) == history_before
    assert tenant_state(database)["data_version"] == version


def test_incremental_runs_on_two_workers_keep_the_lease_and_the_global_limit(make_app):
    tenants = ["tenant_a", "tenant_b", "tenant_c", "tenant_d"]
    # A tight, fast window: 5 calls per second upstream, the same budget configured here.
    with MockUpstreamServer(mock_config(tickets=200, rate_limit_calls=5, rate_limit_window_s=1.0,
                                        now=time.time() - 3600)) as mock:
        workers = [get_runtime(make_app(external_api_url=mock.url, external_page_size=PAGE, rate_limit_calls=5,
                                        rate_limit_window_s=1.0)) for _ in range(2)]
        for tenant in tenants:
            assert ingest(workers[0], tenant)["mode"] == "full"
        for tenant in tenants:
            mock.admin("POST", "/admin/mutate", json={"tenant_id": tenant, "update": 12})
        before = mock.report()
        jobs = [(workers[i % 2], workers[i % 2].ingestion.start(t)["job_id"]) for i, t in enumerate(tenants)]
        with pytest.raises(Conflict):  # one run per tenant, whichever worker asks
            workers[1].ingestion.start("tenant_a")
        records = [wait_for_job(rt, job_id, timeout=120) for rt, job_id in jobs]
        report = mock.report()
    assert all((r["status"], r["mode"]) == ("completed", "incremental") for r in records), records
    assert [(r["http"]["calls"], r["counts"]["updated"]) for r in records] == [(2, 12)] * 4
    assert report["calls"] - before["calls"] == 8
    assert report["rate_limited"] == 0 and report["max_calls_in_window"] <= 5
