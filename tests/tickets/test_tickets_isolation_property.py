"""Property: whatever filters and pages a caller asks for, through any endpoint, the
answer holds only the requested tenant's tickets, ``total`` is exactly the number of that
tenant's matching live tickets, and the pages concatenate to the whole ordered listing.

The data set is seeded once per test (not per example): three tenants sharing most
external ids, with different attributes, some soft-deleted tickets, ties on created_at,
and values (a status, a source) that exist in one tenant only: asked of another tenant,
such a value is a 422 (it is neither documented nor in that tenant's data).
"""
import random
import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

TENANTS = ("acme", "globex", "initech")
STATUSES = ("open", "pending", "resolved", "closed")
SOURCES = ("email", "chat", "web", "phone")
URGENCIES = ("high", "medium", "low")
SENTIMENTS = ("negative", "neutral", "positive")
CUSTOMERS = ("c-1", "c-2", "c-3", "c-4")
WORDS = ("refund", "login", "outage", "invoice", "slow", "Crash", "export")
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
# The fixtures build the app and data once per test function; examples only read, so
# sharing them across examples is exactly what we want.
PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def dataset(seed):
    """{tenant: [stored docs]} with overlapping ids; deterministic."""
    rand = random.Random(1234)
    data = {}
    for tenant in TENANTS:
        docs = [seed.doc(
            tenant, f"tkt-{n:06d}",
            # Few distinct times, so ties (broken by external id) are common.
            created_at=T0 + timedelta(hours=rand.randint(0, 6)),
            status=rand.choice(STATUSES + (("escalated",) if tenant == "globex" else ())),
            source=rand.choice(SOURCES + (("sms",) if tenant == "initech" else ())),
            urgency=rand.choice(URGENCIES),
            sentiment=rand.choice(SENTIMENTS),
            requires_action=rand.random() < 0.4,
            customer_id=rand.choice(CUSTOMERS),
            message=" ".join(rand.sample(WORDS, 3)) + "!",
            **({"deleted_at": T0 + timedelta(days=1)} if rand.random() < 0.15 else {}),
        ) for n in range(rand.randint(24, 32))]
        # Stored in no particular order, so the natural order cannot stand in for the sort.
        seed.tickets(*rand.sample(docs, len(docs)))
        for doc in docs:
            # The job id names the tenant, so an entry leaking across tenants shows.
            seed.history(tenant, doc["external_id"], "created", doc["created_at"], job_id=f"job-{tenant}")
            if "deleted_at" in doc:
                seed.history(tenant, doc["external_id"], "deleted", doc["deleted_at"], job_id=f"job-{tenant}",
                             reason="gone upstream")
        data[tenant] = docs
    return data


def _words(doc):
    return set(re.findall(r"[a-z0-9_]+", (doc["subject"] + " " + doc["message"]).lower()))


def _matches(doc, name, value):
    if name == "open":
        return (doc["status"] not in ("resolved", "closed")) == value
    if name == "created_from":
        return doc["created_at"] >= datetime.fromisoformat(value)
    if name == "created_to":
        return doc["created_at"] <= datetime.fromisoformat(value)
    if name == "q":
        return set(value.lower().split()) <= _words(doc)
    return doc[name] == value


def _expected(docs, filters):
    """The tenant's live docs matching ``filters``, in the API's order, as external ids."""
    hits = [d for d in docs if "deleted_at" not in d and all(_matches(d, k, v) for k, v in filters.items())]
    hits.sort(key=lambda d: d["external_id"])
    hits.sort(key=lambda d: d["created_at"], reverse=True)  # stable: ties stay by external id
    return [d["external_id"] for d in hits]


def _query_value(value):
    return str(value).lower() if isinstance(value, bool) else value


