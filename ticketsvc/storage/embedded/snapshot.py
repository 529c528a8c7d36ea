"""A snapshot of the embedded engine in a file, so ``make run`` keeps its data across restarts.

A convenience for the demo, not a database: the file is the whole database written at
once (on shutdown and every ``EMBEDDED_SNAPSHOT_INTERVAL_S``), so a process killed
outright loses what changed since the last write, and only one process may use a file.

Format: a sequence of BSON documents (BSON keeps datetimes and ObjectIds exactly). The
first is the header ``{"format": FORMAT, "version": VERSION, "database", "written_at",
"counts": {collection: n}}``; each following one is ``{"c": collection, "d": document}``.
A file of another format or version is refused with a ``SnapshotError`` naming the file,
never half read: a change to what the service stores bumps ``VERSION``.

The file is replaced atomically (written beside it, flushed to disk, renamed over it), so a
crash mid-write leaves the previous snapshot whole.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import bson
from bson.codec_options import CodecOptions

from ...config import ConfigError

log = logging.getLogger(__name__)

FORMAT = "ticketsvc-embedded-snapshot"
VERSION = 1
# The embedded engine keeps datetimes as naive UTC: read them back the same way.
_CODEC = CodecOptions(tz_aware=False)


class SnapshotError(ConfigError):
    """The snapshot file cannot be used (another format or version, unreadable); the
    message names the file and what to do. A ``ConfigError``: the service refuses to start."""


class EmbeddedSnapshot:
    """Writes and loads one embedded database (a mongomock database) to and from ``path``.

    ``lock`` is the engine's lock: a snapshot is taken under it, so it is consistent.
    """

    def __init__(self, path: str | os.PathLike, database: Any, lock: Any):
        self.path = Path(path)
        self.database = database
        self.lock = lock
        # Saving is allowed only after a successful load (or a first start with no file):
        # a refused file must never be overwritten by the empty database that refused it.
        self.loaded = False

    def load(self) -> dict[str, int] | None:
        """Load the file into the (empty) database; None when there is no file yet.
        Raises ``SnapshotError`` for a file of another format or version or an unreadable one."""
        if not self.path.exists():
            log.info("embedded snapshot: no file at %s yet; starting empty", self.path)
            self.loaded = True
            return None
        started = time.perf_counter()
        try:
            with self.path.open("rb") as handle:
                documents = bson.decode_file_iter(handle, _CODEC)
                header = next(documents, None)
                self._check_header(header)
                counts: dict[str, int] = {}
                with self.lock:
                    for entry in documents:
                        store = self.database[entry["c"]]._store
                        document = entry["d"]
                        store[document["_id"]] = document
                        counts[entry["c"]] = counts.get(entry["c"], 0) + 1
        except SnapshotError:
            raise
        except (bson.errors.BSONError, KeyError, TypeError, OSError) as exc:
            raise SnapshotError(f"EMBEDDED_DATA_FILE={self.path} cannot be read ({type(exc).__name__}: {exc}); "
                                "move it aside to start empty") from None
        expected = {name: n for name, n in header.get("counts", {}).items() if n}
        if counts != expected:
            raise SnapshotError(f"EMBEDDED_DATA_FILE={self.path} is incomplete (header says {header['counts']}, "
                                f"file holds {counts}); move it aside to start empty")
        self.loaded = True
        log.info("embedded snapshot loaded path=%s written_at=%s documents=%d in %.2fs", self.path,
                 header.get("written_at"), sum(counts.values()), time.perf_counter() - started)
        return counts

    def _check_header(self, header: dict | None) -> None:
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise SnapshotError(f"EMBEDDED_DATA_FILE={self.path} is not a ticketsvc embedded snapshot; "
                                "move it aside or point EMBEDDED_DATA_FILE elsewhere")
        if header.get("version") != VERSION:
            raise SnapshotError(
                f"EMBEDDED_DATA_FILE={self.path} is a version {header.get('version')!r} snapshot and this "
                f"service reads version {VERSION} only: it would be misread, so it is not loaded. Move it aside "
                "to start empty (re-ingest to fill it again)")

    def save(self) -> dict[str, int] | None:
        """Write the whole database to the file, atomically; returns documents per
        collection (None, writing nothing, when the file was never loaded)."""
        if not self.loaded:
            log.warning("embedded snapshot not written: %s was not loaded, so it is left as it is", self.path)
            return None
        started = time.perf_counter()
        chunks: list[bytes] = []
        counts: dict[str, int] = {}
        with self.lock:  # encode under the lock: a consistent copy, no document copied twice
            for name in sorted(self.database.list_collection_names()):
                before = len(chunks)
                chunks.extend(bson.encode({"c": name, "d": document}) for document in self.database[name]._store.documents)
                counts[name] = len(chunks) - before
        header = bson.encode({"format": FORMAT, "version": VERSION, "database": self.database.name,
                              "written_at": datetime.now(timezone.utc), "counts": counts})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(header)
                for chunk in chunks:
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _fsync_directory(self.path.parent)
        log.info("embedded snapshot written path=%s documents=%d bytes=%d in %.2fs", self.path,
                 sum(counts.values()), self.path.stat().st_size, time.perf_counter() - started)
        return counts


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (where the platform allows opening a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
