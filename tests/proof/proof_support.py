"""Helpers shared by the proof tests: what the upstream holds (read in-process, so reading
it never counts as a call or spends its budget), what the service stored, and the
invariants that tie the two together after any sequence of runs, faults and crashes."""
from __future__ import annotations

import os
import time
from collections import Counter
from datetime import datetime, timezone

import requests

from ticketsvc.ingestion.runner import lock_resource

TENANTS = ("tenant_a", "tenant_b", "tenant_c", "tenant_d")
UPSTREAM_FIELDS = ("source", "customer_id", "subject", "message", "status", "created_at", "updated_at")


def upstream_live(mock, tenant_id: str) -> dict[str, dict]:
    """The upstream's live tickets of a tenant by id, read without an HTTP call (and without
    the other tenants' tickets a ``foreign_tickets`` fault slips into its pages)."""
    tickets, page = {}, 1
    while page is not None:
        body = mock.upstream.store.page(page, 100, tenant_id, include_deleted=False, foreign=False)
        tickets.update({t["id"]: t for t in body["tickets"]})
        page = body["next_page"]
    return tickets


def upstream_count(mock, tenant_id: str) -> int:
    return mock.upstream.list_tickets(1, 1, tenant_id, False)["total_count"]


def _as_utc(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def assert_converged(database, mock, tenant_id: str, *, invalid_ids: frozenset[str] = frozenset()) -> None:
    """The tenant's live stored tickets are exactly the upstream's live ones (minus those
    the upstream serves invalid), field for field; every other stored ticket is soft-deleted."""
    upstream = {i: t for i, t in upstream_live(mock, tenant_id).items() if i not in invalid_ids}
    stored = {d["external_id"]: d for d in database.tickets.find({"tenant_id": tenant_id})}
    live = {i: d for i, d in stored.items() if d.get("deleted_at") is None}
    assert set(live) == set(upstream), (sorted(set(live) ^ set(upstream))[:10], len(live), len(upstream))
    for external_id, ticket in upstream.items():
        mine = live[external_id]
        for name in UPSTREAM_FIELDS:
            theirs = ticket[name]
            ours = mine[name]
            if name in ("created_at", "updated_at"):
                theirs, ours = _as_utc(theirs), _as_utc(ours)
            assert ours == theirs, (external_id, name, ours, theirs)


def assert_history_and_alerts_consistent(database, tenant_id: str) -> dict[str, int]:
    """No duplicate history or alerts: each stored ticket was created exactly once, and the
    outbox holds exactly one alert per time a ticket *became* high (created high, or an
    update raised it), per the history. Returns the figures it checked."""
    tickets = database.tickets.count_documents({"tenant_id": tenant_id})
    history = list(database.ticket_history.find({"tenant_id": tenant_id}))
    created = Counter(h["ticket_id"] for h in history if h["action"] == "created")
    assert set(created.values()) <= {1}, [t for t, n in created.items() if n > 1][:10]
    assert len(created) == tickets, (len(created), tickets)
    became_high = Counter()
    for h in history:
        urgency = (h.get("changes") or {}).get("urgency")
        if urgency and urgency.get("new") == "high" and urgency.get("old") != "high":
            became_high[h["ticket_id"]] += 1
    alerts = Counter(n["ticket_id"] for n in database.notifications.find({"tenant_id": tenant_id}))
    assert alerts == became_high, (sorted((alerts - became_high).items())[:5], sorted((became_high - alerts).items())[:5])
    return {"tickets": tickets, "history": len(history), "alerts": sum(alerts.values())}


def assert_lock_free(database, tenant_id: str) -> None:
    assert database.locks.find_one({"_id": lock_resource(tenant_id)}) is None


def assert_final_audit_record(record: dict, status: str) -> None:
    """A finished run's record says how it ended, when, and with which figures."""
    assert record["status"] == status, record
    assert record["ended_at"] is not None and record["duration_s"] is not None and record["duration_s"] >= 0
    assert set(record["counts"]) >= {"fetched", "new", "updated", "unchanged", "deleted", "restored",
                                     "foreign_tenant", "invalid", "notifications_queued"}
    assert set(record["http"]) == {"calls", "retries", "rate_limited", "waited_s"}
    if status == "completed":
        assert record["error"] is None
    else:
        assert record["error"]


# -- a service over HTTP (gunicorn) ---------------------------------------------------------
def poll(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Call ``predicate`` until it returns something truthy; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(interval)


def wait_for_http_job(url: str, job_id: str, timeout: float = 120.0) -> dict:
    def finished():
        body = requests.get(f"{url}/ingest/progress/{job_id}", timeout=10).json()
        return body if body["status"] != "running" else None

    # A run of a small tenant ends within a few tens of ms: a coarser poll would be most
    # of the time a test of dozens of runs takes.
    return poll(finished, timeout, 0.02, f"end of job {job_id}")


def collect_pages(url: str, path: str, key: str, params: dict, headers: dict | None = None) -> list[dict]:
    """Every record of a paginated listing."""
    rows, page = [], 1
    while True:
        body = requests.get(url + path, params={**params, "page": page, "page_size": 100},
                            headers=headers, timeout=10).json()
        rows.extend(body[key])
        if page * 100 >= body["total"]:
            return rows
        page += 1


# -- a worker process, seen from /proc ----------------------------------------------------------
def child_pids(pid: int) -> list[int]:
    """The direct children of ``pid`` (gunicorn's workers of a master)."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(entry))
    return sorted(children)


def process_figures(pid: int) -> dict[str, int]:
    """Open file descriptors, threads and resident memory (KiB) of a process."""
    rss = 0
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return {"fds": len(os.listdir(f"/proc/{pid}/fd")), "threads": len(os.listdir(f"/proc/{pid}/task")), "rss_kib": rss}
