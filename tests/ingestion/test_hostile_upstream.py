"""The upstream cannot hurt us: one test per way a real server on a free port misbehaved
at the HTTP level (issue 14). Each asserts how the run ended, that it ended in bounded
time (generous bounds: a busy 2-core machine), that the tenant's lease is free, and that
nothing was stored that should not be. The memory rows run the worker in a subprocess and
bound its peak RSS, so the test runner's own memory (and the server's) is not counted.
"""
from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest

from hostile_upstream import HostileUpstream, page_body, ticket
from support import ingest, wait_for_job
from ticketsvc.api.context import get_runtime
from ticketsvc.ingestion.runner import lock_resource

TENANT = "acme"
RSS_WORKER = Path(__file__).with_name("rss_worker.py")
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture
def make_app(make_app):
    """These upstreams have no change feed, and the figures below count page calls: every
    run is a full walk that does not first ask for the feed."""
    return functools.partial(make_app, full_sync_interval_s=0)


@pytest.fixture
def hostile():
    """``hostile(listing)``: a hostile upstream serving ``listing``, stopped after the test."""
    servers = []

    def start(listing):
        servers.append(HostileUpstream(listing))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def good_page(handler, query):
    handler.send_json(page_body([ticket(TENANT, n) for n in range(3)]))


def timed_ingest(runtime) -> tuple[dict, float]:
    started = time.monotonic()
    record = ingest(runtime, TENANT)
    return record, time.monotonic() - started


def assert_lease_free(database) -> None:
    assert database.locks.find_one({"_id": lock_resource(TENANT)}) is None


def stored_ids(database) -> set[str]:
    return {d["external_id"] for d in database.tickets.find({"tenant_id": TENANT}, {"external_id": 1})}


