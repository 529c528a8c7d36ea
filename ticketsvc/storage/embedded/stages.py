"""Two aggregation stages of the embedded engine, made linear where mongomock's are not.

``$unwind`` copies only what it changes. 
mongomock's own ``$unwind`` deep-copies the whole document once per array element, so
unwinding an array of n entries costs O(n x document size): quadratic in the array, which
made reading one rollup bucket with a few thousand customer entries take seconds. This one
gives each output document fresh dicts along the unwound path only (the document, and each
sub-document on the way to the array) and shares everything else with its siblings, as a
server's copy-on-write documents do.

Sharing is safe because no stage the service uses writes into a sub-document of its input:
``$project`` and ``$group`` build new documents, ``$match``/``$sort``/``$limit`` pass them
through, ``$facet`` hands the same inputs to each sub-pipeline (mongomock's own behaviour).
mongomock's ``$addFields`` with a dotted field is the exception (it writes into the shared
sub-document); do not combine it with ``$unwind``.

``$group`` is mongomock's own, given its input pre-sorted: mongomock sorts the documents
by group key with a BSON comparator written in Python (tens of microseconds a comparison,
n log n of them). Sorting first with a plain Python key that orders simple values as BSON
does (null, numbers, strings, in that order) leaves mongomock's sort one pass over sorted
input. The result is mongomock's either way: the pre-sort only saves comparisons, and
values it cannot rank (dates, documents, mixed shapes) are left in their order.
"""
from __future__ import annotations

from typing import Any

_MISSING = object()


def _value(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        if not isinstance(doc, dict) or part not in doc:
            return _MISSING
        doc = doc[part]
    return doc


def _with_value(doc: dict, parts: list[str], value: Any) -> dict:
    """A copy of ``doc`` with ``parts`` set to ``value``: new dicts along the path only."""
    top = dict(doc)
    current = top
    for part in parts[:-1]:
        current[part] = dict(current[part])
        current = current[part]
    current[parts[-1]] = value
    return top


def unwind_stage(in_collection: list, unused_database: Any, options: Any) -> list:
    """mongomock's ``$unwind`` semantics (a path string, or ``{path, preserveNullAndEmptyArrays,
    includeArrayIndex}``) over plain dict paths; anything else goes to mongomock's own."""
    from mongomock.aggregate import _handle_unwind_stage

    spec = options if isinstance(options, dict) else {"path": options}
    path = spec.get("path")
    index_field = spec.get("includeArrayIndex")
    if not isinstance(path, str) or not path.startswith("$") or (index_field and "." in index_field):
        return _handle_unwind_stage(in_collection, unused_database, options)
    parts = path[1:].split(".")
    preserve = spec.get("preserveNullAndEmptyArrays")
    out = []
    for doc in in_collection:
        value = _value(doc, parts)
        if value is _MISSING and any(isinstance(_value(doc, parts[:i]), list) for i in range(1, len(parts))):
            # A path through an array: mongomock's semantics, the slow way.
            out.extend(_handle_unwind_stage([doc], unused_database, options))
            continue
        if value is _MISSING or value is None or value == []:
            if preserve:
                out.append(_with_value(doc, parts, _MISSING) if value == [] else doc)
                if value == []:
                    _drop(out[-1], parts)
            continue
        items = enumerate(value) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            new = _with_value(doc, parts, item)
            if index_field:
                new[index_field] = index
            out.append(new)
    return out


_RANKS = ((type(None), 0), (bool, 3), (int, 1), (float, 1), (str, 2))


def _rank(value: Any) -> tuple | None:
    for kind, rank in _RANKS:
        if isinstance(value, kind):
            return (rank, value if rank else 0)
    return None


def _presort_key(group_id: Any):
    """A fast sort key for documents by the group ``_id`` spec, or None when it has none."""
    if isinstance(group_id, str) and group_id.startswith("$") and not group_id.startswith("$$"):
        paths = [group_id[1:].split(".")]
    elif isinstance(group_id, dict) and group_id and all(
            isinstance(v, str) and v.startswith("$") and not v.startswith("$$") and not k.startswith("$")
            for k, v in group_id.items()):
        paths = [v[1:].split(".") for v in group_id.values()]
    else:
        return None

    def key(doc: dict) -> tuple:
        ranks = []
        for parts in paths:
            value = _value(doc, parts)
            rank = _rank(None if value is _MISSING else value)
            if rank is None:
                raise _Unrankable
            ranks.append(rank)
        return tuple(ranks)
    return key


class _Unrankable(Exception):
    pass


def group_stage(in_collection: list, database: Any, options: Any) -> list:
    """mongomock's ``$group``, on input already in (nearly) its sort order."""
    from mongomock.aggregate import _handle_group_stage

    key = _presort_key(options.get("_id")) if isinstance(options, dict) else None
    if key is not None and len(in_collection) > 1:
        try:
            in_collection = sorted(in_collection, key=key)
        except (_Unrankable, TypeError):
            pass
    return _handle_group_stage(in_collection, database, options)


def _drop(doc: dict, parts: list[str]) -> None:
    for part in parts[:-1]:
        doc = doc[part]
    del doc[parts[-1]]


def install() -> None:
    """Use these stages in every embedded aggregation (idempotent)."""
    from mongomock import aggregate

    aggregate._PIPELINE_HANDLERS["$unwind"] = unwind_stage
    aggregate._PIPELINE_HANDLERS["$group"] = group_stage
