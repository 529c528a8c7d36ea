"""Database: the process's one MongoDB client and the collections the service uses.

``MONGO_URL=mongomock://`` selects the embedded engine (``storage/embedded``: in-process,
no server); anything else is a real MongoDB. Business code sees the same pymongo-shaped
API either way. Building a ``Database`` does no I/O; ``prepare()`` is the one storage
write of start-up, and the factory names it.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import pymongo

from ..config import Settings
from .indexes import INDEXES

log = logging.getLogger(__name__)


class Database:
    """The process's storage handle: owns the client, exposes collections, pings, closes.

    Build one per process after fork (gunicorn ``post_worker_init``) and ``close()`` it on
    exit. Tests may pass one ``Database`` to several apps to simulate several workers.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = settings.engine
        if settings.embedded:
            from .embedded import open_embedded

            self._client, self.db = open_embedded(settings.mongo_db, list(INDEXES))
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
    def stats_rollups(self) -> Any:
        return self.db["stats_rollups"]

    @property
    def stats_customer_rollups(self) -> Any:
        return self.db["stats_customer_rollups"]

    @property
    def tenants(self) -> Any:
        return self.db["tenants"]

    @property
    def api_keys(self) -> Any:
        return self.db["api_keys"]

    def prepare(self) -> None:
        """Create every index in ``INDEXES``: the one storage write of start-up (idempotent)."""
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