def run_worker(url: str, **overrides) -> dict:
    """One run in a fresh worker process; its JSON report (see rss_worker.py)."""
    done = subprocess.run([sys.executable, str(RSS_WORKER), url, TENANT, json.dumps(overrides)],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print("worker report:", report)  # the figures, for whoever runs with -s
    return report


# -- a valid page trickled: the read timeout bounds only the gap between bytes -----------
def test_a_trickled_page_ends_at_the_call_deadline_and_the_run_fails(make_app, hostile, database):
    upstream = hostile(lambda h, q: h.trickle(page_body([ticket(TENANT, n) for n in range(5)]), 12, 1.0))
    runtime = get_runtime(make_app(external_api_url=upstream.url, http_total_timeout_s=2.0,
                                   http_read_timeout_s=5.0, http_max_attempts=2))
    record, took = timed_ingest(runtime)
    assert record["status"] == "failed" and "CallTimedOut" in record["error"], record
    assert record["http"]["calls"] == 2
    assert took < 10.0, took  # two calls of 2 s and a short backoff; a whole trickle is 12 s per call
    assert_lease_free(database)
    assert stored_ids(database) == set()


# -- memory: a body that never ends, a gzip bomb, a page of 50,000 ----------------------------
def test_a_body_that_never_ends_is_refused_at_the_byte_cap_and_memory_stays_flat(hostile):
    upstream = hostile(lambda h, q: h.endless(b"x" * 65536, 0.015, 600 << 20))  # ~4 MB/s, up to 600 MB
    report = run_worker(upstream.url, http_total_timeout_s=20.0, upstream_max_response_bytes=4 << 20)
    assert report["status"] == "failed" and "larger than" in report["error"], report
    assert report["http"]["calls"] == 1  # a refusal is not asked again
    assert report["duration_s"] < 10.0, report
    assert report["rss_peak_mb"] - report["rss_before_mb"] < 40, report
    assert not report["lease"] and report["stored"] == 0


def test_a_gzip_bomb_is_refused_past_the_cap_after_decoding_and_memory_stays_flat(hostile):
    upstream = hostile(lambda h, q: h.gzip_bomb(300 << 20))  # ~300 KB on the wire, 300 MB decoded
    report = run_worker(upstream.url, upstream_max_response_bytes=4 << 20)
    assert report["status"] == "failed" and "larger than" in report["error"], report
    assert report["http"]["calls"] == 1
    assert report["duration_s"] < 10.0, report
    assert report["rss_peak_mb"] - report["rss_before_mb"] < 40, report
    assert not report["lease"] and report["stored"] == 0


def test_a_page_of_fifty_thousand_when_a_hundred_were_asked_stores_a_hundred(hostile):
    flood = page_body([ticket(TENANT, n) for n in range(50_000)])
    upstream = hostile(lambda h, q: h.send_json(flood))
    report = run_worker(upstream.url, external_page_size=100,
                        upstream_max_response_bytes=32 << 20)  # under the cap: the page size is what holds
    assert report["status"] == "completed", report
    assert report["stored"] == 100 and report["counts"]["new"] == 100, report
    assert report["counts"]["invalid"] == 49_900 and report["counts"]["fetched"] == 50_000
    assert report["alerts"] <= 100
    assert report["duration_s"] < 20.0, report
    assert report["rss_peak_mb"] - report["rss_before_mb"] < 120, report  # parsing the body (~70 MB), no more
    assert not report["lease"]


# -- a cancel or a lost lease lands inside a read that never ends --------------------------
def slow_endless(handler, query):
    handler.endless(b"x" * 1024, 0.2, 1 << 20)  # 5 KB/s: no cap, no deadline soon


def start_and_wait_for_the_call(runtime, upstream) -> str:
    job_id = runtime.ingestion.start(TENANT)["job_id"]
    deadline = time.monotonic() + 10
    while upstream.listing_calls() == 0:
        assert time.monotonic() < deadline, "the run never called the upstream"
        time.sleep(0.01)
    time.sleep(0.3)  # well inside the body by now
    return job_id


def test_a_cancel_lands_within_a_second_inside_a_never_ending_read(make_app, hostile, database):
    upstream = hostile(slow_endless)
    app = make_app(external_api_url=upstream.url, http_total_timeout_s=30.0)
    runtime = get_runtime(app)
    job_id = start_and_wait_for_the_call(runtime, upstream)
    asked = time.monotonic()
    assert app.test_client().delete(f"/ingest/{job_id}").status_code == 202
    record = wait_for_job(runtime, job_id, timeout=20)
    took = time.monotonic() - asked
    assert record["status"] == "cancelled" and record["stop_reason"] == "user_cancel", record
    assert took < 2.5, took  # one watch slice (0.5 s) and the record's writes
    assert_lease_free(database)
    assert stored_ids(database) == set()


def test_a_lost_lease_stops_the_run_inside_a_never_ending_read(make_app, hostile, database):
    upstream = hostile(slow_endless)
    runtime = get_runtime(make_app(external_api_url=upstream.url, http_total_timeout_s=30.0,
                                   lock_heartbeat_s=0.2))
    job_id = start_and_wait_for_the_call(runtime, upstream)
    lost = time.monotonic()
    database.locks.update_one({"_id": lock_resource(TENANT)}, {"$set": {"owner": "another-worker"}})
    record = wait_for_job(runtime, job_id, timeout=20)
    took = time.monotonic() - lost
    assert record["status"] == "failed" and record["stop_reason"] == "lease_lost", record
    assert "lease" in record["error"]
    assert took < 2.5, took
    assert stored_ids(database) == set()
    database.locks.delete_one({"_id": lock_resource(TENANT), "owner": "another-worker"})


def test_a_cancel_during_the_last_call_ends_the_run_cancelled_not_completed(make_app, hostile, database):
    """The empty last page returned before any check: the run ended completed with its
    cancel pending."""
    def slow_empty_page(handler, query):
        time.sleep(1.5)
        handler.send_json(page_body([]))

    upstream = hostile(slow_empty_page)
    app = make_app(external_api_url=upstream.url)
    runtime = get_runtime(app)
    job_id = start_and_wait_for_the_call(runtime, upstream)
    assert app.test_client().delete(f"/ingest/{job_id}").status_code == 202
    record = wait_for_job(runtime, job_id, timeout=20)
    assert record["status"] == "cancelled" and record["cancel_requested"] is True, record
    assert_lease_free(database)


# -- poison tickets -----------------------------------------------------------------------------
POISON = {
    "t0": {"created_at": "0001-01-01T00:00:00+01:00"},  # valid ISO 8601, before year 1 in UTC
    "t1": {"updated_at": "9999-12-31T23:59:59-01:00"},  # after year 9999 in UTC
    "t2": {"created_at": "0002-06-01T00:00:00Z"},  # storable, but no ticket is that old
    "t3": {"created_at": "2026-11-01T10:00:00" + "0" * 5000 + "Z"},  # a date of the wrong size
    "t4": {"customer_id": "BIG"},  # a 5,000-digit number: longer than any id (and than int() reads)
}


def poisoned_page(handler, query):
    tickets = [ticket(TENANT, n, **POISON.get(f"t{n}", {})) for n in range(100)]
    handler.send_json(page_body(tickets).replace(b'"BIG"', b"7" * 5000))


def test_tickets_dated_outside_what_storage_holds_are_invalid_tickets_not_a_failed_run(
        make_app, hostile, database):
    upstream = hostile(poisoned_page)
    app = make_app(external_api_url=upstream.url)
    runtime = get_runtime(app)
    for _ in range(2):  # not once, and not "forever" either
        record, took = timed_ingest(runtime)
        assert record["status"] == "completed", record
        assert record["counts"]["invalid"] == len(POISON)
        assert took < 10.0
    assert stored_ids(database) == {f"t{n}" for n in range(len(POISON), 100)}
    assert_lease_free(database)
    body = app.test_client().get(f"/tickets?tenant_id={TENANT}&page_size=100").get_json()
    assert all(ISO_Z.match(t["created_at"]) and ISO_Z.match(t["updated_at"]) for t in body["tickets"])


# -- Retry-After -----------------------------------------------------------------------------
WINDOW_S = 1.0
# Half a second: five of them (the cap) still lie above the 2 s an honoured Retry-After asks
# for, and each case waits half as long.
SHORT_WINDOW_S = 0.5


def rate_limited_once(retry_after):
    """The first listing call answers 429 with ``retry_after()``; later ones a good page."""
    def listing(handler, query):
        if handler.server.owner.listing_calls() == 1:
            handler.send_json({"error": "slow down"}, status=429, headers={"Retry-After": retry_after()})
        else:
            good_page(handler, query)
    return listing


def http_date_in(seconds: float) -> str:
    return format_datetime(datetime.now(timezone.utc) + timedelta(seconds=seconds), usegmt=True)


@pytest.mark.parametrize("retry_after, expected_s", [
    (lambda: "nan", SHORT_WINDOW_S), (lambda: "inf", SHORT_WINDOW_S), (lambda: "-3", SHORT_WINDOW_S),
    (lambda: "soon", SHORT_WINDOW_S), (lambda: "1e400", SHORT_WINDOW_S),
    (lambda: http_date_in(2.0), 1.0),  # the date has whole seconds: 1-2 s from now
    (lambda: "2", 2.0),
    (lambda: "99999", 5 * SHORT_WINDOW_S),  # at most five windows
], ids=["nan", "inf", "negative", "garbage", "overflow", "http-date", "seconds", "huge"])
def test_retry_after_is_seconds_or_a_date_anything_else_one_window_at_most_five(
        make_app, hostile, database, retry_after, expected_s):
    upstream = hostile(rate_limited_once(retry_after))
    runtime = get_runtime(make_app(external_api_url=upstream.url, rate_limit_window_s=SHORT_WINDOW_S))
    record, took = timed_ingest(runtime)
    assert record["status"] == "completed" and record["http"]["rate_limited"] == 1, record
    assert expected_s - 0.1 <= record["http"]["waited_s"] <= expected_s + 1.2, record["http"]
    assert took < expected_s + 5.0, took
    assert stored_ids(database) == {"t0", "t1", "t2"}
    assert_lease_free(database)


def test_a_cancel_is_not_held_hostage_by_the_shared_pause_and_only_time_waited_counts(
        make_app, hostile, database):
    upstream = hostile(lambda h, q: h.send_json({"error": "slow down"}, status=429, headers={"Retry-After": "4"}))
    app = make_app(external_api_url=upstream.url, rate_limit_window_s=WINDOW_S)
    runtime = get_runtime(app)
    client = app.test_client()
    job_id = start_and_wait_for_the_call(runtime, upstream)
    progress = client.get(f"/ingest/progress/{job_id}").get_json()
    assert progress["waiting"]["reason"] == "rate_limit", progress  # and until when:
    until = datetime.fromisoformat(progress["waiting"]["until"].replace("Z", "+00:00"))
    assert 2.0 < (until - datetime.now(timezone.utc)).total_seconds() <= 4.5, progress["waiting"]
    asked = time.monotonic()
    assert client.delete(f"/ingest/{job_id}").status_code == 202
    record = wait_for_job(runtime, job_id, timeout=20)
    assert record["status"] == "cancelled" and time.monotonic() - asked < 1.5, record
    assert record["http"]["waited_s"] < 1.5, record["http"]  # not the 4 s it was asked to wait
    assert record["waiting"] is None
    assert_lease_free(database)
    assert stored_ids(database) == set()


# -- redirects ---------------------------------------------------------------------------------
def test_a_redirect_is_a_failed_call_and_the_other_host_is_never_asked(make_app, hostile, database):
    elsewhere = hostile(lambda h, q: h.send_json(page_body([ticket(TENANT, 99)])))
    upstream = hostile(lambda h, q: h.send_json({}, status=302, headers={
        "Location": f"{elsewhere.url}/external/support-tickets?{'&'.join(f'{k}={v}' for k, v in q.items())}"}))
    runtime = get_runtime(make_app(external_api_url=upstream.url))
    record, took = timed_ingest(runtime)
    assert record["status"] == "failed" and "302" in record["error"], record
    assert record["http"]["calls"] == 1 and upstream.listing_calls() == 1
    assert elsewhere.calls == []
    assert took < 5.0
    assert stored_ids(database) == set()
    assert_lease_free(database)


# -- ids with a slash --------------------------------------------------------------------------
def test_tickets_whose_ids_contain_a_slash_are_readable_with_their_history(make_app, hostile, database):
    ids = ["INC/2026/7", "a/b", "plain"]
    upstream = hostile(lambda h, q: h.send_json(page_body([ticket(TENANT, n, id=i) for n, i in enumerate(ids)])))
    app = make_app(external_api_url=upstream.url)
    record, _ = timed_ingest(get_runtime(app))
    assert record["status"] == "completed" and record["counts"]["new"] == 3
    client = app.test_client()
    for external_id in ids:
        for path in (external_id, external_id.replace("/", "%2F")):
            one = client.get(f"/tickets/{path}?tenant_id={TENANT}")
            assert one.status_code == 200 and one.get_json()["id"] == external_id, (path, one.get_json())
            history = client.get(f"/tickets/{path}/history?tenant_id={TENANT}")
            assert history.status_code == 200, (path, history.get_json())
            assert history.get_json()["ticket_id"] == external_id
            assert history.get_json()["history"][0]["action"] == "created"
    assert client.get(f"/tickets/a/c?tenant_id={TENANT}").status_code == 404
    assert_lease_free(database)
