"""Database: the process's one MongoDB client and the collections the service uses.

``MONGO_URL=mongomock://`` selects the embedded engine (``storage/embedded``: in-process,
no server); anything else is a real MongoDB. Business code sees the same pymongo-shaped
API either way. Building a ``Database`` does no I/O; ``prepare()`` is the one storage
step of start-up, and the factory names it.

On a replica set, the coordination collections (``COORDINATION``) are written with write
concern ``majority`` and read from the primary whatever ``MONGO_URL`` says: a lease, a
rate-limit slot, a claim or a key revocation acknowledged by one node only could be rolled
back by a failover, and a secondary may not have seen it yet. Tenant data (tickets, history)
follows ``MONGO_URL``'s options, so an operator may send those reads to secondaries.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

import pymongo
from pymongo import ReadPreference, WriteConcern

from ..clock import utc
from ..config import Settings
from .bounded import BoundedCollection
from .indexes import INDEXES
from .migrate import migrate, missing_indexes

# Collections whose reads decide (a lease, a slot, a claim read-back, the cancel flag, a key)
# and whose writes must survive a failover.
COORDINATION = frozenset({"locks", "rate_limits", "circuit_breakers", "notifications", "tenants", "api_keys",
                          "ingestion_logs"})

log = logging.getLogger(__name__)


class Database:
    """The process's storage handle: owns the client, exposes collections, pings, closes.

    Build one per process after fork (gunicorn ``post_worker_init``) and ``close()`` it on
    exit. Tests may pass one ``Database`` to several apps to simulate several workers.
    """

    def __init__(self, settings: Settings, *, long_operations: bool = False):
        """``long_operations`` (``db migrate``): no socket timeout, since building an index on
        a populated collection takes minutes and the server answers only when it is done."""
        self.settings = settings
        self.engine = settings.engine
        # The embedded engine's data lives in this process, so nobody else can build its indexes.
        self.migrates_at_start = settings.embedded
        if settings.embedded:
            from .embedded import open_embedded

            self._client, self.db, self.snapshot = open_embedded(
                settings.mongo_db, list(INDEXES), settings.embedded_data_file)
        else:
            self.snapshot = None
            self._client = pymongo.MongoClient(
                settings.mongo_url,
                tz_aware=True,
                maxPoolSize=settings.mongo_pool_size,
                serverSelectionTimeoutMS=settings.mongo_server_selection_timeout_ms,
                connectTimeoutMS=settings.mongo_connect_timeout_ms,
                socketTimeoutMS=None if long_operations else settings.mongo_socket_timeout_ms,
                appname="ticketsvc",
            )
            self.db = self._client[settings.mongo_db]
        # Below the socket timeout, so the server reports a slow majority instead of the socket failing.
        self._majority = WriteConcern("majority", wtimeout=max(1, settings.mongo_socket_timeout_ms * 4 // 5))
        self._collections: dict[str, BoundedCollection] = {}
        self._closed = False

    @property
    def client(self) -> Any:
        return self._client

    def collection(self, name: str) -> Any:
        """The collection ``name``: reads bounded while a read limit is open (``storage.bounded``);
        for coordination collections, majority writes and primary reads."""
        handle = self._collections.get(name)
        if handle is None:
            if name in COORDINATION:
                raw = self.db.get_collection(name, write_concern=self._majority,
                                             read_preference=ReadPreference.PRIMARY)
            else:
                raw = self.db[name]
            handle = self._collections[name] = BoundedCollection(raw)
        return handle

    def __getitem__(self, name: str) -> Any:
        return self.collection(name)

    @property
    def tickets(self) -> Any:
        return self.collection("tickets")

    @property
    def ticket_history(self) -> Any:
        return self.collection("ticket_history")

    @property
    def ingestion_logs(self) -> Any:
        return self.collection("ingestion_logs")

    @property
    def locks(self) -> Any:
        return self.collection("locks")

    @property
    def notifications(self) -> Any:
        return self.collection("notifications")

    @property
    def circuit_breakers(self) -> Any:
        return self.collection("circuit_breakers")

    @property
    def rate_limits(self) -> Any:
        return self.collection("rate_limits")

    @property
    def stats_rollups(self) -> Any:
        return self.collection("stats_rollups")

    @property
    def stats_customer_rollups(self) -> Any:
        return self.collection("stats_customer_rollups")

    @property
    def tenants(self) -> Any:
        return self.collection("tenants")

    @property
    def api_keys(self) -> Any:
        return self.collection("api_keys")

    def prepare(self) -> dict[str, list[str]]:
        """Start-up: the embedded engine migrates in-process; on a real server a worker only
        checks that the indexes exist, logs any missing by name, and never builds one (that
        is ``python -m ticketsvc db migrate``'s job). Returns the missing ones by collection.
        On the embedded engine with ``EMBEDDED_DATA_FILE``, the snapshot is loaded first
        (``SnapshotError``, a ``ConfigError``, when the file cannot be used)."""
        if self.snapshot is not None:
            self.snapshot.load()
        if self.migrates_at_start:
            migrate(self)
            log.info("indexes migrated in-process engine=%s", self.engine)
            return {}
        missing = missing_indexes(self)
        for collection, names in missing.items():
            for name in names:
                log.warning("index missing or out of date: %s.%s (run `python -m ticketsvc db migrate`)",
                            collection, name)
        if not missing:
            log.info("indexes verified engine=%s", self.engine)
        return missing

    def server_time(self) -> datetime | None:
        """The server's clock (``hello``'s ``localTime``, from the primary), or None on the
        embedded engine, whose server is this process (``storage.servertime``)."""
        if self.settings.embedded:
            return None
        return utc(self._client.admin.command("hello")["localTime"])

    def ping(self) -> float:
        """Round-trip to the server; returns milliseconds, raises on failure."""
        started = time.perf_counter()
        self.db.command("ping")
        return (time.perf_counter() - started) * 1000.0

    def save_snapshot(self) -> None:
        """Write the embedded engine's snapshot now (no-op without one); a failure is
        logged, never raised: the service keeps serving, the previous file stays whole."""
        if self.snapshot is None or self._closed:
            return
        try:
            self.snapshot.save()
        except Exception:
            log.exception("embedded snapshot failed path=%s", self.snapshot.path)

    def close(self) -> None:
        """Release the client; the embedded engine writes its snapshot first."""
        if not self._closed:
            self.save_snapshot()
            self._closed = True
            self._client.close()
