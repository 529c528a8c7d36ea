"""Storage: one MongoDB client per process, the collections, and their indexes.

``MONGO_URL=mongomock://`` selects the embedded engine (mongomock, in-process); anything
else is a real MongoDB. Business code sees the same pymongo-shaped API either way. The
embedded engine is not thread-safe, so its adapter serialises every operation behind one
process-wide lock, which also gives ``find_one_and_update`` and upserts the per-document
atomicity a real server guarantees.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Iterator

import pymongo
from pymongo import ASCENDING, DESCENDING, IndexModel

from .config import Settings

log = logging.getLogger(__name__)

# Every index the service relies on, by collection. Each one starts with tenant_id where the
# collection holds tenant data (it is also the shard key when one replica set is not enough).
INDEXES: dict[str, list[IndexModel]] = {
    "tickets": [
        IndexModel([("tenant_id", ASCENDING), ("external_id", ASCENDING)], unique=True, name="tenant_external_id"),
        # Listings (newest first) and every filter combination the API offers, plus stats by date.
        IndexModel([("tenant_id", ASCENDING), ("deleted_at", ASCENDING), ("created_at", DESCENDING)],
                   name="tenant_live_created"),
        IndexModel([("tenant_id", ASCENDING), ("urgency", ASCENDING), ("created_at", DESCENDING)],
                   name="tenant_urgency_created"),
        IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING)],
                   name="tenant_status_created"),
        IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING)], name="tenant_customer"),
    ],
    "ticket_history": [
        IndexModel([("tenant_id", ASCENDING), ("ticket_id", ASCENDING), ("recorded_at", DESCENDING)],
                   name="tenant_ticket_recorded"),
    ],
    "ingestion_logs": [
        IndexModel([("job_id", ASCENDING)], unique=True, name="job_id"),
        IndexModel([("tenant_id", ASCENDING), ("started_at", DESCENDING)], name="tenant_started"),
        IndexModel([("status", ASCENDING), ("heartbeat_at", ASCENDING)], name="status_heartbeat"),
    ],
    "notifications": [
        IndexModel([("dedupe_key", ASCENDING)], unique=True, name="dedupe_key"),
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="status_due"),
        IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING)],
                   name="tenant_status_created"),
    ],
    "api_keys": [
        IndexModel([("key_hash", ASCENDING)], unique=True, name="key_hash"),
        IndexModel([("key_id", ASCENDING)], unique=True, name="key_id"),
    ],
    "tenants": [],
    "locks": [],
    "circuit_breakers": [],
    "rate_limits": [],
}


class _LockedCursor:
    """A cursor of the embedded engine whose results are computed under the engine lock."""

    def __init__(self, cursor: Any, lock: threading.RLock):
        self._cursor = cursor
        self._lock = lock

    def _chain(self, name: str, *args: Any, **kwargs: Any) -> "_LockedCursor":
        with self._lock:
            getattr(self._cursor, name)(*args, **kwargs)
        return self

    def sort(self, *a: Any, **k: Any) -> "_LockedCursor":
        return self._chain("sort", *a, **k)

    def skip(self, *a: Any, **k: Any) -> "_LockedCursor":
        return self._chain("skip", *a, **k)

    def limit(self, *a: Any, **k: Any) -> "_LockedCursor":
        return self._chain("limit", *a, **k)

    def batch_size(self, *a: Any, **k: Any) -> "_LockedCursor":
        return self

    def hint(self, *a: Any, **k: Any) -> "_LockedCursor":
        return self

    def __iter__(self) -> Iterator[dict]:
        with self._lock:
            rows = list(self._cursor)
        return iter(rows)

    def close(self) -> None:
        pass


class _LockedCollection:
    """Proxy over a mongomock collection: every call runs under the engine-wide lock."""

    _CURSOR_METHODS = frozenset({"find"})
    _MATERIALISE = frozenset({"aggregate", "list_indexes", "find_raw_batches"})

    def __init__(self, collection: Any, lock: threading.RLock):
        self._collection = collection
        self._lock = lock

    @property
    def name(self) -> str:
        return self._collection.name

    def __getattr__(self, attr: str) -> Any:
        target = getattr(self._collection, attr)
        if not callable(target):
            return target
        lock = self._lock

        if attr in self._CURSOR_METHODS:
            def call_cursor(*args: Any, **kwargs: Any) -> _LockedCursor:
                with lock:
                    return _LockedCursor(target(*args, **kwargs), lock)
            return call_cursor

        if attr in self._MATERIALISE:
            def call_list(*args: Any, **kwargs: Any) -> Iterator[dict]:
                with lock:
                    return iter(list(target(*args, **kwargs)))
            return call_list

        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return target(*args, **kwargs)
        return call


class _LockedDatabase:
    def __init__(self, database: Any, lock: threading.RLock):
        self._database = database
        self._lock = lock

    def __getitem__(self, name: str) -> _LockedCollection:
        return _LockedCollection(self._database[name], self._lock)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._database, name)
        if callable(attr):
            def call(*args: Any, **kwargs: Any) -> Any:
                with self._lock:
                    return attr(*args, **kwargs)
            return call
        return attr

    def command(self, name: str, *args: Any, **kwargs: Any) -> dict:
        if name == "ping":
            return {"ok": 1.0}
        with self._lock:
            return self._database.command(name, *args, **kwargs)


class Database:
    """The process's storage handle: owns the client, exposes collections, pings, closes.

    Build one per process after fork (gunicorn ``post_worker_init``) and ``close()`` it on
    exit. Tests may pass one ``Database`` to several apps to simulate several workers.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = settings.engine
        if settings.embedded:
            import mongomock

            self._client = mongomock.MongoClient(tz_aware=True)
            self._engine_lock = threading.RLock()
            self.db = _LockedDatabase(self._client[settings.mongo_db], self._engine_lock)
        else:
            self._client = pymongo.MongoClient(
                settings.mongo_url,
                tz_aware=True,
                maxPoolSize=settings.mongo_pool_size,
                serverSelectionTimeoutMS=settings.mongo_server_selection_timeout_ms,
                connectTimeoutMS=settings.mongo_connect_timeout_ms,
                socketTimeoutMS=settings.mongo_socket_timeout_ms,
                appname="ticketsvc",
            )
            self.db = self._client[settings.mongo_db]
        self._closed = False

    def __getitem__(self, name: str) -> Any:
        return self.db[name]

    @property
    def tickets(self) -> Any:
        return self.db["tickets"]

    @property
    def ticket_history(self) -> Any:
        return self.db["ticket_history"]

    @property
    def ingestion_logs(self) -> Any:
        return self.db["ingestion_logs"]

    @property
    def locks(self) -> Any:
        return self.db["locks"]

    @property
    def notifications(self) -> Any:
        return self.db["notifications"]

    @property
    def circuit_breakers(self) -> Any:
        return self.db["circuit_breakers"]

    @property
    def rate_limits(self) -> Any:
        return self.db["rate_limits"]

    @property
    def tenants(self) -> Any:
        return self.db["tenants"]

    @property
    def api_keys(self) -> Any:
        return self.db["api_keys"]

    def ensure_indexes(self) -> None:
        """Create every index in ``INDEXES``; idempotent, safe to call from every worker."""
        for name, models in INDEXES.items():
            if models:
                self.db[name].create_indexes(models)
        log.info("indexes ensured engine=%s collections=%d", self.engine, len(INDEXES))

    def ping(self) -> float:
        """Round-trip to the server; returns milliseconds, raises on failure."""
        started = time.perf_counter()
        self.db.command("ping")
        return (time.perf_counter() - started) * 1000.0

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._client.close()
