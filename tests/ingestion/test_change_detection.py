"""Keeping the local copy faithful: updates with field history, stale pages, deletions
only when confirmed, restores, alerts on escalation."""

from support import ingest, upstream_total, wait_for_job, wait_for_pages
from ticketsvc.api.context import get_runtime

TENANT = "tenant_d"


def _live(database, tenant=TENANT):
    return database.tickets.count_documents({"tenant_id": tenant, "deleted_at": None})


def _history(database, ticket_id, action=None):
    criteria = {"tenant_id": TENANT, "ticket_id": ticket_id}
    if action:
        criteria["action"] = action
    return list(database.ticket_history.find(criteria))


def test_upstream_updates_are_applied_with_field_level_history(runtime, mock_upstream, database):
    ingest(runtime, TENANT)
    changed = mock_upstream.admin("POST", "/admin/mutate", json={"tenant_id": TENANT, "update": [
        {"id": "tkt-000003", "fields": {"status": "closed"}},
        {"id": "tkt-000004", "fields": {"subject": "Thanks", "message": "All good now, thank you!"}},
    ]})
    assert sorted(changed["updated"]) == ["tkt-000003", "tkt-000004"]
    record = ingest(runtime, TENANT)
    assert record["counts"]["updated"] == 2 and record["counts"]["new"] == 0
    stored = database.tickets.find_one({"tenant_id": TENANT, "external_id": "tkt-000003"})
    assert stored["status"] == "closed"
    [entry] = _history(database, "tkt-000003", "updated")
    assert entry["changes"]["status"]["new"] == "closed"
    assert set(entry["changes"]) == {"status", "updated_at"}
    assert entry["job_id"] == record["job_id"]
    [entry] = _history(database, "tkt-000004", "updated")
    assert entry["changes"]["subject"] == {"old": entry["changes"]["subject"]["old"], "new": "Thanks"}
    assert "message" in entry["changes"]


def test_an_older_updated_at_is_ignored(runtime, mock_upstream, database):
    ingest(runtime, TENANT)
    before = database.tickets.find_one({"tenant_id": TENANT, "external_id": "tkt-000005"})
    mock_upstream.admin("POST", "/admin/mutate", json={"tenant_id": TENANT, "update": [
        {"id": "tkt-000005", "fields": {"status": "closed", "subject": "stale"},
         "updated_at": "2020-01-01T00:00:00Z"}]})
    record = ingest(runtime, TENANT)
    assert record["counts"]["updated"] == 0
    after = database.tickets.find_one({"tenant_id": TENANT, "external_id": "tkt-000005"})
    assert after["subject"] == before["subject"] and after["updated_at"] == before["updated_at"]
    assert _history(database, "tkt-000005", "updated") == []


def test_upstream_deletions_are_soft_deleted_after_a_complete_run(make_app, mock_upstream, database):
    runtime = get_runtime(make_app(full_sync_interval_s=0))  # the full walk's confirmation (the feed's: test_change_feed)
    ingest(runtime, TENANT)
    mock_upstream.admin("POST", "/admin/mutate", json={"tenant_id": TENANT, "delete": ["tkt-000002", "tkt-000007"]})
    record = ingest(runtime, TENANT)
    assert record["counts"]["deleted"] == 2
    gone = database.tickets.find_one({"tenant_id": TENANT, "external_id": "tkt-000007"})
    assert gone["deleted_at"] is not None
    [entry] = _history(database, "tkt-000007", "deleted")
    assert "gone upstream" in entry["reason"]
    assert _live(database) == upstream_total(mock_upstream, TENANT)
    assert ingest(runtime, TENANT)["counts"]["deleted"] == 0  # nothing deleted twice


def test_no_deletion_after_a_cancelled_run(make_app, mock_upstream, database):
    runtime = get_runtime(make_app(external_page_size=10, full_sync_interval_s=0))
    ingest(runtime, TENANT)
    live_before = _live(database)
    mock_upstream.admin("POST", "/admin/mutate", json={"tenant_id": TENANT, "delete": ["tkt-000002"]})
    mock_upstream.admin("POST", "/admin/faults", json={"latency_s": 0.05})
    job_id = runtime.ingestion.start(TENANT)["job_id"]
    wait_for_pages(runtime, job_id, 1)
    runtime.ingestion.cancel(job_id)
    record = wait_for_job(runtime, job_id)
    assert record["status"] == "cancelled" and record["counts"]["deleted"] == 0
    assert _live(database) == live_before


def test_no_deletion_after_a_failed_run(make_app, mock_upstream, database):
    runtime = get_runtime(make_app(external_page_size=10, http_max_attempts=2, full_sync_interval_s=0))
    ingest(runtime, TENANT)
    live_before = _live(database)
    mock_upstream.admin("POST", "/admin/mutate", json={"tenant_id": TENANT, "delete": ["tkt-000002"]})
    mock_upstream.admin("POST", "/admin/faults", json={"latency_s": 0.05})
    job_id = runtime.ingestion.start(TENANT)["job_id"]
    wait_for_pages(runtime, job_id, 1)
    mock_upstream.admin("POST", "/admin/faults", json={"fail_next": 1000})  # then it fails for good
    record = wait_for_job(runtime, job_id)
    assert record["status"] == "failed" and record["counts"]["deleted"] == 0
    assert _live(database) == live_before


