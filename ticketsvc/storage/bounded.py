"""Server-side time limits on the reads the API serves, and what exceeding one means.

The API layer opens a limit for the request (``limit_reads``; the app does it for every
request). While it is open, every read through a ``Database`` collection (``find``,
``find_one``, ``count_documents``, ``aggregate``, ``distinct``) carries ``maxTimeMS``, so
MongoDB stops a slow listing or stats read itself instead of working on while the client
times out and the dashboard retries pile up. A read that exceeds it raises
``errors.Unavailable`` (a 503 with ``Retry-After``): this module is the one place pymongo's
``ExecutionTimeout`` becomes a service error. Background work (ingestion, delivery, the
reaper) opens no limit: its reads are bounded by the socket timeout alone.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any, Iterator

from pymongo.errors import ExecutionTimeout

from ..errors import Unavailable

_LIMIT_MS: ContextVar[int | None] = ContextVar("ticketsvc_read_limit_ms", default=None)

# The reads a limit applies to, and the keyword each takes it as.
_CURSOR_READS = {"find": "max_time_ms"}
_READS = {"find_one": "max_time_ms", "count_documents": "maxTimeMS", "aggregate": "maxTimeMS",
          "distinct": "maxTimeMS"}


def limit_reads(max_time_ms: int) -> Token:
    """Bound every read of this context (a request) to ``max_time_ms`` on the server; hand
    the token to ``end_read_limit`` when the request ends."""
    return _LIMIT_MS.set(max_time_ms)


def end_read_limit(token: Token) -> None:
    _LIMIT_MS.reset(token)


@contextmanager
def read_limit(max_time_ms: int) -> Iterator[None]:
    token = limit_reads(max_time_ms)
    try:
        yield
    finally:
        end_read_limit(token)


def current_read_limit() -> int | None:
    return _LIMIT_MS.get()


@contextmanager
def _translated(limit_ms: int) -> Iterator[None]:
    try:
        yield
    except ExecutionTimeout as exc:
        raise Unavailable(f"the database did not answer within {limit_ms} ms; try again shortly",
                          retry_after=max(1, math.ceil(limit_ms / 1000))) from exc


def _bounded_iter(results: Any, limit_ms: int) -> Iterator[dict]:
    iterator = iter(results)
    while True:
        with _translated(limit_ms):
            try:
                row = next(iterator)
            except StopIteration:
                return
        yield row


class BoundedCursor:
    """A cursor whose results, read under a limit, raise ``Unavailable`` past it."""

    def __init__(self, cursor: Any, limit_ms: int):
        self._cursor = cursor
        self._limit_ms = limit_ms

    def _chain(self, name: str, *args: Any, **kwargs: Any) -> "BoundedCursor":
        self._cursor = getattr(self._cursor, name)(*args, **kwargs)
        return self

    def sort(self, *args: Any, **kwargs: Any) -> "BoundedCursor":
        return self._chain("sort", *args, **kwargs)

    def skip(self, *args: Any, **kwargs: Any) -> "BoundedCursor":
        return self._chain("skip", *args, **kwargs)

    def limit(self, *args: Any, **kwargs: Any) -> "BoundedCursor":
        return self._chain("limit", *args, **kwargs)

    def __iter__(self) -> Iterator[dict]:
        return _bounded_iter(self._cursor, self._limit_ms)

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._cursor, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            result = target(*args, **kwargs)
            # a chained modifier (hint, batch_size, ...) keeps the results bounded
            return self if result is self._cursor else result
        return call


class BoundedCollection:
    """A collection whose reads carry the open limit (if any); everything else passes through."""

    def __init__(self, collection: Any):
        self._inner = collection

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if name not in _READS and name not in _CURSOR_READS:
            return target

        def read(*args: Any, **kwargs: Any) -> Any:
            limit_ms = _LIMIT_MS.get()
            if limit_ms is None:
                return target(*args, **kwargs)
            kwargs.setdefault(_READS.get(name) or _CURSOR_READS[name], limit_ms)
            with _translated(limit_ms):
                result = target(*args, **kwargs)
                if name in _CURSOR_READS:
                    return BoundedCursor(result, limit_ms)
                if name == "aggregate":
                    return _bounded_iter(result, limit_ms)  # later batches are read under the limit too
                return result
        return read
