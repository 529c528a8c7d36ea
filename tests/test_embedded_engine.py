"""The embedded engine's indexed lookups answer exactly what a scan would."""
import pytest
from pymongo.errors import DuplicateKeyError

from ticketsvc.storage import Database


@pytest.fixture
def tickets(settings):
    if not settings.embedded:
        pytest.skip("embedded engine only")
    db = Database(settings)
    db.prepare()
    yield db.tickets
    db.close()


def test_unique_pair_is_enforced_without_a_scan_and_across_tenants(tickets):
    tickets.insert_one({"tenant_id": "a", "external_id": "1"})
    tickets.insert_one({"tenant_id": "b", "external_id": "1"})
    with pytest.raises(DuplicateKeyError):
        tickets.insert_one({"tenant_id": "a", "external_id": "1"})
    with pytest.raises(DuplicateKeyError):
        tickets.update_one({"tenant_id": "b"}, {"$set": {"tenant_id": "a"}})
    assert tickets.count_documents({}) == 2


def test_lookups_follow_deletes_and_key_changes(tickets):
    tickets.insert_one({"tenant_id": "a", "external_id": "1", "v": 1})
    tickets.update_one({"tenant_id": "a", "external_id": "1"}, {"$set": {"external_id": "2"}})
    assert tickets.find_one({"tenant_id": "a", "external_id": "1"}) is None
    assert tickets.find_one({"tenant_id": "a", "external_id": "2"})["v"] == 1
    tickets.delete_one({"tenant_id": "a", "external_id": "2"})
    assert tickets.find_one({"tenant_id": "a", "external_id": "2"}) is None
    tickets.insert_one({"tenant_id": "a", "external_id": "1", "v": 3})  # the old key is free again
    assert tickets.find_one({"tenant_id": "a", "external_id": "1"})["v"] == 3


def test_in_queries_and_extra_conditions_match_a_scan(tickets):
    tickets.insert_many([{"tenant_id": t, "external_id": str(i), "n": i} for t in "ab" for i in range(20)])
    criteria = {"tenant_id": "a", "external_id": {"$in": ["1", "2", "3", "99"]}, "n": {"$gte": 2}}
    fast = sorted(d["n"] for d in tickets.find(criteria))
    scanned = sorted(d["n"] for d in tickets.find({"$and": [criteria]}))  # $and hides it from the index
    assert fast == scanned == [2, 3]


def test_upsert_by_the_unique_pair_inserts_once(tickets):
    for _ in range(3):
        tickets.update_one({"tenant_id": "a", "external_id": "x"}, {"$inc": {"seen": 1}}, upsert=True)
    assert tickets.count_documents({"tenant_id": "a"}) == 1
    assert tickets.find_one({"tenant_id": "a", "external_id": "x"})["seen"] == 3


def test_deleting_documents_frees_their_index_entries(tickets):
    tickets.insert_many([{"tenant_id": "a", "external_id": str(i)} for i in range(50)])
    tickets.find_one({"tenant_id": "a", "external_id": "3"})  # builds the table
    tickets.delete_many({"tenant_id": "a"})
    assert all(not table for table in tickets._collection._tables.values())


def test_sorted_pages_match_the_full_sorted_result(tickets):
    from datetime import datetime, timedelta, timezone

    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    tickets.insert_many([{"tenant_id": t, "external_id": f"{i:03d}", "created_at": base + timedelta(hours=i % 7),
                          "body": "x" * 10} for t in "ab" for i in range(60)])
    order = [("created_at", -1), ("external_id", 1)]
    everything = list(tickets.find({"tenant_id": "a"}, {"_id": 0, "body": 0}).sort(order))
    pages = [list(tickets.find({"tenant_id": "a"}, {"_id": 0, "body": 0}).sort(order).skip(s).limit(7))
             for s in range(0, 63, 7)]
    assert [doc for page in pages for doc in page] == everything
    assert all("_id" not in doc and "body" not in doc for doc in everything)
    assert [d["external_id"] for d in everything[:3]] == ["006", "013", "020"]
