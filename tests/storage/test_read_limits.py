"""Every read the API serves carries ``maxTimeMS`` (MONGO_MAX_TIME_MS); one the server stops
is a 503 with Retry-After, never a 500. The embedded engine cannot time out, so a double at
the storage boundary plays the server: it records the limit each read carries and, when
told to be slow, answers as MongoDB does past maxTimeMS (``ExecutionTimeout``, code 50)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pymongo.errors import ExecutionTimeout

from support import EngineDouble, assert_json_error, stored_ticket, register_tenants
from ticketsvc.errors import Unavailable
from ticketsvc.notifications.outbox import Alert
from ticketsvc.storage.bounded import read_limit
from ticketsvc.api.context import get_runtime

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
READS = {"find": "max_time_ms", "find_one": "max_time_ms", "count_documents": "maxTimeMS",
         "aggregate": "maxTimeMS", "distinct": "maxTimeMS", "estimated_document_count": "maxTimeMS"}


class ServerDouble(EngineDouble):
    """Each read's time limit goes to ``seen``; with ``slow`` set, a read that carries a
    limit fails as past maxTimeMS."""

    def __init__(self, engine):
        super().__init__(engine)
        self.seen: list[tuple[str, str, int | None]] = []
        self.slow = False

    def wrap(self, collection, name):
        return CollectionDouble(collection, name, self)


class CollectionDouble:
    def __init__(self, collection, name, server):
        self._collection, self._name, self._server = collection, name, server

    def __getattr__(self, attr):
        target = getattr(self._collection, attr)
        if attr not in READS:
            return target

        def read(*args, **kwargs):
            limit = kwargs.get(READS[attr])
            self._server.seen.append((self._name, attr, limit))
            if self._server.slow and limit is not None:
                raise ExecutionTimeout("operation exceeded time limit", 50, {"code": 50, "codeName": "MaxTimeMSExpired"})
            if attr == "distinct":
                kwargs.pop("maxTimeMS", None)
            return target(*args, **kwargs)
        return read


@pytest.fixture
def server(database):
    return ServerDouble.install(database)


@pytest.fixture
def seeded(server, database, app):
    database.tickets.insert_one(stored_ticket("tenant_a", "tkt-1", T0, urgency="high"))
    database.ticket_history.insert_one({"_id": "tenant_a:tkt-1:created", "tenant_id": "tenant_a",
                                        "ticket_id": "tkt-1", "action": "created", "changes": {},
                                        "job_id": "job-seed", "recorded_at": T0})
    database.ingestion_logs.insert_one({"job_id": "job-1", "tenant_id": "tenant_a", "status": "completed",
                                        "started_at": T0, "ended_at": T0})
    register_tenants(database, "tenant_a")
    runtime = get_runtime(app)
    runtime.outbox.enqueue([Alert("tenant_a", "tkt-1", "high", "r", "tenant_a:tkt-1:high:v1")], T0)
    server.seen.clear()
    return server


API_READS = [
    "/tickets?tenant_id=tenant_a",
    "/tickets/urgent?tenant_id=tenant_a",
    "/tickets/tkt-1?tenant_id=tenant_a",
    "/tickets/tkt-1/history?tenant_id=tenant_a",
    "/tenants/tenant_a/stats",
    "/notifications?tenant_id=tenant_a",
    "/ingest/logs?tenant_id=tenant_a",
    "/ingest/status?tenant_id=tenant_a",
    "/ingest/progress/job-1",
    "/admin/api-keys",
    "/health",
]


@pytest.mark.parametrize("path", API_READS)
def test_every_read_an_endpoint_makes_carries_the_configured_limit(seeded, client, app, path):
    response = client.get(path)
    assert response.status_code in (200, 503 if path == "/health" else 200), response.get_data(as_text=True)[:300]
    assert seeded.seen, "the endpoint read nothing?"
    limit = get_runtime(app).settings.mongo_max_time_ms
    assert [read for read in seeded.seen if read[2] != limit] == []


@pytest.mark.parametrize("path", [p for p in API_READS if p != "/health"])
def test_a_read_past_the_limit_is_a_503_with_retry_after_never_a_500(seeded, client, path):
    seeded.slow = True
    body = assert_json_error(client.get(path), 503)
    assert "did not answer within 5000 ms" in body["message"]


def test_retry_after_is_the_limit_rounded_up_to_a_second(seeded, make_app):
    seeded.slow = True
    response = make_app(mongo_max_time_ms=2500).test_client().get("/tickets?tenant_id=tenant_a")
    assert response.status_code == 503 and response.headers["Retry-After"] == "3"


def test_a_slow_key_lookup_is_a_503_not_a_401_or_a_500(server, make_app):
    client = make_app(auth_mode="keys", admin_api_key="tsk_" + "k" * 43).test_client()
    server.slow = True
    response = client.get("/tickets?tenant_id=tenant_a", headers={"Authorization": "Bearer tsk_" + "x" * 43})
    assert_json_error(response, 503)
    assert response.headers["Retry-After"] == "5"


def test_background_reads_carry_no_limit(server, database, app):
    runtime = get_runtime(app)
    runtime.outbox.enqueue([Alert("tenant_a", "t", "high", "r", "tenant_a:t:high:v1")], T0)
    server.seen.clear()
    server.slow = True  # would fail any read that carried a limit
    runtime.ingestion.reap()
    runtime.outbox.claim(T0, 30, 10)
    assert server.seen and all(limit is None for _, _, limit in server.seen)


def test_outside_a_limit_nothing_is_added_and_inside_the_error_is_unavailable(server, database):
    database.tickets.count_documents({})
    assert server.seen[-1] == ("tickets", "count_documents", None)
    server.slow = True
    with read_limit(1200), pytest.raises(Unavailable) as raised:
        list(database.tickets.find({}).sort("created_at", -1).limit(5))
    assert raised.value.retry_after == 2 and server.seen[-1] == ("tickets", "find", 1200)
    with read_limit(1200), pytest.raises(Unavailable):
        list(database.tickets.aggregate([{"$match": {}}]))


def test_the_limit_must_be_below_the_socket_timeout():
    from ticketsvc.config import ConfigError, Settings

    assert Settings.from_env({}).mongo_max_time_ms == 5000
    with pytest.raises(ConfigError, match="MONGO_MAX_TIME_MS"):
        Settings.from_env({"MONGO_MAX_TIME_MS": "10000"})
    with pytest.raises(ConfigError, match="MONGO_MAX_TIME_MS"):
        Settings.from_env({"MONGO_MAX_TIME_MS": "soon"})
