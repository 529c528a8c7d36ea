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
        # Each ends in the listing's full sort (created_at desc, external_id asc: the tie-break
        # that keeps offset pages stable), so MongoDB reads pages off the index instead of
        # sorting every matching ticket in memory; one filter per index, the rest are fetched.
        IndexModel([("tenant_id", ASCENDING), ("deleted_at", ASCENDING), ("created_at", DESCENDING),
                    ("external_id", ASCENDING)], name="tenant_live_created"),
        IndexModel([("tenant_id", ASCENDING), ("urgency", ASCENDING), ("created_at", DESCENDING),
                    ("external_id", ASCENDING)], name="tenant_urgency_created"),
        IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING),
                    ("external_id", ASCENDING)], name="tenant_status_created"),
        IndexModel([("tenant_id", ASCENDING), ("sentiment", ASCENDING), ("created_at", DESCENDING),
                    ("external_id", ASCENDING)], name="tenant_sentiment_created"),
        IndexModel([("tenant_id", ASCENDING), ("source", ASCENDING), ("created_at", DESCENDING),
                    ("external_id", ASCENDING)], name="tenant_source_created"),
        IndexModel([("tenant_id", ASCENDING), ("requires_action", ASCENDING), ("created_at", DESCENDING),
                    ("external_id", ASCENDING)], name="tenant_action_created"),
        IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING)], name="tenant_customer"),
    ],
    "ticket_history": [
        # _id breaks recorded_at ties (one sync's entries share it) for a stable page order.
        IndexModel([("tenant_id", ASCENDING), ("ticket_id", ASCENDING), ("recorded_at", DESCENDING),
                    ("_id", DESCENDING)], name="tenant_ticket_recorded"),
    ],
    "ingestion_logs": [
        IndexModel([("job_id", ASCENDING)], unique=True, name="job_id"),
        IndexModel([("tenant_id", ASCENDING), ("started_at", DESCENDING)], name="tenant_started"),
        IndexModel([("status", ASCENDING), ("heartbeat_at", ASCENDING)], name="status_heartbeat"),
    ],
    "notifications": [
        IndexModel([("dedupe_key", ASCENDING)], unique=True, name="dedupe_key"),
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="status_due"),
        # Delivery claims due alerts oldest first.
        IndexModel([("status", ASCENDING), ("created_at", ASCENDING)], name="status_created"),
        IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING)],
                   name="tenant_status_created"),
    ],
    "api_keys": [
        IndexModel([("key_hash", ASCENDING)], unique=True, name="key_hash"),
        IndexModel([("key_id", ASCENDING)], unique=True, name="key_id"),
        # GET /admin/api-keys: newest first, key_id breaking ties for stable pages.
        IndexModel([("created_at", DESCENDING), ("key_id", ASCENDING)], name="created"),
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
            rows = _page_by_sort_keys(self._cursor)
            if rows is None:
                # Materialise once: stepping a mongomock cursor re-slices its result list
                # on every document, quadratic in the number of results.
                compute = getattr(self._cursor, "_compute_results", None)
                rows = list(compute(with_limit_and_skip=True)) if compute is not None else list(self._cursor)
        return iter(rows)

    def close(self) -> None:
        pass


def _page_by_sort_keys(cursor: Any) -> list[dict] | None:
    """A sorted, limited page read in two steps, as an index would serve it: sort and cut
    on the sort keys alone, then fetch the page's documents by ``_id``. mongomock copies
    every matching document (all fields) before it sorts, which made a 20-ticket page of
    a 4,000-ticket tenant cost ~200 ms. None when the cursor is not such a page."""
    sort, limit = getattr(cursor, "_sort", None), getattr(cursor, "_limit", None)
    spec = getattr(cursor, "_spec", None)
    if not sort or not limit or limit < 0 or not isinstance(spec, dict):
        return None
    from mongomock.filtering import resolve_sort_key

    collection = cursor.collection
    if any(key.startswith("$") for key, _ in sort):
        return None
    # The stored documents themselves (no copies), ordered exactly as mongomock orders a
    # cursor: one stable sort per key, the last key first.
    matches = list(collection._iter_documents(spec))
    for key, direction in reversed(list(sort)):
        matches.sort(key=lambda doc, key=key: resolve_sort_key(key, doc), reverse=direction < 0)
    skip = cursor._skip or 0
    ids = [doc["_id"] for doc in matches[skip:skip + limit]]
    if not ids:
        return []
    projection = dict(cursor._projection or {})
    hide_id = projection.pop("_id", 1) in (0, False)
    found = {doc["_id"]: doc for doc in
             collection.find({"_id": {"$in": ids}}, projection or None)._compute_results()}
    page = [found[i] for i in ids if i in found]
    if hide_id:
        for doc in page:
            doc.pop("_id", None)
    return page


class _BulkResult:
    """The parts of pymongo's ``BulkWriteResult`` the service reads."""

    def __init__(self) -> None:
        self.inserted_count = self.matched_count = self.modified_count = 0
        self.deleted_count = self.upserted_count = 0
        self.acknowledged = True

    @property
    def bulk_api_result(self) -> dict:
        return {"nInserted": self.inserted_count, "nMatched": self.matched_count, "nModified": self.modified_count,
                "nRemoved": self.deleted_count, "nUpserted": self.upserted_count}


def _embedded_bulk_write(collection: Any, operations: list, ordered: bool = True, **_: Any) -> _BulkResult:
    """``bulk_write`` for the embedded engine, one operation after another under the engine
    lock (mongomock's own bulk builder lags behind pymongo's operation objects)."""
    from pymongo import DeleteMany, DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne
    from pymongo.errors import BulkWriteError, DuplicateKeyError

    result = _BulkResult()
    errors = []
    for index, op in enumerate(operations):
        try:
            if isinstance(op, InsertOne):
                collection.insert_one(op._doc)
                result.inserted_count += 1
            elif isinstance(op, (UpdateOne, UpdateMany, ReplaceOne)):
                if isinstance(op, ReplaceOne):
                    res = collection.replace_one(op._filter, op._doc, upsert=op._upsert)
                elif isinstance(op, UpdateOne):
                    res = collection.update_one(op._filter, op._doc, upsert=op._upsert)
                else:
                    res = collection.update_many(op._filter, op._doc, upsert=op._upsert)
                result.matched_count += res.matched_count
                result.modified_count += res.modified_count
                result.upserted_count += 1 if res.upserted_id is not None else 0
            elif isinstance(op, (DeleteOne, DeleteMany)):
                res = (collection.delete_one if isinstance(op, DeleteOne) else collection.delete_many)(op._filter)
                result.deleted_count += res.deleted_count
            else:
                raise TypeError(f"unsupported bulk operation {op!r}")
        except DuplicateKeyError as exc:
            errors.append({"index": index, "code": 11000, "errmsg": str(exc), "op": repr(op)})
            if ordered:
                break
    if errors:
        raise BulkWriteError({"writeErrors": errors, **result.bulk_api_result, "upserted": []})
    return result


def _plain_inclusion(projection: Any) -> bool:
    """A ``$project`` that only keeps top-level fields (``_id`` may be dropped): one a
    query projection expresses identically."""
    return isinstance(projection, dict) and bool(projection) and all(
        isinstance(name, str) and not name.startswith("$") and "." not in name
        and (value in (0, 1) if name == "_id" else value == 1)
        for name, value in projection.items())


# Stages that read or write another collection: a pipeline holding one runs under the lock.
_CROSS_COLLECTION_STAGES = frozenset({"$lookup", "$graphLookup", "$unionWith", "$out", "$merge"})


def _reads_only_its_input(stages: list) -> bool:
    for stage in stages:
        for name, spec in stage.items():
            if name in _CROSS_COLLECTION_STAGES:
                return False
            if name == "$facet" and not all(_reads_only_its_input(sub) for sub in spec.values()):
                return False
    return True


def _embedded_aggregate(collection: Any, pipeline: list, lock: threading.RLock) -> list[dict]:
    """``aggregate`` for the embedded engine: the same results, a fraction of the work.

    mongomock copies the whole collection (every tenant) into the first stage. A real
    server runs a leading ``$match``, and a plain ``$project`` right after it, as an
    index-backed query; run them as a query here too, so only matching documents are
    copied into the rest of the pipeline. Only that read holds the engine lock: the rest
    works on private copies, so a long aggregation does not stall every other request."""
    from mongomock.aggregate import process_pipeline

    stages = list(pipeline)
    criteria: dict = {}
    projection = None
    if stages and list(stages[0]) == ["$match"]:
        criteria = stages.pop(0)["$match"]
        if stages and list(stages[0]) == ["$project"] and _plain_inclusion(stages[0]["$project"]):
            projection = stages.pop(0)["$project"]
    with lock:
        cursor = collection.find(criteria, projection)
        # Iterating a mongomock cursor re-slices its result list on every document
        # (quadratic in the matches); materialise the results once instead.
        compute = getattr(cursor, "_compute_results", None)
        documents = list(compute()) if compute is not None else list(cursor)
        if not _reads_only_its_input(stages):
            return list(process_pipeline(documents, collection.database, stages, None))
    return list(process_pipeline(documents, collection.database, stages, None))


class _LockedCollection:
    """Proxy over a mongomock collection: every call runs under the engine-wide lock."""

    _CURSOR_METHODS = frozenset({"find"})
    _MATERIALISE = frozenset({"list_indexes", "find_raw_batches"})

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

        if attr == "bulk_write":
            collection = self._collection

            def call_bulk(operations: list, ordered: bool = True, **kwargs: Any) -> _BulkResult:
                with lock:
                    return _embedded_bulk_write(collection, list(operations), ordered, **kwargs)
            return call_bulk

        if attr == "aggregate":
            collection = self._collection

            def call_aggregate(pipeline: list, **kwargs: Any) -> Iterator[dict]:
                return iter(_embedded_aggregate(collection, pipeline, lock))
            return call_aggregate

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

            from .embedded import install_indexed_collections

            self._client = mongomock.MongoClient(tz_aware=True)
            install_indexed_collections(self._client[settings.mongo_db], list(INDEXES))
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
