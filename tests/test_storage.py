import threading

import pytest
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from ticketsvc.storage import INDEXES


def test_fifty_threads_racing_for_one_document_exactly_one_wins(database):
    winners, losers = [], []
    barrier = threading.Barrier(50)

    def contend(n):
        barrier.wait()
        try:
            # The same shape the tenant lock uses: match a free slot or insert; a held slot
            # makes the upsert collide on _id.
            doc = database.locks.find_one_and_update(
                {"_id": "race", "owner": None},
                {"$set": {"owner": n}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            winners.append(doc["owner"])
        except DuplicateKeyError:
            losers.append(n)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and len(losers) == 49
    assert database.locks.find_one({"_id": "race"})["owner"] == winners[0]


def test_prepare_is_idempotent_and_creates_every_declared_index(database):
    database.prepare()
    database.prepare()
    for collection, models in INDEXES.items():
        names = {ix["name"] for ix in database[collection].list_indexes()}
        for model in models:
            assert model.document["name"] in names, (collection, model.document["name"])


def test_ticket_index_enforces_one_ticket_per_tenant_and_external_id(database):
    database.prepare()
    database.tickets.insert_one({"tenant_id": "a", "external_id": "tkt-1"})
    database.tickets.insert_one({"tenant_id": "b", "external_id": "tkt-1"})
    with pytest.raises(DuplicateKeyError):
        database.tickets.insert_one({"tenant_id": "a", "external_id": "tkt-1"})


def test_ping_reports_latency(database):
    assert database.ping() >= 0
