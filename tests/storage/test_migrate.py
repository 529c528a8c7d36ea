"""``db migrate`` builds what storage/indexes.py declares, says what it did, and can run
again; a worker on a real server builds nothing and names what is missing."""
from __future__ import annotations

import io
import logging

import pytest
from pymongo import ASCENDING, DESCENDING

from ticketsvc import cli
from ticketsvc.cli.db import run_migrate
from ticketsvc.storage import INDEXES
from ticketsvc.storage.indexes import RETENTION, SHARDED, UNSHARDED, wanted_indexes
from ticketsvc.storage.migrate import MigrationError, migrate, shard_collections


def _names(database, collection):
    return {ix["name"]: ix for ix in database[collection].list_indexes()}


def _actions(steps):
    return [(step.action, f"{step.collection}.{step.name}") for step in steps]


@pytest.fixture
def db_cli(database):
    """Run ``db ...`` through the real parser against the test database."""

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        args = cli.build_parser().parse_args(["db", *argv])
        return run_migrate(args, out, err, database=database), out.getvalue(), err.getvalue()

    return run


def test_migrate_builds_every_declared_index_then_a_second_run_only_keeps_them(database):
    first = migrate(database)
    wanted = wanted_indexes(database.settings)
    assert {a for a, _ in _actions(first)} == {"created"}
    for collection, models in wanted.items():
        names = _names(database, collection)
        for model in models:
            assert model.document["name"] in names, (collection, model.document["name"])
    second = migrate(database)
    assert {a for a, _ in _actions(second)} == {"kept"}
    assert len(second) == sum(len(models) for models in wanted.values())


def test_the_cli_prints_each_step_and_is_idempotent(db_cli):
    code, out, err = db_cli("migrate")
    assert code == 0
    assert "created  tickets.tenant_external_id  ({tenant_id: 1, external_id: 1}, unique)" in out
    assert "created  notifications.ttl_delivered  ({delivered_at: 1}, TTL 30 days, only {'status': 'delivered'})" in out
    assert "change(s)" in err
    code, out, err = db_cli("migrate")
    assert code == 0 and out.strip() and all(line.startswith("kept") for line in out.splitlines())
    assert " 0 change(s)" in err


def test_an_index_whose_keys_changed_under_an_old_name_is_replaced_then_dropped(database):
    # What an older build left: the two names that changed keys in place, with their old keys.
    database.tickets.create_index([("tenant_id", ASCENDING), ("deleted_at", ASCENDING), ("created_at", DESCENDING)],
                                  name="tenant_live_created")
    database.ticket_history.create_index([("tenant_id", ASCENDING), ("ticket_id", ASCENDING),
                                          ("recorded_at", DESCENDING)], name="tenant_ticket_recorded")
    actions = _actions(migrate(database))
    for old, new in (("tickets.tenant_live_created", "tickets.tenant_live_created_v2"),
                     ("ticket_history.tenant_ticket_recorded", "ticket_history.tenant_ticket_recorded_v2")):
        # The replacement is built before the old index stops serving queries.
        assert actions.index(("created", new)) < actions.index(("dropped", old))
    assert "tenant_live_created" not in _names(database, "tickets")
    assert "tenant_ticket_recorded" not in _names(database, "ticket_history")


def test_an_index_of_ours_with_another_spec_under_its_current_name_is_rebuilt(database):
    database.tickets.create_index([("tenant_id", ASCENDING), ("customer_id", ASCENDING)],
                                  name="tenant_customer_created")
    actions = _actions(migrate(database))
    assert ("dropped", "tickets.tenant_customer_created") in actions
    assert ("created", "tickets.tenant_customer_created") in actions
    assert list(_names(database, "tickets")["tenant_customer_created"]["key"].items()) == [
        ("tenant_id", 1), ("customer_id", 1), ("created_at", -1), ("external_id", 1)]


def test_an_index_the_service_does_not_own_is_left_alone(database):
    database.tickets.create_index([("subject", ASCENDING)], name="ops_added_by_hand")
    migrate(database)
    assert "ops_added_by_hand" in _names(database, "tickets")


def test_a_changed_retention_is_applied_in_place_without_a_rebuild(database):
    migrate(database)
    database.settings = database.settings.with_overrides(alert_retention_days=7)
    steps = migrate(database)
    assert ("retimed", "notifications.ttl_delivered") in _actions(steps)
    assert "created" not in {a for a, _ in _actions(steps)}
    assert _names(database, "notifications")["ttl_delivered"]["expireAfterSeconds"] == 7 * 86400


def test_zero_retention_keeps_forever_by_dropping_the_ttl_index(database):
    migrate(database)
    database.settings = database.settings.with_overrides(audit_retention_days=0)
    assert ("dropped", "ingestion_logs.ttl_ended") in _actions(migrate(database))
    assert "ttl_ended" not in _names(database, "ingestion_logs")


def test_retention_defaults_are_30_90_365_days_and_only_delivered_alerts_expire(database):
    ttl = {rule.collection: (rule.field, rule.model(getattr(database.settings, rule.setting)).document)
           for rule in RETENTION}
    assert ttl["notifications"][0] == "delivered_at" and ttl["notifications"][1]["expireAfterSeconds"] == 30 * 86400
    assert ttl["notifications"][1]["partialFilterExpression"] == {"status": "delivered"}
    assert ttl["ingestion_logs"][0] == "ended_at" and ttl["ingestion_logs"][1]["expireAfterSeconds"] == 90 * 86400
    assert ttl["ticket_history"][0] == "recorded_at" and ttl["ticket_history"][1]["expireAfterSeconds"] == 365 * 86400


