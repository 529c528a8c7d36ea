"""Every query the read side sends names the tenant and is served by a tenant-led index
that also yields its sort order (no in-memory sort of a tenant's tickets).

The queries are recorded from the repository itself, so a new query shape without an
index fails here. On a real MongoDB (TEST_MONGO_URL) the explain plans are checked too.
"""
from datetime import datetime, timezone

import pytest

from support import plan_stages
from ticketsvc.storage import INDEXES
from ticketsvc.domain import PageRequest
from ticketsvc.tickets.queries import TicketFilters
from ticketsvc.tickets.repository import TicketRepository

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
FILTERS = [
    TicketFilters(),
    TicketFilters(status="open"),
    TicketFilters(urgency="high"),
    TicketFilters(sentiment="negative"),
    TicketFilters(source="chat"),
    TicketFilters(requires_action=True),
    TicketFilters(status="open", urgency="high", sentiment="negative", source="chat", requires_action=False),
    TicketFilters(customer_id="cust-1"),
    TicketFilters(open=True),
    TicketFilters(created_from=T0, created_to=T0),
    TicketFilters(q="broke"),
    TicketFilters(q="broke", customer_id="cust-1", open=True),
    TicketFilters(source="fax"),  # undocumented: one lookup in the tenant's data first
    TicketFilters(keyword="not received"),
    TicketFilters(signal="refund"),
    TicketFilters(signal="refund", keyword="not received", open=True),
]
# The list filters and the multikey index that serves each (an equality on one element).
LIST_INDEXES = {"keywords": "tenant_keywords_created", "signals": "tenant_signals_created"}


class _RecordingCursor:
    def __init__(self, cursor, query):
        self._cursor, self._query = cursor, query

    def sort(self, spec):
        self._query["sort"] = list(spec)
        self._cursor = self._cursor.sort(spec)
        return self

    def skip(self, n):
        self._cursor = self._cursor.skip(n)
        return self

    def limit(self, n):
        self._cursor = self._cursor.limit(n)
        return self

    def batch_size(self, n):
        self._cursor = self._cursor.batch_size(n)
        return self

    def __iter__(self):
        return iter(self._cursor)


class _RecordingCollection:
    def __init__(self, name, collection, log):
        self._name, self._collection, self._log = name, collection, log

    def _record(self, criteria):
        query = {"collection": self._name, "filter": dict(criteria), "sort": None}
        self._log.append(query)
        return query

    def find(self, criteria, *args, **kwargs):
        return _RecordingCursor(self._collection.find(criteria, *args, **kwargs), self._record(criteria))

    def find_one(self, criteria, *args, **kwargs):
        self._record(criteria)
        return self._collection.find_one(criteria, *args, **kwargs)

    def count_documents(self, criteria, *args, **kwargs):
        self._record(criteria)
        return self._collection.count_documents(criteria, *args, **kwargs)


class _RecordingDatabase:
    """Just the two collections the read side may touch; anything else is an AttributeError."""

    def __init__(self, database):
        self.log = []
        self.tickets = _RecordingCollection("tickets", database.tickets, self.log)
        self.ticket_history = _RecordingCollection("ticket_history", database.ticket_history, self.log)


@pytest.fixture
def read_queries(database, seed):
    """Every query the read methods issue (with data present, so none is short-circuited)."""
    database.prepare()  # a text search needs its index, on either engine
    seed.ticket("acme", "tkt-1", urgency="high", status="open", sentiment="negative", source="chat",
                keywords=["refund", "not received"], signals=["refund", "billing_problem"])
    seed.ticket("acme", "tkt-3", source="fax")
    seed.ticket("acme", "tkt-2", deleted_at=T0)
    seed.history("acme", "tkt-1", "created", T0)
    recorder = _RecordingDatabase(database)
    repo = TicketRepository(recorder, "acme")
    for filters in FILTERS:
        repo.list_live(filters, PageRequest(page=1, page_size=20))
        list(repo.iter_live(filters))
    repo.list_urgent()
    repo.get_live("tkt-1")
    repo.history("tkt-1")
    repo.history("never-had")
    return recorder.log


