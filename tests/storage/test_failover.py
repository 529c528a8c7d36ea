"""Failover guards: an idempotent write is tried once more after a failover's error
(``storage.failover.retry_once``, used by ``TokenLease`` and the job's final record), and a
run ending during a failover still releases its lease and writes its final record, each
whatever becomes of the other (the reaper remains the backstop).

``FlakyCollection`` plays a replica set mid-election: its ``method`` raises ``error`` on its
first ``times`` calls, either before the write (an old primary refusing it) or after it
(``landed``: the write was applied and the answer lost with the connection).
"""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from pymongo.errors import (AutoReconnect, DuplicateKeyError, NotPrimaryError, OperationFailure,
                            ServerSelectionTimeoutError)

from conftest import real_mongo_required
from ticketsvc.api.context import get_runtime
from ticketsvc.ingestion.job import IngestionJob, JobRecords, Trigger
from ticketsvc.ingestion.locks import LeaseLock
from ticketsvc.ingestion.runner import lock_resource
from ticketsvc.storage.failover import is_retryable, retry_once
from ticketsvc.storage.lease import TokenLease


class FlakyCollection:
    def __init__(self, collection, method: str, error: Exception, *, times: int = 1, landed: bool = False):
        self.collection = collection
        self.method = method
        self.error = error
        self.failures_left = times
        self.landed = landed
        self.calls = 0

    def __getattr__(self, name):
        real = getattr(self.collection, name)
        if name != self.method:
            return real

        def flaky(*args, **kwargs):
            self.calls += 1
            if self.failures_left <= 0:
                return real(*args, **kwargs)
            self.failures_left -= 1
            if self.landed:
                real(*args, **kwargs)
            raise self.error

        return flaky


def _later(clock, seconds):
    return clock.now() + timedelta(seconds=seconds)


# -- which errors, how many times --------------------------------------------------------------

@pytest.mark.parametrize("error", [
    AutoReconnect("connection reset"),
    NotPrimaryError("not primary"),
    OperationFailure("shutting down", code=91, details={"errorLabels": ["RetryableWriteError"]}),
], ids=["network", "not-primary", "labelled"])
def test_a_failovers_error_is_retried_once(error):
    attempts = []

    def write():
        attempts.append(1)
        if len(attempts) == 1:
            raise error
        return "done"

    assert is_retryable(error) and retry_once(write) == "done" and len(attempts) == 2


@pytest.mark.parametrize("error", [
    ServerSelectionTimeoutError("no primary for 15 s"),  # the driver already waited out an election
    DuplicateKeyError("E11000"),
    OperationFailure("bad update", code=9),
], ids=["selection-timeout", "duplicate-key", "plain-failure"])
def test_other_errors_are_not_retried(error):
    attempts = []

    def write():
        attempts.append(1)
        raise error

    with pytest.raises(type(error)):
        retry_once(write)
    assert not is_retryable(error) and len(attempts) == 1


def test_a_second_failure_is_raised():
    attempts = []

    def write():
        attempts.append(1)
        raise AutoReconnect(f"attempt {len(attempts)}")

    with pytest.raises(AutoReconnect, match="attempt 2"):
        retry_once(write)


# -- the lease primitive's writes are idempotent, so retrying them is safe ------------------------

def test_a_take_whose_answer_was_lost_returns_the_lease_it_took(database, fake_clock):
    flaky = FlakyCollection(database.locks, "find_one_and_update", AutoReconnect("reset"), landed=True)
    lease = TokenLease(flaky, token="owner")
    taken = lease.take({"_id": "r"}, fake_clock.now(), _later(fake_clock, 10), token="a", upsert=True)
    assert taken["owner"] == "a" and flaky.calls == 2  # not "held by someone": it is ours
    assert lease.take({"_id": "r"}, fake_clock.now(), _later(fake_clock, 10), token="b", upsert=True) is None


def test_a_take_many_whose_answer_was_lost_returns_what_it_took(database, fake_clock):
    database.locks.insert_many([{"_id": i, "kind": "x", "expires_at": None} for i in range(3)])
    flaky = FlakyCollection(database.locks, "update_many", AutoReconnect("reset"), landed=True)
    token, won = TokenLease(flaky, token="owner").take_many([0, 1, 2], {"kind": "x"}, fake_clock.now(),
                                                            _later(fake_clock, 30))
    assert sorted(d["_id"] for d in won) == [0, 1, 2] and all(d["owner"] == token for d in won)