FILTER_VALUES = {
    "status": STATUSES + ("escalated",),
    "source": SOURCES + ("sms",),
    "urgency": URGENCIES,
    "sentiment": SENTIMENTS,
    "requires_action": (True, False),
    "customer_id": CUSTOMERS + ("c-none",),
    "open": (True, False),
    "created_from": tuple((T0 + timedelta(hours=h)).isoformat() for h in (0, 2, 5)),
    "created_to": tuple((T0 + timedelta(hours=h)).isoformat() for h in (1, 4, 6)),
    "q": ("refund", "crash LOGIN", "outage slow invoice", "nothing", "acme", "tkt 000003"),
}
# At most three filters at once: more would match nothing in a data set this small, and
# most examples should still span several pages.
filter_sets = st.sets(st.sampled_from(sorted(FILTER_VALUES)), max_size=3).flatmap(
    lambda names: st.fixed_dictionaries({name: st.sampled_from(FILTER_VALUES[name]) for name in names}))


@PROPERTY
@given(tenant=st.sampled_from(TENANTS + ("nobody",)), filters=filter_sets,
       page_size=st.one_of(st.integers(1, 6), st.sampled_from([10, 100])), urgent=st.booleans())
def test_every_filter_and_page_stays_inside_the_tenant(client, dataset, tenant, filters, page_size, urgent):
    if urgent:
        path, filters = "/tickets/urgent", {"urgency": "high"}
        params = {}
    else:
        path, params = "/tickets", {k: _query_value(v) for k, v in filters.items()}
    live = [d for d in dataset.get(tenant, []) if "deleted_at" not in d]
    undocumented = [k for k in ("status", "source") if k in filters and filters[k] not in FILTER_VALUES[k][:4]]
    if filters.get("created_from", "") > filters.get("created_to", "9"):
        response = client.get(path, query_string={"tenant_id": tenant, **params})
        assert response.status_code == 422 and "created_from" in str(response.get_json()["errors"])
        return
    if any(all(d[k] != filters[k] for d in live) for k in undocumented):
        response = client.get(path, query_string={"tenant_id": tenant, **params})
        assert response.status_code == 422 and undocumented[0] in str(response.get_json()["errors"])
        return
    expected = _expected(dataset.get(tenant, []), filters)
    by_id = {d["external_id"]: d for d in dataset.get(tenant, [])}

    seen = []
    last_page = max(1, -(-len(expected) // page_size))
    for page in range(1, last_page + 2):  # one page past the end: empty, same total
        response = client.get(path, query_string={"tenant_id": tenant, **params, "page": page,
                                                   "page_size": page_size})
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["total"] == len(expected)
        assert (body["page"], body["page_size"]) == (page, page_size)
        for ticket in body["tickets"]:
            assert ticket["tenant_id"] == tenant
            assert ticket["subject"] == by_id[ticket["id"]]["subject"]  # this tenant's copy
        assert len(body["tickets"]) <= page_size
        if not urgent:
            assert (body["next"] is None) == (page >= last_page)
            if body["next"] is not None:
                assert f"page={page + 1}" in body["next"] and f"tenant_id={tenant}" in body["next"]
        seen.extend(t["id"] for t in body["tickets"])
    assert seen == expected  # in order, nothing missing, nothing twice


all_ids = st.sampled_from([f"tkt-{n:06d}" for n in range(36)])


@PROPERTY
@given(tenant=st.sampled_from(TENANTS), ticket_id=all_ids)
def test_single_ticket_and_history_answer_only_for_the_tenants_own_ticket(client, dataset, tenant, ticket_id):
    own = {d["external_id"]: d for d in dataset[tenant]}.get(ticket_id)
    ticket = client.get(f"/tickets/{ticket_id}", query_string={"tenant_id": tenant})
    if own is None or "deleted_at" in own:
        assert ticket.status_code == 404
    else:
        assert ticket.status_code == 200
        assert (ticket.get_json()["tenant_id"], ticket.get_json()["subject"]) == (tenant, own["subject"])

    history = client.get(f"/tickets/{ticket_id}/history", query_string={"tenant_id": tenant})
    if own is None:  # whoever else holds the id
        assert history.status_code == 404
        return
    body = history.get_json()
    expected_actions = ["deleted", "created"] if "deleted_at" in own else ["created"]
    assert [e["action"] for e in body["history"]] == expected_actions and body["total"] == len(expected_actions)
    assert {e["job_id"] for e in body["history"]} == {f"job-{tenant}"}
