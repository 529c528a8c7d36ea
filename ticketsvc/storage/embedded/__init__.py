"""The embedded engine (``MONGO_URL=mongomock://``): mongomock made thread-safe and fast
enough to serve the service in one process. Everything that depends on mongomock's
internals is quarantined in this package."""
from __future__ import annotations

import threading
from typing import Any

from .indexed import install_indexed_collections
from .locked import LockedDatabase
from .snapshot import EmbeddedSnapshot, SnapshotError
from .stages import install as install_stages

__all__ = ["EmbeddedSnapshot", "LockedDatabase", "SnapshotError", "open_embedded"]


def open_embedded(database_name: str, collections: list[str],
                  data_file: str | None = None) -> tuple[Any, LockedDatabase, EmbeddedSnapshot | None]:
    """A new in-process client and its database, with indexed lookups for ``collections``,
    linear ``$unwind`` and ``$group``, and every operation serialised behind one lock (per-document atomicity, as a server);
    with ``data_file``, the snapshot that loads and saves it there (no I/O yet)."""
    import mongomock

    install_stages()
    client = mongomock.MongoClient(tz_aware=True)
    install_indexed_collections(client[database_name], collections)
    lock = threading.RLock()
    snapshot = EmbeddedSnapshot(data_file, client[database_name], lock) if data_file else None
    return client, LockedDatabase(client[database_name], lock), snapshot
