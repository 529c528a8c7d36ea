"""``python -m ticketsvc db ...``: storage maintenance, straight in the configured database
(``MONGO_URL``/``MONGO_DB``), no running service needed.

- ``db rebuild-rollups [--tenant T]``: recompute the analytics rollups from the tickets
  (every tenant with tickets or rollups, or one); safe while the service runs (each day is
  replaced whole, idempotently).

Each subcommand is a function in ``COMMANDS`` taking (database, args, out, err) and returning
the exit status; ``add_parser`` declares its arguments. Add one by adding both.
"""
from __future__ import annotations

import argparse
import time
from types import MappingProxyType
from typing import Callable, Mapping, TextIO

from pymongo.errors import PyMongoError

from ..analytics import Rollups
from ..config import ConfigError, Settings
from ..domain import is_tenant_id
from ..storage import Database
from .exits import EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE

EMBEDDED_NOTE = ("note: MONGO_URL=mongomock:// is the embedded engine: this command sees only a database "
                 "private to its own process (empty), not a running service's. Point MONGO_URL at the "
                 "service's MongoDB.")


def add_parser(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="storage maintenance in the configured database (MONGO_URL)")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    rebuild = db_sub.add_parser("rebuild-rollups", help="recompute the analytics rollups from the tickets")
    rebuild.add_argument("--tenant", help="only this tenant (default: every tenant with tickets or rollups)")


def _rebuild_rollups(database: Database, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.tenant is not None and not is_tenant_id(args.tenant):
        print(f"error: --tenant: invalid tenant id {args.tenant!r}", file=err)
        return EXIT_USAGE
    rollups = Rollups(database)
    tenants = [args.tenant] if args.tenant is not None else rollups.tenants_with_data()
    for tenant in tenants:
        started = time.monotonic()
        written = rollups.rebuild(tenant)
        print(f"{tenant}: {written} rollup buckets in {time.monotonic() - started:.1f}s", file=out)
    print(f"rebuilt the rollups of {len(tenants)} tenant(s)", file=err)
    return EXIT_OK


COMMANDS: Mapping[str, Callable[[Database, argparse.Namespace, TextIO, TextIO], int]] = MappingProxyType({
    "rebuild-rollups": _rebuild_rollups,
})


def run_db(args: argparse.Namespace, out: TextIO, err: TextIO, *, database: Database | None = None) -> int:
    """Run one ``db`` subcommand; returns the exit status. ``database`` (tests) is used as
    given and not closed; otherwise one is opened from the environment and closed."""
    try:
        settings = database.settings if database is not None else Settings.from_env()
    except ConfigError as exc:
        print(f"error: invalid configuration: {exc}", file=err)
        return EXIT_USAGE
    if database is None and settings.embedded:
        print(EMBEDDED_NOTE, file=err)
    try:
        db = database if database is not None else Database(settings)
        try:
            db.prepare()
            return COMMANDS[args.db_command](db, args, out, err)
        finally:
            if database is None:
                db.close()
    except PyMongoError as exc:
        print(f"error: MongoDB at {settings.describe()['mongo_url']} failed: {type(exc).__name__}", file=err)
        return EXIT_UNREACHABLE
