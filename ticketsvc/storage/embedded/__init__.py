"""The embedded engine (``MONGO_URL=mongomock://``): mongomock made thread-safe and fast
enough to serve the service in one process. Everything that depends on mongomock's
internals is quarantined in this package."""
from __future__ import annotations

import threading
from typing import Any

from .indexed import install_indexed_collections
from .locked import LockedDatabase
from .stages import install as install_stages


def open_embedded(database_name: str, collections: list[str]) -> tuple[Any, LockedDatabase]:
    """A new in-process client and its database, with indexed lookups for ``collections``,
    linear ``$unwind`` and ``$group``, and every operation serialised behind one lock (per-document
    atomicity, as a server)."""
    import mongomock

    install_stages()
    client = mongomock.MongoClient(tz_aware=True)
    install_indexed_collections(client[database_name], collections)
    return client, LockedDatabase(client[database_name], threading.RLock())
