"""Every query the outbox sends is served by an index that also yields its sort order, so a
fair claim stays a few index seeks however many alerts one tenant has queued.

The queries are recorded from the outbox itself (claims, withdrawals, retries, the
backlog), so a new query shape without an index fails here. On a real MongoDB
(TEST_MONGO_URL) the explain plans are checked too: no collection scan, no in-memory sort.
"""
from __future__ import annotations

import pytest

from support import plan_stages
from ticketsvc.domain import PageRequest
from ticketsvc.notifications.outbox import Alert, NotificationOutbox
from ticketsvc.storage import INDEXES

# Not an index key on purpose: a claim checks the lease of the few documents the index found.
FETCH_ONLY = {"lease_until"}


class _Recording:
    def __init__(self, collection, log):
        self._collection, self._log = collection, log

    def __getattr__(self, name):
        return getattr(self._collection, name)

    def _record(self, criteria, sort=None):
        self._log.append({"filter": dict(criteria), "sort": list(sort or [])})

    def find(self, criteria, *args, **kwargs):
        cursor = self._collection.find(criteria, *args, **kwargs)
        entry = {"filter": dict(criteria), "sort": []}
        self._log.append(entry)
        original_sort = cursor.sort

        def sort(spec):
            entry["sort"] = list(spec)
            return original_sort(spec)

        cursor.sort = sort
        return cursor

    def find_one(self, criteria, *args, sort=None, **kwargs):
        self._record(criteria, sort)
        return self._collection.find_one(criteria, *args, sort=sort, **kwargs)

    def find_one_and_update(self, criteria, *args, **kwargs):
        self._record(criteria)
        return self._collection.find_one_and_update(criteria, *args, **kwargs)

    def update_many(self, criteria, *args, **kwargs):
        self._record(criteria)
        return self._collection.update_many(criteria, *args, **kwargs)


@pytest.fixture
def outbox_queries(database, fake_clock):
    outbox = NotificationOutbox(database)
    now = fake_clock.now()
    outbox.enqueue([Alert(t, f"{t}-{n}", "high", "r", f"{t}:{n}") for t in ("a", "b", "c") for n in range(3)], now)
    log: list[dict] = []
    outbox.collection = _Recording(outbox.collection, log)
    outbox.claims.collection = outbox.collection
    claims = outbox.claim(now, lease_s=30, limit=4)
    outbox.claim(now, lease_s=30, limit=4)  # resumes after the last tenant served: wraps round
    outbox.bury(claims[0], "HTTP 400")
    outbox.retry_dead(claims[0].alert.tenant_id, str(claims[0].id), "test", now)
    outbox.retry_all_dead("a", "test", now)
    outbox.withdraw_for_deleted_tickets("b", ["b-1", "b-2"], now)
    outbox.backlog(now)
    outbox.list_for_tenant("a", None, PageRequest(page=1, page_size=20), ticket_id="a-1")  # a ticket's alerts
    return log


def _equality_fields(criteria):
    return {k for k, v in criteria.items() if not isinstance(v, dict)}


def _serving_index(query):
    """An index whose keys cover the query's indexable fields and which yields its sort: the
    index keys, less those the filter pins to one value, begin with the sort keys. None if
    no index does."""
    fields = set(query["filter"]) - FETCH_ONLY
    equal = _equality_fields(query["filter"])
    sort = [tuple(s) for s in query["sort"]]
    for model in INDEXES["notifications"]:
        keys = list(model.document["key"].items())
        if not fields <= {k for k, _ in keys}:
            continue
        if [key for key in keys if key[0] not in equal][:len(sort)] != sort:
            continue
        return model.document["name"]
    return None


def test_the_outbox_queries_were_recorded(outbox_queries):
    assert len(outbox_queries) >= 10


def test_every_query_naming_a_tenant_or_walking_tenants_is_tenant_led(outbox_queries):
    tenant_queries = [q for q in outbox_queries if "tenant_id" in q["filter"] or q["sort"][:1] == [("tenant_id", 1)]]
    assert tenant_queries
    for query in tenant_queries:
        if "_id" in query["filter"]:
            continue  # one alert by id: the _id index
        name = _serving_index(query)
        assert name is not None, query
        [keys] = [list(m.document["key"]) for m in INDEXES["notifications"] if m.document["name"] == name]
        assert keys[0] == "tenant_id", (query, name)


def test_every_outbox_query_has_an_index_that_yields_its_order(outbox_queries):
    unserved = [q for q in outbox_queries if "_id" not in q["filter"] and _serving_index(q) is None]
    assert unserved == []


def test_the_fair_claim_is_served_by_tenant_status_due(outbox_queries):
    claim_queries = [q for q in outbox_queries if "next_attempt_at" in q["filter"] and "lease_until" in q["filter"]
                     and "_id" not in q["filter"]]
    assert claim_queries and {_serving_index(q) for q in claim_queries} == {"tenant_status_due"}


def test_explain_plans_use_indexes_without_in_memory_sort(outbox_queries, database, settings):
    if settings.embedded:
        pytest.skip("explain plans need a real MongoDB: set TEST_MONGO_URL=mongodb://...")
    for query in (q for q in outbox_queries if "_id" not in q["filter"]):
        cursor = database.notifications.find(query["filter"])
        if query["sort"]:
            cursor = cursor.sort(query["sort"])
        plan = cursor.limit(32).explain()["queryPlanner"]["winningPlan"]
        nodes = list(plan_stages(plan))
        assert any(n["stage"] == "IXSCAN" for n in nodes), (query, plan)
        assert not any(n["stage"] in ("SORT", "COLLSCAN") for n in nodes), (query, plan)