@pytest.mark.parametrize("method, act", [
    ("update_one", lambda lease, clock: lease.extend({"_id": "r"}, "a", clock.now(), _later(clock, 20))),
    ("update_one", lambda lease, clock: lease.settle({"_id": "r"}, "a", {"result": "done"})),
    ("delete_one", lambda lease, clock: lease.drop({"_id": "r"}, "a")),
], ids=["extend", "settle", "drop"])
def test_a_write_an_old_primary_refused_is_applied_by_the_retry(database, fake_clock, method, act):
    TokenLease(database.locks, token="owner").take({"_id": "r"}, fake_clock.now(), _later(fake_clock, 10),
                                                  token="a", upsert=True)
    flaky = FlakyCollection(database.locks, method, NotPrimaryError("stepping down"))
    assert act(TokenLease(flaky, token="owner"), fake_clock) is True and flaky.calls == 2


def test_a_settle_whose_answer_was_lost_is_applied_once_and_reports_nothing_left(database, fake_clock):
    TokenLease(database.locks, token="owner").take({"_id": "r"}, fake_clock.now(), _later(fake_clock, 10),
                                                  token="a", upsert=True)
    flaky = FlakyCollection(database.locks, "update_one", AutoReconnect("reset"), landed=True)
    settled = TokenLease(flaky, token="owner").settle({"_id": "r"}, "a", also={"$inc": {"settled": 1}})
    assert settled is False  # the retry matched no holder: the first attempt had settled it
    assert database.locks.find_one({"_id": "r"})["settled"] == 1


def test_a_final_record_whose_answer_was_lost_is_returned_not_reported_already_final(database, fake_clock):
    job = IngestionJob.new("tenant_d", Trigger.API, fake_clock.now())
    JobRecords(database.ingestion_logs).insert(job)
    job.complete()
    flaky = FlakyCollection(database.ingestion_logs, "find_one_and_update", AutoReconnect("reset"), landed=True)
    record = JobRecords(flaky).finalise(job, fake_clock.now())
    assert record is not None and record["status"] == "completed" and flaky.calls == 2


# -- a run ending during a failover ---------------------------------------------------------------

def test_a_lease_that_cannot_be_released_does_not_stop_the_final_record(runtime, database, caplog):
    flaky = FlakyCollection(database.locks, "delete_one", AutoReconnect("primary gone"), times=2)
    runtime.ingestion.leases = LeaseLock(flaky, runtime.settings.lock_ttl_s)
    with caplog.at_level(logging.WARNING, logger="ticketsvc.ingestion.locks"):
        record = runtime.ingestion.run("tenant_d")
    assert record["status"] == "completed" and flaky.calls == 2
    assert "not released" in caplog.text and "it lapses at its expiry" in caplog.text
    assert database.locks.find_one({"_id": lock_resource("tenant_d")}) is not None  # left to lapse


def test_a_final_record_that_cannot_be_written_does_not_keep_the_lease(make_app, database, fake_clock, caplog):
    runtime = get_runtime(make_app(clock=fake_clock))
    flaky = FlakyCollection(database.ingestion_logs, "find_one_and_update", AutoReconnect("primary gone"), times=2)
    runtime.ingestion.records = JobRecords(flaky)
    with caplog.at_level(logging.ERROR, logger="ticketsvc.ingestion.job"):
        job = runtime.ingestion.run("tenant_d")
    assert job["status"] == "running" and flaky.calls == 2 and "not written" in caplog.text
    assert database.locks.find_one({"_id": lock_resource("tenant_d")}) is None  # released all the same
    # The backstop: a record left running without a heartbeat is the reaper's to finalise.
    fake_clock.advance(runtime.settings.lock_ttl_s + 1)
    runtime.ingestion.records = JobRecords(database.ingestion_logs)
    assert runtime.ingestion.reap() == 1
    assert database.ingestion_logs.find_one({"job_id": job["job_id"]})["status"] == "abandoned"


@real_mongo_required()
def test_a_lease_taken_while_the_primary_refuses_twice_is_taken_by_the_retry(database, fake_clock):
    admin = database.client.admin
    if "setName" not in admin.command("hello"):
        pytest.skip("needs a replica set (a standalone server has no retryable writes)")
    try:
        # The driver's own retry meets the second refusal; ours is the third attempt.
        admin.command("configureFailPoint", "failCommand", mode={"times": 2},
                      data={"failCommands": ["findAndModify"], "errorCode": 10107,
                            "errorLabels": ["RetryableWriteError"]})
    except OperationFailure:
        pytest.skip("needs a server started with --setParameter enableTestCommands=1 (the CI one is)")
    try:
        leases = LeaseLock(database.locks, 60)
        assert leases.acquire("ingest:acme", "job-1", fake_clock.now()) > fake_clock.now()
    finally:
        admin.command("configureFailPoint", "failCommand", mode="off")
