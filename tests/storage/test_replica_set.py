"""What the client does for a replica set, checked on the client's own configuration (a
pymongo client connects lazily: building one here does no I/O and needs no server)."""
from __future__ import annotations

import pytest
from pymongo import ReadPreference

from ticketsvc.config import Settings, database_in_url
from ticketsvc.storage import Database
from ticketsvc.storage.database import COORDINATION

# An operator's URL that asks for secondary reads and single-node acknowledgement.
LOOSE_URL = "mongodb://127.0.0.1:1/?readPreference=secondaryPreferred&w=1"


@pytest.fixture
def lazy_server_database():
    database = Database(Settings.from_env({"MONGO_URL": LOOSE_URL}))
    yield database
    database.close()


def test_coordination_writes_wait_for_a_majority_whatever_the_url_says(lazy_server_database):
    for name in ("locks", "rate_limits", "circuit_breakers", "notifications", "tenants", "api_keys",
                 "ingestion_logs"):
        assert name in COORDINATION
        concern = lazy_server_database[name].write_concern.document
        assert concern["w"] == "majority" and 0 < concern["wtimeout"] < 10000, (name, concern)


def test_coordination_reads_go_to_the_primary_whatever_the_url_says(lazy_server_database):
    for name in COORDINATION:
        assert lazy_server_database[name].read_preference == ReadPreference.PRIMARY, name


def test_tenant_data_follows_the_url(lazy_server_database):
    for name in ("tickets", "ticket_history"):
        collection = lazy_server_database[name]
        assert collection.read_preference == ReadPreference.SECONDARY_PREFERRED
        assert collection.write_concern.document == {"w": 1}


def test_server_selection_outlasts_an_election_by_default(lazy_server_database):
    assert Settings.from_env({}).mongo_server_selection_timeout_ms == 15000
    assert lazy_server_database.client.options.server_selection_timeout == 15.0


def test_migrate_runs_with_no_socket_timeout_so_a_long_index_build_is_waited_for():
    database = Database(Settings.from_env({"MONGO_URL": LOOSE_URL}), long_operations=True)
    try:
        assert database.client.options.pool_options.socket_timeout is None
    finally:
        database.close()


@pytest.mark.parametrize("url, expected", [
    ("mongodb://db1:27017,db2:27017/tickets_prod?replicaSet=rs0", "tickets_prod"),
    ("mongodb+srv://user:p%40ss@cluster.example.net/prod?retryWrites=true", "prod"),
    ("mongodb://db1:27017/?replicaSet=rs0", None),
    ("mongodb://db1:27017", None),
    ("mongomock://", None),
])
def test_the_database_named_in_the_url_path_is_read(url, expected):
    assert database_in_url(url) == expected


def test_the_url_path_names_the_database_when_mongo_db_is_unset():
    settings = Settings.from_env({"MONGO_URL": "mongodb://db1:27017/tickets_prod?replicaSet=rs0"})
    assert settings.mongo_db == "tickets_prod"
    database = Database(settings)
    try:
        assert database.db.name == "tickets_prod"
    finally:
        database.close()


def test_mongo_db_wins_when_set_explicitly():
    settings = Settings.from_env({"MONGO_URL": "mongodb://db1:27017/admin", "MONGO_DB": "ticketsvc_eu"})
    assert settings.mongo_db == "ticketsvc_eu"


def test_neither_gives_the_default_database():
    assert Settings.from_env({"MONGO_URL": "mongodb://db1:27017/?replicaSet=rs0"}).mongo_db == "ticketsvc"


def test_an_invalid_database_name_in_the_url_is_refused_naming_mongo_url():
    from ticketsvc.config import ConfigError

    with pytest.raises(ConfigError, match="MONGO_URL"):
        Settings.from_env({"MONGO_URL": "mongodb://db1:27017/bad$name"})
