"""Fault injection through the mock's admin endpoints: every run ends with correct data, a
truthful audit record and a free lock, and nothing is lost or duplicated.

Already proven elsewhere and not repeated here (tests/ingestion/test_ingestion_runs.py):
a single 429 storm, two 5xx or two malformed pages retried, a run failing on persistent
HTTP 500, foreign and invalid tickets counted, cancel, lease loss. tests/notifications
proves delivery under an outage with alerts put straight into the outbox. What this file
adds: timeouts, persistent faults of every kind followed by a clean re-run, a run failing
half-way and a re-run converging on a changed upstream, all faults in one run, a storm
under concurrent runs, and a /notify outage during a real ingestion.
"""
from __future__ import annotations

import time

import pytest

from proof.proof_support import (assert_converged, assert_final_audit_record, assert_history_and_alerts_consistent,
                           assert_lock_free, poll, upstream_count, upstream_live)
from support import ingest, outbox_by_status, wait_for_job
from ticketsvc.api.context import get_runtime

TENANT = "tenant_d"  # 80 tickets in the 800-ticket mock: fast, still several pages at size 20


def _faults(mock, **faults) -> None:
    mock.admin("POST", "/admin/faults", json=faults)


def _calls(mock) -> int:
    return mock.report()["calls"]


def test_pages_slower_than_the_read_timeout_are_retried_and_the_run_completes_exactly(make_app, mock_upstream, database):
    runtime = get_runtime(make_app(http_read_timeout_s=0.2, external_page_size=20))
    _faults(mock_upstream, latency_s=0.6, latency_next=2)  # the first two calls outlast the timeout
    record = ingest(runtime, TENANT)
    assert_final_audit_record(record, "completed")
    assert record["http"]["retries"] == 2 and record["http"]["rate_limited"] == 0
    assert record["http"]["calls"] == _calls(mock_upstream)  # every call counted, the timed-out ones too
    assert record["counts"]["new"] == upstream_count(mock_upstream, TENANT)
    assert_converged(database, mock_upstream, TENANT)
    assert_lock_free(database, TENANT)