def _equality_fields(criteria):
    return {k for k, v in criteria.items() if not isinstance(v, dict)}


TEXT_INDEX = "tenant_text"


def _serving_index(query):
    """The name of an index that starts with tenant_id, continues with equality fields of
    the filter (at least one beyond tenant_id when there are any) and then, if the query
    sorts, with exactly the sort keys; None if no index does. A text search is served by
    the tenant-led text index (MongoDB then sorts the matches: a search is narrow)."""
    if "$text" in query["filter"]:
        model = next(m for m in INDEXES[query["collection"]] if m.document["name"] == TEXT_INDEX)
        return TEXT_INDEX if list(model.document["key"])[0] == "tenant_id" else None
    equal = _equality_fields(query["filter"])
    for model in INDEXES[query["collection"]]:
        keys = list(model.document["key"].items())
        if keys[0] != ("tenant_id", 1):
            continue
        prefix = 1
        while prefix < len(keys) and keys[prefix][0] in equal:
            prefix += 1
        if len(equal) > 1 and prefix < 2:
            continue
        sort = query["sort"] or []
        if sort and keys[prefix:prefix + len(sort)] != [(k, d) for k, d in sort]:
            continue
        return model.document["name"]
    return None


def test_every_read_query_names_the_tenant(read_queries):
    assert read_queries and all(q["filter"].get("tenant_id") == "acme" for q in read_queries)


def test_every_read_query_has_a_tenant_led_index_that_yields_its_order(read_queries):
    unserved = [q for q in read_queries if _serving_index(q) is None]
    assert unserved == []


def test_a_customers_listing_has_an_index_on_the_customer_that_yields_its_order(read_queries):
    customer = [q for q in read_queries if set(q["filter"]) == {"tenant_id", "customer_id", "deleted_at"}]
    model = next(m for m in INDEXES["tickets"] if m.document["name"] == "tenant_customer_created")
    keys = list(model.document["key"].items())
    assert customer and all(keys == [("tenant_id", 1), ("customer_id", 1)] + (q["sort"] or keys[2:])
                            for q in customer)


@pytest.mark.parametrize("field", sorted(LIST_INDEXES))
def test_a_keyword_or_signal_listing_has_a_multikey_index_that_yields_its_order(read_queries, field):
    queries = [q for q in read_queries if set(q["filter"]) == {"tenant_id", field, "deleted_at"}]
    model = next(m for m in INDEXES["tickets"] if m.document["name"] == LIST_INDEXES[field])
    keys = list(model.document["key"].items())
    assert queries and all(keys == [("tenant_id", 1), (field, 1)] + (q["sort"] or keys[2:]) for q in queries)


def test_explain_plans_use_tenant_led_indexes_without_in_memory_sort(read_queries, database, settings):
    if settings.embedded:
        pytest.skip("explain plans need a real MongoDB: set TEST_MONGO_URL=mongodb://...")
    for query in (q for q in read_queries if q["sort"]):
        collection = database[query["collection"]]
        plan = collection.find(query["filter"]).sort(query["sort"]).limit(20).explain()["queryPlanner"]["winningPlan"]
        nodes = list(plan_stages(plan))
        scans = [n for n in nodes if n["stage"] == "IXSCAN"]
        assert scans and all(next(iter(n["keyPattern"])) == "tenant_id" for n in scans), (query, plan)
        assert not any(n["stage"] == "COLLSCAN" for n in nodes), (query, plan)
        if "$text" in query["filter"]:
            assert {n.get("indexName") for n in scans} == {TEXT_INDEX}, (query, plan)
        else:
            assert not any(n["stage"] == "SORT" for n in nodes), (query, plan)
        if "customer_id" in query["filter"] and "$text" not in query["filter"]:
            assert {n.get("indexName") for n in scans} == {"tenant_customer_created"}, (query, plan)
        for field, index in LIST_INDEXES.items():
            if set(query["filter"]) == {"tenant_id", field, "deleted_at"}:
                assert {n.get("indexName") for n in scans} == {index}, (query, plan)
                assert any(n.get("isMultiKey") for n in scans), (query, plan)
