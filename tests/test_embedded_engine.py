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


# -- the linear $unwind and $group (storage/embedded/stages.py) ------------------------------
_STAGE_DOCS = [
    {"_id": 1, "a": {"b": [1, 2, {"x": 1}], "c": 5}, "d": [], "k": "x", "n": 1},
    {"_id": 2, "a": {"b": []}, "k": None, "n": 2},
    {"_id": 3, "k": "x", "n": 3},
    {"_id": 4, "a": {"b": None}, "k": 2, "n": 4},
    {"_id": 5, "a": {"b": 7}, "k": True, "n": 5},
    {"_id": 6, "a": [{"b": [1]}], "k": {"z": 1}, "n": 6},
]


@pytest.mark.parametrize("options", [
    "$a.b", {"path": "$a.b", "preserveNullAndEmptyArrays": True}, {"path": "$a.b", "includeArrayIndex": "i"},
    "$d", {"path": "$d", "preserveNullAndEmptyArrays": True}, "$_id"])
def test_embedded_unwind_gives_mongomocks_own_results(options):
    import copy

    from mongomock.aggregate import _handle_unwind_stage

    from ticketsvc.storage.embedded.stages import unwind_stage
    expected = _handle_unwind_stage(copy.deepcopy(_STAGE_DOCS), None, options)
    assert unwind_stage(copy.deepcopy(_STAGE_DOCS), None, options) == expected


def test_embedded_unwind_leaves_its_input_and_siblings_unshared_along_the_path():
    from ticketsvc.storage.embedded.stages import unwind_stage
    doc = {"_id": 1, "a": {"b": [1, 2]}, "other": {"kept": True}}
    first, second = unwind_stage([doc], None, "$a.b")
    assert (first["a"]["b"], second["a"]["b"], doc["a"]["b"]) == (1, 2, [1, 2])
    assert first["a"] is not second["a"]


@pytest.mark.parametrize("group_id", ["$k", {"key": "$k", "n": "$n"}, None, "$a.b", {"$toString": "$n"}])
def test_embedded_group_gives_mongomocks_own_results(group_id):
    import copy

    from mongomock.aggregate import _handle_group_stage

    from ticketsvc.storage.embedded.stages import group_stage
    options = {"_id": group_id, "total": {"$sum": "$n"}, "ids": {"$push": "$_id"}}
    expected = _handle_group_stage(copy.deepcopy(_STAGE_DOCS), None, options)
    assert group_stage(copy.deepcopy(list(reversed(_STAGE_DOCS))), None, options) == \
        _handle_group_stage(copy.deepcopy(list(reversed(_STAGE_DOCS))), None, options)
    assert sorted(map(str, expected)) == sorted(map(str, group_stage(copy.deepcopy(_STAGE_DOCS), None, options)))
