"""``python -m ticketsvc keys create|list|revoke``: API keys, straight in the configured database.

This is how the first admin key of a deployment is made (before any key exists, the HTTP
API cannot be called). It talks to MongoDB directly (``MONGO_URL``/``MONGO_DB``), so it
needs no running service; with the embedded engine it can only reach a database private
to its own process, and says so.

``create`` prints the key alone on stdout (``KEY=$(python -m ticketsvc keys create ...)``)
and what it made on stderr.
"""
from __future__ import annotations

import argparse
from types import MappingProxyType
from typing import Callable, Mapping, TextIO

from pymongo.errors import PyMongoError

from ..auth.keys import ApiKeyStore
from ..clock import Clock, SystemClock, isoformat_z
from ..config import ConfigError, Settings
from ..domain import PageRequest
from ..errors import Conflict, NotFound, ServiceError
from ..storage import Database
from .exits import EXIT_CONFLICT, EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE

EMBEDDED_NOTE = (
    "note: MONGO_URL=mongomock:// is the embedded engine: keys made here live only in this process and are "
    "gone when it exits; a running service cannot see them. Use the service's HTTP API instead "
    "(POST /admin/api-keys with an admin key, e.g. ADMIN_API_KEY), or point MONGO_URL at the service's MongoDB."
)
PAGE_SIZE = 100


def run_keys(args: argparse.Namespace, out: TextIO, err: TextIO, *, database: Database | None = None,
             settings: Settings | None = None, clock: Clock | None = None) -> int:
    """Run one ``keys`` subcommand; returns the exit status.

    ``database`` (tests, or a caller that already holds one) is used as given and not
    closed; otherwise one is opened from ``settings`` (default: the environment) and closed.
    """
    try:
        settings = settings or (database.settings if database is not None else Settings.from_env())
    except ConfigError as exc:
        print(f"error: invalid configuration: {exc}", file=err)
        return EXIT_USAGE
    owns_database = database is None
    if owns_database and settings.embedded:
        print(EMBEDDED_NOTE, file=err)
    try:
        db = database if database is not None else Database(settings)
        try:
            # The embedded engine builds its indexes here; on a server `db migrate` built them
            # (key_hash and key_id unique) and this only checks, warning if it was not run.
            db.prepare()
            store = ApiKeyStore(db, clock or SystemClock(), admin_key_configured=settings.admin_api_key is not None)
            return _COMMANDS[args.keys_command](store, args, out, err)
        finally:
            if owns_database:
                db.close()
    except PyMongoError as exc:
        print(f"error: MongoDB at {settings.describe()['mongo_url']} failed: {type(exc).__name__}", file=err)
        return EXIT_UNREACHABLE
    except ServiceError as exc:
        print(f"error: {exc.message}", file=err)
        if isinstance(exc, NotFound):
            return EXIT_FAILED
        if isinstance(exc, Conflict):
            return EXIT_CONFLICT
        return EXIT_USAGE


def _create(store: ApiKeyStore, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    record, secret = store.create(name=args.name, tenant_id=args.tenant, admin=args.admin, actor="cli")
    print(secret, file=out)
    print(f"created {record['key_id']} ({_scope(record)}, name {record['name']!r}) at "
          f"{isoformat_z(record['created_at'])}", file=err)
    print("This is the only time the key is shown: store it now. Only its SHA-256 hash is kept.", file=err)
    return EXIT_OK


def _list(store: ApiKeyStore, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    rows: list[dict] = []
    page = 1
    while True:
        batch = store.list(PageRequest(page, PAGE_SIZE))
        rows.extend(batch.items)
        if not batch.items or len(rows) >= batch.total:
            break
        page += 1
    table = [("KEY_ID", "SCOPE", "NAME", "CREATED_AT", "LAST_USED_AT", "REVOKED_AT")]
    table += [(r["key_id"], _scope(r), r["name"], isoformat_z(r["created_at"]) or "-",
               isoformat_z(r["last_used_at"]) or "-", isoformat_z(r["revoked_at"]) or "-") for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip(), file=out)
    print(f"{len(rows)} key(s)", file=err)
    return EXIT_OK


def _revoke(store: ApiKeyStore, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    record = store.revoke(args.key_id, actor="cli")
    print(f"revoked {record['key_id']} ({_scope(record)}, name {record['name']!r}) at "
          f"{isoformat_z(record['revoked_at'])}", file=out)
    return EXIT_OK


def _scope(record: dict) -> str:
    return "admin" if record["admin"] else f"tenant {record['tenant_id']}"


_COMMANDS: Mapping[str, Callable[[ApiKeyStore, argparse.Namespace, TextIO, TextIO], int]] = MappingProxyType({
    "create": _create,
    "list": _list,
    "revoke": _revoke,
})
