"""What only a real MongoDB can show: index builds and name conflicts as the server judges
them, maxTimeMS enforced by the server, the TTL monitor, majority writes on a replica set,
and shardCollection on a cluster. Skipped without TEST_MONGO_URL (TEST_MONGOS_URL for the
cluster); CI (.github/workflows/ci.yml) runs them on a MongoDB 7 replica set."""
from __future__ import annotations

import logging
import os
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import OperationFailure

from conftest import base_settings, real_mongo_required
from support import assert_json_error, stored_ticket
from ticketsvc.storage import Database
from ticketsvc.storage.indexes import SHARDED
from ticketsvc.storage.migrate import migrate

pytestmark = real_mongo_required()
TEST_MONGOS_URL = os.environ.get("TEST_MONGOS_URL", "")


def test_migrate_replaces_an_old_name_with_old_keys_where_the_server_would_refuse_the_new_spec(database):
    database.db.drop_collection("tickets")
    database.tickets.create_index([("tenant_id", ASCENDING), ("deleted_at", ASCENDING), ("created_at", DESCENDING)],
                                  name="tenant_live_created")
    database.tickets.insert_one(stored_ticket("acme", "t-1", datetime.now(timezone.utc)))
    steps = [(s.action, s.name) for s in migrate(database) if s.collection == "tickets"]
    assert ("created", "tenant_live_created_v2") in steps and ("dropped", "tenant_live_created") in steps
    assert {s.action for s in migrate(database)} == {"kept"}


def test_a_worker_on_the_server_builds_nothing_and_names_what_is_missing(settings, caplog):
    fresh = Database(settings.with_overrides(mongo_db="ticketsvc_bare_" + uuid.uuid4().hex[:12]))
    try:
        with caplog.at_level(logging.WARNING):
            missing = fresh.prepare()
        assert "tenant_external_id" in missing["tickets"]
        assert not list(fresh.db.list_collection_names())
        assert "tickets.tenant_external_id" in caplog.text
    finally:
        fresh.client.drop_database(fresh.settings.mongo_db)
        fresh.close()


def test_the_server_stops_a_read_past_max_time_ms_and_the_api_answers_503(database, client):
    admin = database.client.admin
    try:
        admin.command("configureFailPoint", "maxTimeAlwaysTimeOut", mode="alwaysOn")
    except OperationFailure:
        pytest.skip("needs a server started with --setParameter enableTestCommands=1 (the CI one is)")
    try:
        response = client.get("/tickets?tenant_id=acme")
    finally:
        admin.command("configureFailPoint", "maxTimeAlwaysTimeOut", mode="off")
    assert_json_error(response, 503)
    assert response.headers["Retry-After"] == "5"


@pytest.mark.slow
def test_the_ttl_monitor_expires_delivered_alerts_only_and_never_tickets(database):
    old = datetime.now(timezone.utc) - timedelta(days=400)
    migrate(database)
    database.notifications.insert_many([
        {"tenant_id": "acme", "dedupe_key": f"acme:{status}", "status": status, "created_at": old,
         "delivered_at": old if status == "delivered" else None, "next_attempt_at": old}
        for status in ("delivered", "pending", "dead")])
    database.tickets.insert_one(stored_ticket("acme", "t-old", old))
    deadline = time.monotonic() + 90  # the TTL monitor wakes every 60 s unless ttlMonitorSleepSecs says sooner
    while database.notifications.count_documents({"status": "delivered"}) and time.monotonic() < deadline:
        time.sleep(1)
    assert database.notifications.count_documents({"status": "delivered"}) == 0
    assert {d["status"] for d in database.notifications.find({})} == {"pending", "dead"}
    assert database.tickets.count_documents({"external_id": "t-old"}) == 1


def test_coordination_writes_are_acknowledged_by_a_majority_of_the_replica_set(database):
    if not database.client.admin.command("hello").get("setName"):
        pytest.skip("needs a replica set: TEST_MONGO_URL points at a standalone server")
    database.locks.insert_one({"_id": "majority-check", "owner": "test"})
    assert database.locks.find_one({"_id": "majority-check"})["owner"] == "test"


@pytest.mark.skipif(not TEST_MONGOS_URL, reason="needs a sharded cluster: set TEST_MONGOS_URL=mongodb://<mongos>")
def test_migrate_shard_shards_the_ready_collections_on_their_keys():
    settings = base_settings(mongo_url=TEST_MONGOS_URL, mongo_db="ticketsvc_shard_" + uuid.uuid4().hex[:12])
    database = Database(settings, long_operations=True)
    try:
        steps = migrate(database, shard=True)
        sharded = {s.collection for s in steps if s.action == "sharded"}
        assert sharded == {plan.collection for plan in SHARDED if not plan.pending}
        config = database.client["config"]["collections"]
        assert dict(config.find_one({"_id": f"{settings.mongo_db}.tickets"})["key"]) == {"tenant_id": 1, "external_id": 1}
        assert {s.action for s in migrate(database, shard=True)} <= {"kept", "skipped"}
    finally:
        database.client.drop_database(settings.mongo_db)
        database.close()