def test_tickets_never_get_a_ttl_whatever_the_settings(database):
    for days in (0, 1, 36500):
        settings = database.settings.with_overrides(alert_retention_days=days, audit_retention_days=days,
                                                    history_retention_days=days)
        assert not [m for m in wanted_indexes(settings)["tickets"] if "expireAfterSeconds" in m.document]
    assert "tickets" not in {rule.collection for rule in RETENTION}


# -- a worker on a real server --------------------------------------------------------------------
def test_a_worker_on_a_server_builds_nothing_and_logs_each_missing_index_by_name(database, caplog):
    database.migrates_at_start = False  # what a Database on a real server is
    with caplog.at_level(logging.WARNING, logger="ticketsvc.storage.database"):
        missing = database.prepare()
    assert missing["tickets"][0] == "tenant_external_id"
    assert "tenant_live_created_v2" in missing["tickets"] and "ttl_delivered" in missing["notifications"]
    for collection in INDEXES:
        assert set(_names(database, collection)) <= {"_id_"}, collection
    assert "tickets.tenant_live_created_v2 (run `python -m ticketsvc db migrate`)" in caplog.text


def test_a_worker_on_a_migrated_server_finds_nothing_missing(database, caplog):
    migrate(database)
    database.migrates_at_start = False
    with caplog.at_level(logging.WARNING, logger="ticketsvc.storage.database"):
        assert database.prepare() == {}
    assert "missing" not in caplog.text


def test_the_embedded_engine_migrates_in_process_at_start(app, database):
    assert database.migrates_at_start
    assert "tenant_live_created_v2" in _names(database, "tickets")


# -- shard keys -----------------------------------------------------------------------------------
def test_every_unique_index_on_tenant_data_starts_with_the_shard_key_unless_its_plan_says_why():
    for plan in SHARDED:
        for model in INDEXES[plan.collection]:
            keys = [field for field, _ in model.document["key"].items()]
            if model.document.get("unique") and keys[:len(plan.key)] != list(plan.key):
                assert plan.pending and model.document["name"] in plan.pending, (plan.collection, keys)


def test_each_shard_key_is_served_by_an_index_that_starts_with_it():
    for plan in SHARDED:
        assert plan.key[0] == "tenant_id"
        assert any([f for f, _ in m.document["key"].items()][:2] == list(plan.key) for m in INDEXES[plan.collection])


def test_coordination_collections_and_api_keys_stay_unsharded():
    assert set(UNSHARDED) == {"locks", "rate_limits", "circuit_breakers", "tenants", "api_keys"}
    assert not set(UNSHARDED) & {plan.collection for plan in SHARDED}


class FakeCluster:
    """A mongos as ``shard_collections`` sees it: records the commands it is sent."""

    def __init__(self, msg="isdbgrid", sharded=None):
        self.msg, self.sharded, self.commands = msg, dict(sharded or {}), []

    def command(self, name, *args, **kwargs):
        self.commands.append((name, *args, kwargs) if kwargs else (name, *args))
        if name == "hello":
            return {"msg": self.msg} if self.msg else {"isWritablePrimary": True}
        if name == "shardCollection":
            self.sharded[args[0]] = kwargs["key"]
        return {"ok": 1.0}

    def shard_key(self, namespace):
        return self.sharded.get(namespace)


def test_shard_runs_shard_collection_for_each_ready_collection_and_says_why_it_skips_the_others(database):
    cluster = FakeCluster()
    steps = migrate(database, shard=True, cluster=cluster)
    name = database.settings.mongo_db
    assert ("enableSharding", name) in cluster.commands
    assert ("shardCollection", f"{name}.tickets", {"key": {"tenant_id": 1, "external_id": 1}}) in cluster.commands
    skipped = {step.collection: step.detail for step in steps if step.action == "skipped"}
    assert set(skipped) == {plan.collection for plan in SHARDED if plan.pending}
    for ready in ("ticket_history", "ingestion_logs", "notifications", "stats_rollups", "stats_customer_rollups"):
        key = next(plan.key_document for plan in SHARDED if plan.collection == ready)
        assert ("shardCollection", f"{name}.{ready}", {"key": key}) in cluster.commands
    again = FakeCluster(sharded=cluster.sharded)
    assert [s.action for s in migrate(database, shard=True, cluster=again) if s.collection == "tickets"][-1] == "kept"
    assert not [c for c in again.commands if c[0] == "shardCollection"]


def test_shard_refuses_a_collection_sharded_on_another_key(database):
    migrate(database)
    cluster = FakeCluster(sharded={f"{database.settings.mongo_db}.tickets": {"_id": 1}})
    with pytest.raises(MigrationError, match="already sharded"):
        shard_collections(cluster, database, lambda step: None)


def test_shard_needs_a_mongos(database, db_cli):
    with pytest.raises(MigrationError, match="mongos"):
        migrate(database, shard=True, cluster=FakeCluster(msg=None))
    code, _, err = db_cli("migrate", "--shard")
    assert code == 2 and "sharded cluster" in err