def test_a_ticket_skipped_by_a_page_shift_mid_run_is_not_deleted(make_app, mock_upstream, database):
    runtime = get_runtime(make_app(external_page_size=10, full_sync_interval_s=0))
    ingest(runtime, TENANT)
    # After page 1 is served, tkt-000003 (on page 1) is deleted upstream: every later
    # ticket moves up one place, so the first ticket of page 2 is never listed this run.
    mock_upstream.admin("POST", "/admin/faults", json={"mutate_after_calls": {
        "calls": 1, "mutation": {"tenant_id": TENANT, "delete": ["tkt-000003"]}}})
    record = ingest(runtime, TENANT)
    assert record["status"] == "completed"
    # The shifted ticket was missing from the pages: the upstream does not list it as
    # deleted, a single fetch finds it, so it stays. tkt-000003 was seen on page 1
    # before it went, so this run has no reason to delete it either.
    assert record["counts"]["deleted"] == 0
    assert record["counts"]["fetched"] == upstream_total(mock_upstream, TENANT) + 1
    assert database.tickets.find_one({"tenant_id": TENANT, "external_id": "tkt-000011"}).get("deleted_at") is None
    # The next run does not see tkt-000003 and the upstream confirms it is gone.
    assert ingest(runtime, TENANT)["counts"]["deleted"] == 1
    assert database.tickets.find_one({"tenant_id": TENANT, "external_id": "tkt-000003"})["deleted_at"] is not None
    assert _live(database) == upstream_total(mock_upstream, TENANT)


def test_a_deleted_ticket_that_comes_back_is_restored(runtime, mock_upstream, database):
    ingest(runtime, TENANT)
    mock_upstream.admin("POST", "/admin/mutate", json={"tenant_id": TENANT, "delete": ["tkt-000006"]})
    assert ingest(runtime, TENANT)["counts"]["deleted"] == 1
    mock_upstream.admin("POST", "/admin/mutate", json={"tenant_id": TENANT, "restore": ["tkt-000006"]})
    record = ingest(runtime, TENANT)
    assert record["counts"]["restored"] == 1
    doc = database.tickets.find_one({"tenant_id": TENANT, "external_id": "tkt-000006"})
    assert "deleted_at" not in doc
    assert [e["action"] for e in _history(database, "tkt-000006")].count("restored") == 1
    assert _live(database) == upstream_total(mock_upstream, TENANT)


def test_new_upstream_tickets_are_added_on_the_next_run(runtime, mock_upstream, database):
    ingest(runtime, TENANT)
    created = mock_upstream.admin("POST", "/admin/mutate", json={"tenant_id": TENANT, "create": 3})["created"]
    record = ingest(runtime, TENANT)
    assert record["counts"]["new"] == 3
    for external_id in created:
        assert _history(database, external_id, "created")


def test_escalation_to_high_urgency_queues_exactly_one_alert(runtime, mock_upstream, database):
    ingest(runtime, TENANT)
    doc = database.tickets.find_one({"tenant_id": TENANT, "urgency": "low"})
    mock_upstream.admin("POST", "/admin/mutate", json={"tenant_id": TENANT, "update": [{
        "id": doc["external_id"],
        "fields": {"message": "You charged me twice. Refund me now or my lawyer files a lawsuit."}}]})
    before = database.notifications.count_documents({"tenant_id": TENANT})
    record = ingest(runtime, TENANT)
    assert record["counts"]["notifications_queued"] == 1
    alerts = list(database.notifications.find({"tenant_id": TENANT, "ticket_id": doc["external_id"]}))
    assert len(alerts) == 1 and alerts[0]["status"] == "pending" and alerts[0]["urgency"] == "high"
    assert database.notifications.count_documents({"tenant_id": TENANT}) == before + 1
    assert ingest(runtime, TENANT)["counts"]["notifications_queued"] == 0


def test_every_new_high_ticket_gets_one_alert(runtime, database):
    record = ingest(runtime, TENANT)
    high = database.tickets.count_documents({"tenant_id": TENANT, "urgency": "high"})
    assert high > 0
    assert record["counts"]["notifications_queued"] == high
    assert database.notifications.count_documents({"tenant_id": TENANT}) == high


def test_each_data_change_bumps_the_tenants_data_version(runtime, mock_upstream, database):
    ingest(runtime, TENANT)
    version = database.tenants.find_one({"_id": TENANT})["data_version"]
    ingest(runtime, TENANT)
    assert database.tenants.find_one({"_id": TENANT})["data_version"] == version
    mock_upstream.admin("POST", "/admin/mutate", json={"tenant_id": TENANT, "update": 1})
    ingest(runtime, TENANT)
    assert database.tenants.find_one({"_id": TENANT})["data_version"] > version
