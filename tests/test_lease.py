"""TokenLease, the storage primitive under the ingestion lease, the rate-limit slots, the
breaker's probe and the outbox claims: taken only when free, kept and settled only by
the token that holds it."""
from datetime import timedelta

import pytest

from ticketsvc.storage.lease import TokenLease


@pytest.fixture
def lease(database):
    return TokenLease(database.locks, token="owner", expiry="expires_at")


def _later(clock, seconds):
    return clock.now() + timedelta(seconds=seconds)


def test_a_live_lease_cannot_be_taken_and_an_upsert_collides_instead(lease, fake_clock):
    now = fake_clock.now()
    assert lease.take({"_id": "r"}, now, _later(fake_clock, 10), token="a", upsert=True)["owner"] == "a"
    assert lease.take({"_id": "r"}, now, _later(fake_clock, 10), token="b", upsert=True) is None
    fake_clock.advance(10)  # expired at exactly its expiry
    taken = lease.take({"_id": "r"}, fake_clock.now(), _later(fake_clock, 10), token="b", upsert=True)
    assert taken["owner"] == "b"


def test_a_generated_token_is_returned_with_the_document(lease, fake_clock):
    lease.collection.insert_one({"_id": "slot", "expires_at": None})
    taken = lease.take({"_id": "slot"}, fake_clock.now(), _later(fake_clock, 5), fields={"claimed_at": fake_clock.now()})
    assert len(taken["owner"]) == 32 and taken["claimed_at"] == fake_clock.now()


def test_only_the_holding_token_extends_or_settles(lease, fake_clock):
    lease.take({"_id": "r"}, fake_clock.now(), _later(fake_clock, 10), token="a", upsert=True)
    assert not lease.extend({"_id": "r"}, "b", fake_clock.now(), _later(fake_clock, 20))
    assert lease.extend({"_id": "r"}, "a", fake_clock.now(), _later(fake_clock, 20))
    assert not lease.settle({"_id": "r"}, "b", {"result": "stolen"})
    assert lease.settle({"_id": "r"}, "a", {"result": "done"}, expiry=_later(fake_clock, 3))
    doc = lease.collection.find_one({"_id": "r"})
    assert (doc["result"], doc["owner"]) == ("done", None)
    assert not lease.settle({"_id": "r"}, "a", {"result": "twice"})  # settled once


def test_a_lapsed_lease_cannot_be_extended_by_its_old_holder(lease, fake_clock):
    lease.take({"_id": "r"}, fake_clock.now(), _later(fake_clock, 10), token="a", upsert=True)
    fake_clock.advance(11)
    assert not lease.extend({"_id": "r"}, "a", fake_clock.now(), _later(fake_clock, 10))
    assert lease.holder({"_id": "r"}, fake_clock.now()) is None


def test_take_many_gives_each_free_document_to_one_taker(lease, fake_clock):
    lease.collection.insert_many([{"_id": i, "kind": "x", "expires_at": None} for i in range(4)])
    now, until = fake_clock.now(), _later(fake_clock, 30)
    first_token, first = lease.take_many([0, 1, 2], {"kind": "x"}, now, until)
    second_token, second = lease.take_many([1, 2, 3], {"kind": "x"}, now, until)
    assert sorted(d["_id"] for d in first) == [0, 1, 2] and [d["_id"] for d in second] == [3]
    assert first_token != second_token


def test_drop_with_lapsed_by_frees_only_an_expired_lease(lease, fake_clock):
    lease.take({"_id": "r"}, fake_clock.now(), _later(fake_clock, 10), token="a", upsert=True)
    assert not lease.drop({"_id": "r"}, "a", lapsed_by=fake_clock.now())
    assert not lease.drop({"_id": "r"}, "b")
    fake_clock.advance(10)
    assert lease.drop({"_id": "r"}, "a", lapsed_by=fake_clock.now())
    assert lease.collection.find_one({"_id": "r"}) is None
