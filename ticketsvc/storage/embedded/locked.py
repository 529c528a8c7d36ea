"""The embedded engine's thread safety and the shortcuts that keep it usable.

mongomock is not thread-safe: these proxies serialise every operation behind one
process-wide lock, which also gives ``find_one_and_update`` and upserts the per-document
atomicity a real server guarantees. They also answer a few operations the way an index
would (sorted pages, a leading ``$match``), where mongomock would copy every document.
Nothing outside ``storage/embedded`` depends on mongomock's internals.
"""
from __future__ import annotations

import threading
from typing import Any, Iterator

class _LockedCursor:
    """A cursor of the embedded engine whose results are computed under the engine lock."""

    def __init__(self, cursor: Any, lock: threading.RLock):
        self._cursor = cursor
        self._lock = lock
        self._batch = _DEFAULT_BATCH

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

    def batch_size(self, size: int) -> "_LockedCursor":
        self._batch = max(1, int(size))
        return self

    def __iter__(self) -> Iterator[dict]:
        with self._lock:
            ids = _sorted_ids(self._cursor)
            if ids is None:
                # Materialise once: stepping a mongomock cursor re-slices its result list
                # on every document, quadratic in the number of results.
                compute = getattr(self._cursor, "_compute_results", None)
                rows = list(compute(with_limit_and_skip=True)) if compute is not None else list(self._cursor)
                return iter(rows)
        return self._fetch_in_batches(ids, self._batch)

    def _fetch_in_batches(self, ids: list, batch: int) -> Iterator[dict]:
        """The documents of ``ids`` in order, copied ``batch`` at a time, each batch under
        the lock: a long sorted read (an export) holds one batch of copies, not all of
        them, and lets other requests in between batches, as a server's cursor does. A
        document deleted meanwhile is skipped; one updated meanwhile is read as it is now."""
        projection = dict(self._cursor._projection or {})
        hide_id = projection.pop("_id", 1) in (0, False)
        collection = self._cursor.collection
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            with self._lock:
                found = {doc["_id"]: doc for doc in
                         collection.find({"_id": {"$in": chunk}}, projection or None)._compute_results()}
            for _id in chunk:
                doc = found.get(_id)
                if doc is not None:
                    if hide_id:
                        doc.pop("_id", None)
                    yield doc

    def close(self) -> None:
        pass


# Documents copied at a time by a sorted read without a batch size.
_DEFAULT_BATCH = 1000


def _sorted_ids(cursor: Any) -> list | None:
    """The ``_id``s of a sorted cursor's results (skip and limit applied), read as an index
    would serve them: sort and cut on the sort keys of the stored documents, copying none.
    mongomock copies every matching document (all fields) before it sorts, which made a
    20-ticket page of a 4,000-ticket tenant cost ~200 ms, and an export of every ticket
    hold them all at once. None when the cursor is not sorted on plain keys."""
    sort, limit = getattr(cursor, "_sort", None), getattr(cursor, "_limit", None)
    spec = getattr(cursor, "_spec", None)
    if not sort or (limit is not None and limit < 0) or not isinstance(spec, dict):
        return None
    from mongomock.filtering import resolve_sort_key

    if any(key.startswith("$") for key, _ in sort):
        return None
    # The stored documents themselves (no copies), ordered exactly as mongomock orders a
    # cursor: one stable sort per key, the last key first.
    matches = list(cursor.collection._iter_documents(spec))
    for key, direction in reversed(list(sort)):
        matches.sort(key=lambda doc, key=key: resolve_sort_key(key, doc), reverse=direction < 0)
    skip = cursor._skip or 0
    end = skip + limit if limit else None  # limit 0 means none, as in MongoDB
    return [doc["_id"] for doc in matches[skip:end]]


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

        if attr == "distinct":
            def call_distinct(*args: Any, maxTimeMS: int | None = None, **kwargs: Any) -> Any:
                with lock:  # mongomock's distinct takes no time limit (the embedded engine has none)
                    return target(*args, **kwargs)
            return call_distinct

        if attr in self._MATERIALISE:
            def call_list(*args: Any, **kwargs: Any) -> Iterator[dict]:
                with lock:
                    return iter(list(target(*args, **kwargs)))
            return call_list

        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return target(*args, **kwargs)
        return call


class LockedDatabase:
    def __init__(self, database: Any, lock: threading.RLock):
        self._database = database
        self._lock = lock

    @property
    def lock(self) -> threading.RLock:
        """The engine-wide lock every operation holds."""
        return self._lock

    def __getitem__(self, name: str) -> _LockedCollection:
        return _LockedCollection(self._database[name], self._lock)

    def get_collection(self, name: str, **_options: Any) -> _LockedCollection:
        """The collection; write concern and read preference mean nothing to one in-process node."""
        return self[name]

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
            if name == "collMod" and set(kwargs) == {"index"}:
                return _retime_index(self._database, args[0], kwargs["index"])
            return self._database.command(name, *args, **kwargs)


def _retime_index(database: Any, collection: str, index: dict) -> dict:
    """``collMod`` changing a TTL index's ``expireAfterSeconds`` (mongomock lacks collMod).
    The embedded engine never expires documents; it keeps the declared spec, as a server would."""
    spec = database[collection]._store.indexes.get(index["name"])
    if spec is None:
        from pymongo.errors import OperationFailure

        raise OperationFailure(f"index not found with name [{index['name']}]", 27)
    old = spec.get("expireAfterSeconds")
    spec["expireAfterSeconds"] = index["expireAfterSeconds"]
    return {"expireAfterSeconds_old": old, "expireAfterSeconds_new": index["expireAfterSeconds"], "ok": 1.0}
