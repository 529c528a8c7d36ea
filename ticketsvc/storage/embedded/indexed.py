"""Equality lookups for the embedded engine that do not scan the whole collection.

mongomock answers every query, every upsert and every unique-index check by testing
each stored document: a collection of n tickets makes each write O(n), and a 10,000-ticket
backfill quadratic (minutes instead of a second). A real server walks an index for the
same operations. ``IndexedCollection`` gives the embedded engine the two lookups the
service relies on:

- a filter with a plain ``_id`` value reads that one document;
- a filter with plain values for every key of a unique index reads the documents the
  index's hash table lists for those values.

It also answers ``$text``, which mongomock does not implement, for the one form the
service sends (every word quoted: all must be present; ``storage/text.py``): the fields of
the collection's text index are split into words exactly as the server's index splits
them with no language, and a document matches when it holds every word.

The table is a superset kept without hooks into every write path: each insert and each
in-place update already passes through ``_ensure_uniques`` (which mongomock calls with
the new document), where the document is registered under its current key; entries left
behind by deletions or key changes are dropped when a lookup finds they no longer match.
Every candidate is still checked with mongomock's own ``filter_applies``, so results
are exactly those of a scan.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import mongomock
from bson import ObjectId
from mongomock import DuplicateKeyError, helpers
from mongomock.filtering import filter_applies
from pymongo.errors import OperationFailure

from ..text import quoted_words, text_words

_PLAIN = (str, int, float, bool, datetime, ObjectId)


def _is_plain_value(value: Any) -> bool:
    return isinstance(value, _PLAIN)


class IndexedCollection(mongomock.Collection):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # index name -> {key tuple -> set of _ids}; built on first use of each index
        self._tables: dict[str, dict[tuple, set]] = {}
        # indexes holding an array or sub-document value somewhere: matching those needs
        # MongoDB's multikey semantics, so they are always scanned
        self._unservable: set[str] = set()

    # -- the unique indexes this helper can serve ------------------------------------
    def _hash_indexes(self) -> list[tuple[str, list[str]]]:
        found = []
        for name, spec in self._store.indexes.items():
            if spec.get("unique") and not spec.get("sparse") and spec.get("partialFilterExpression") is None \
                    and name not in self._unservable:
                found.append((name, [key for key, _ in spec["key"]]))
        return found

    @staticmethod
    def _key(document: dict, fields: list[str]) -> tuple | None:
        values = []
        for field in fields:
            try:
                value = helpers.get_value_by_dot(document, field)
            except (KeyError, IndexError, TypeError):
                value = None
            if value is not None and not _is_plain_value(value):
                return None  # arrays or sub-documents: leave those to a scan
            values.append(value)
        return tuple(values)

    def _table(self, name: str, fields: list[str]) -> dict[tuple, set]:
        table = self._tables.get(name)
        if table is None:
            table = {}
            for document in list(self._store.documents):
                key = self._key(document, fields)
                if key is None:
                    self._unservable.add(name)
                    return {}
                table.setdefault(key, set()).add(document["_id"])
            self._tables[name] = table
        return table

    def _lookup(self, name: str, fields: list[str], key: tuple) -> list[dict]:
        table = self._table(name, fields)
        ids = table.get(key)
        if not ids:
            return []
        documents = []
        for _id in list(ids):
            document = self._store[_id] if _id in self._store else None
            if document is None or self._key(document, fields) != key:
                ids.discard(_id)  # deleted, or its key changed since it was registered
            else:
                documents.append(document)
        if not ids:
            table.pop(key, None)
        return documents

    # -- mongomock hooks ------------------------------------------------------------------
    def _iter_documents(self, filter):  # noqa: A002 - mongomock's signature
        if isinstance(filter, dict) and "$text" in filter:
            return self._text_matches(filter)
        if isinstance(filter, dict) and filter:
            _id = filter.get("_id")
            if _is_plain_value(_id):
                document = self._store[_id] if _id in self._store else None
                return iter([document] if document is not None and filter_applies(filter, document) else [])
            if isinstance(_id, dict) and list(_id) == ["$in"] and isinstance(_id["$in"], (list, tuple)) \
                    and all(_is_plain_value(v) for v in _id["$in"]):
                documents = (self._store[i] for i in dict.fromkeys(_id["$in"]) if i in self._store)
                return iter([d for d in documents if filter_applies(filter, d)])
            for name, fields in self._hash_indexes():
                keys = self._keys_asked(filter, fields)
                if keys is not None:
                    seen, found = set(), []
                    for key in keys:
                        for document in self._lookup(name, fields, key):
                            if document["_id"] not in seen and filter_applies(filter, document):
                                seen.add(document["_id"])
                                found.append(document)
                    return iter(found)
        return super()._iter_documents(filter)

    def _text_matches(self, filter: dict):  # noqa: A002 - mongomock's name
        """The documents matching ``filter``, whose ``$text`` asks for every one of its words."""
        search = filter["$text"].get("$search") if isinstance(filter["$text"], dict) else None
        words = quoted_words(search) if isinstance(search, str) else None
        if words is None:
            raise NotImplementedError("the embedded engine answers $text only for all-words searches "
                                      "(every term quoted), the form storage/text.py builds")
        fields = [key for spec in self._store.indexes.values() for key, kind in spec["key"] if kind == "text"]
        if not fields:
            raise OperationFailure("text index required for $text query", code=27)
        wanted = set(words)
        rest = {key: value for key, value in filter.items() if key != "$text"}
        for document in self._iter_documents(rest):
            text = " ".join(v for v in (document.get(f) for f in fields) if isinstance(v, str))
            if wanted.issubset(text_words(text)):
                yield document

    @staticmethod
    def _keys_asked(filter: dict, fields: list[str], limit: int = 1000) -> list[tuple] | None:
        """The index keys a filter can match, when each field is a plain value or an
        ``$in`` of plain values (at most ``limit`` keys); None when it needs a scan."""
        keys: list[tuple] = [()]
        for field in fields:
            value = filter.get(field)
            if _is_plain_value(value):
                options = [value]
            elif isinstance(value, dict) and list(value) == ["$in"] and isinstance(value["$in"], (list, tuple)) \
                    and all(_is_plain_value(v) for v in value["$in"]):
                options = list(value["$in"])
            else:
                return None
            keys = [key + (option,) for key in keys for option in options]
            if len(keys) > limit:
                return None
        return keys

    def _delete(self, filter, *args: Any, **kwargs: Any):  # noqa: A002 - mongomock's signature
        # Unregister what a delete removes, so tables do not keep ids of deleted documents
        # (an audit trail pruned forever would otherwise grow them without bound).
        criteria = {} if filter is None else filter if isinstance(filter, dict) else {"_id": filter}
        doomed = list(self._iter_documents(criteria)) if self._tables else []
        deleted = super()._delete(filter, *args, **kwargs)
        for document in doomed:
            if document["_id"] in self._store:
                continue
            for name, table in self._tables.items():
                fields = [key for key, _ in self._store.indexes[name]["key"]] if name in self._store.indexes else []
                key = self._key(document, fields) if fields else None
                ids = table.get(key) if key is not None else None
                if ids is not None:
                    ids.discard(document["_id"])
                    if not ids:
                        table.pop(key, None)
        return deleted

    def create_indexes(self, indexes, session=None):
        # mongomock's create_indexes drops partialFilterExpression (a partial TTL index would
        # come out as a plain one): pass every option through create_index instead.
        names = [self.create_index(list(index.document["key"].items()), session=session,
                                   **{k: v for k, v in index.document.items() if k != "key"})
                 for index in indexes]
        for name in names:
            # A TTL index is kept as declared but never expires anything here: mongomock
            # expires by scanning every document on every read (each lookup O(n)) and ignores
            # partialFilterExpression (it would expire more than the index says). The embedded
            # engine's data ends with its process anyway; a server's TTL monitor does the expiry.
            self._store._ttl_indexes.pop(name, None)
        return names

    def _ensure_uniques(self, new_data):
        hashed = {name for name, _ in self._hash_indexes()}
        for name, fields in self._hash_indexes():
            key = self._key(new_data, fields)
            if key is None:
                self._unservable.add(name)
                self._tables.pop(name, None)
                hashed.discard(name)
                continue
            table = self._table(name, fields)
            table.setdefault(key, set()).add(new_data["_id"])
            if len(self._lookup(name, fields, key)) > 1:
                raise DuplicateKeyError("E11000 Duplicate Key Error", 11000)
        unhashed = [spec for name, spec in self._store.indexes.items()
                    if spec.get("unique") and name not in hashed]
        if unhashed:
            super()._ensure_uniques(new_data)


def install_indexed_collections(database: Any, names: list[str]) -> None:
    """Make ``database[name]`` an ``IndexedCollection`` for each name (embedded engine only)."""
    for name in names:
        database._collection_accesses[name] = IndexedCollection(
            database, name=name, read_preference=database.read_preference,
            codec_options=database.codec_options, _db_store=database._store,
        )