@pytest.mark.parametrize("fault", ["timeout", "malformed", "unreachable"])
def test_a_persistent_fault_fails_the_run_truthfully_and_a_clean_rerun_converges(
        make_app, mock_upstream, database, fault):
    overrides = {"http_max_attempts": 3, "http_read_timeout_s": 0.15, "external_page_size": 20}
    if fault == "unreachable":
        from conftest import free_port
        overrides["external_api_url"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    elif fault == "timeout":
        _faults(mock_upstream, latency_s=0.4)
    else:
        _faults(mock_upstream, malformed_next=1000)
    broken = get_runtime(make_app(**overrides))
    record = ingest(broken, TENANT)

    assert_final_audit_record(record, "failed")
    expected_error = {"timeout": "ReadTimeout", "malformed": "malformed JSON body",
                      "unreachable": "ConnectionError"}[fault]
    assert expected_error in record["error"] and "after 3 attempts" in record["error"], record["error"]
    assert record["http"]["calls"] == 3 and record["http"]["retries"] == 2
    assert record["processed_pages"] == 0 and record["counts"]["fetched"] == 0
    assert _calls(mock_upstream) == (0 if fault == "unreachable" else 3)
    assert_lock_free(database, TENANT)
    assert database.tickets.count_documents({"tenant_id": TENANT}) == 0

    mock_upstream.admin("DELETE", "/admin/faults")
    healthy = get_runtime(make_app(external_page_size=20))  # another worker, same store
    rerun = ingest(healthy, TENANT)
    assert_final_audit_record(rerun, "completed")
    assert_converged(database, mock_upstream, TENANT)
    assert_history_and_alerts_consistent(database, TENANT)


def test_a_run_failing_half_way_then_a_clean_rerun_converges_on_a_changed_upstream_without_duplicates(
        make_app, mock_upstream, database):
    tenant = "tenant_a"  # 320 tickets: 32 pages of 10
    runtime = get_runtime(make_app(external_page_size=10, http_max_attempts=3))
    _faults(mock_upstream, latency_s=0.03)  # slow enough to break in after a few pages
    job_id = runtime.ingestion.start(tenant)["job_id"]
    poll(lambda: runtime.ingestion.get(job_id)["processed_pages"] >= 5, 20, 0.01, "five pages")
    _faults(mock_upstream, fail_next=1000, fail_status=503)
    failed = wait_for_job(runtime, job_id)
    assert_final_audit_record(failed, "failed")
    assert "HTTP 503 after 3 attempts" in failed["error"]
    stored_first = {d["external_id"] for d in database.tickets.find({"tenant_id": tenant}, {"external_id": 1})}
    assert 0 < len(stored_first) == failed["counts"]["new"] < upstream_count(mock_upstream, tenant)
    assert failed["counts"]["deleted"] == 0  # an incomplete run never deletes
    assert_lock_free(database, tenant)

    mock_upstream.admin("DELETE", "/admin/faults")
    changed = mock_upstream.admin("POST", "/admin/mutate", json={"tenant_id": tenant, "update": 12, "delete": 6,
                                                                   "create": 5})
    live_upstream = set(upstream_live(mock_upstream, tenant))
    deleted_upstream = set(changed["deleted"])
    rerun = ingest(runtime, tenant)

    assert_final_audit_record(rerun, "completed")
    updated_seen = stored_first & (set(changed["updated"]) - deleted_upstream)
    counts = rerun["counts"]
    assert counts["new"] == len(live_upstream - stored_first)
    assert counts["deleted"] == len(stored_first & deleted_upstream)
    assert counts["updated"] == len(updated_seen)
    assert counts["unchanged"] == len(stored_first & live_upstream) - len(updated_seen)
    assert_converged(database, mock_upstream, tenant)
    figures = assert_history_and_alerts_consistent(database, tenant)
    assert database.ticket_history.count_documents({"tenant_id": tenant, "action": "deleted"}) == counts["deleted"]

    # Every alert reaches /notify exactly once.
    runtime.delivery.drain()
    successes = mock_upstream.report()["notify"]["successes"]
    alerts = {f"{tenant}:{n['ticket_id']}" for n in database.notifications.find({"tenant_id": tenant})}
    assert figures["alerts"] == len(alerts) > 0
    assert successes == {key: 1 for key in alerts}


def test_every_fault_in_one_run_ends_with_exact_data_and_truthful_figures(make_app, mock_upstream, database):
    runtime = get_runtime(make_app(http_read_timeout_s=0.3, external_page_size=20))
    broken = {  # tickets the upstream serves broken: missing or wrongly typed fields
        "tkt-000003": {"customer_id": None},
        "tkt-000011": {"created_at": 1767225600},
        "tkt-000024": {"status": ["open"]},
        "tkt-000037": {"subject": {"text": "nested"}},
        "tkt-000042": {"updated_at": "not a date"},
        "tkt-000055": {"tenant_id": 7},
    }
    served = upstream_live(mock_upstream, TENANT)
    originals = [{"id": i, "fields": {name: served[i][name] for name in fields}} for i, fields in broken.items()]
    mock_upstream.admin("POST", "/admin/mutate", json={
        "tenant_id": TENANT, "corrupt": [{"id": i, "fields": f} for i, f in broken.items()]})
    # In arrival order: two 429s, then a 502 held past the read timeout, a 502, a body that
    # is not JSON; other tenants' tickets slipped into every page throughout.
    _faults(mock_upstream, rate_limit_storm={"count": 2, "retry_after": 0.2}, latency_s=0.6, latency_next=1,
            fail_next=2, fail_status=502, malformed_next=1, foreign_tickets=True)
    record = ingest(runtime, TENANT)

    report = mock_upstream.report()
    assert_final_audit_record(record, "completed")
    assert record["http"]["rate_limited"] == report["rate_limited"] == 2
    assert record["http"]["retries"] == 2 + 3  # two 429s, then timeout, 502, malformed
    assert record["http"]["calls"] == report["calls"]
    assert record["http"]["waited_s"] >= 0.4
    counts = record["counts"]
    # Each page carries one intruder, appended: a full page is then one past the page size, and
    # the ticket past it is not taken (invalid); the shorter last page's intruder is foreign.
    assert counts["invalid"] + counts["foreign_tenant"] == len(broken) + record["processed_pages"]
    assert counts["foreign_tenant"] >= 1
    assert counts["new"] == upstream_count(mock_upstream, TENANT) - len(broken)
    assert counts["fetched"] == counts["new"] + counts["invalid"] + counts["foreign_tenant"]
    assert database.tickets.count_documents({"tenant_id": {"$ne": TENANT}}) == 0
    assert_converged(database, mock_upstream, TENANT, invalid_ids=frozenset(broken))
    assert_history_and_alerts_consistent(database, TENANT)
    assert_lock_free(database, TENANT)

    # The upstream mends the tickets: the next clean run takes them in, and nothing twice.
    mock_upstream.admin("DELETE", "/admin/faults")
    mock_upstream.admin("POST", "/admin/mutate", json={"tenant_id": TENANT, "corrupt": originals})
    mended = ingest(runtime, TENANT)
    assert_final_audit_record(mended, "completed")
    assert mended["counts"]["new"] == len(broken) and mended["counts"]["invalid"] == 0
    assert_converged(database, mock_upstream, TENANT)
    assert_history_and_alerts_consistent(database, TENANT)


def test_a_429_storm_during_concurrent_runs_is_waited_out_within_the_limit(make_app, mock_upstream, database):
    limit, window = 10, 1.0
    mock_upstream.admin("POST", "/admin/config", json={"rate_limit_calls": limit, "rate_limit_window_s": window})
    workers = [get_runtime(make_app(rate_limit_calls=limit, rate_limit_window_s=window, external_page_size=20))
               for _ in range(2)]
    _faults(mock_upstream, rate_limit_storm={"count": 4, "retry_after": 0.3})
    tenants = ("tenant_b", "tenant_c")
    jobs = [(rt, rt.ingestion.start(t)["job_id"]) for rt, t in zip(workers, tenants)]
    records = [wait_for_job(rt, job_id, timeout=60) for rt, job_id in jobs]

    report = mock_upstream.report()
    for record in records:
        assert_final_audit_record(record, "completed")
    assert sum(r["http"]["rate_limited"] for r in records) == report["rate_limited"] == 4
    assert report["max_calls_in_window"] <= limit
    assert report["calls"] == sum(r["http"]["calls"] for r in records)
    for tenant in tenants:
        assert_converged(database, mock_upstream, tenant)
        assert_lock_free(database, tenant)


def test_a_notify_outage_never_blocks_ingestion_and_every_alert_arrives_once_after_it(make_app, mock_upstream, database):
    outage_s = 2.0  # the run (tenant_d's 80 tickets, a few alerts) ends well inside it, also on a busy machine
    app = make_app(notify_poll_s=0.05, cb_open_s=0.3, notify_backoff_base_s=0.05, notify_backoff_max_s=0.2)
    runtime = get_runtime(app)
    runtime.start_background()  # the scheduler's drain job, as under gunicorn
    _faults(mock_upstream, notify_outage_s=outage_s)
    started = time.monotonic()
    record = ingest(runtime, TENANT)
    ingestion_s = time.monotonic() - started
    assert_final_audit_record(record, "completed")
    assert ingestion_s < outage_s, "ingestion waited for /notify"
    queued = record["counts"]["notifications_queued"]
    assert queued > 0

    def all_delivered():
        counts = outbox_by_status(runtime, TENANT)
        return counts["pending"] == 0 and counts

    counts = poll(all_delivered, 30, 0.1, "every alert delivered")
    assert counts == {"pending": 0, "delivered": queued, "dead": 0, "withdrawn": 0}
    notify = mock_upstream.report()["notify"]
    assert notify["total_attempts"] > notify["total_successes"]  # the outage really refused some
    keys = {f"{TENANT}:{n['ticket_id']}" for n in database.notifications.find({"tenant_id": TENANT})}
    assert notify["successes"] == {key: 1 for key in keys}
