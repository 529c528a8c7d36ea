"""``python -m ticketsvc db ...``: storage steps an operator runs, straight on the configured
database (``MONGO_URL``/``MONGO_DB``), no running service needed.

- ``db migrate [--shard]``: build (and on an upgrade, change) every index before the app starts.
- ``db rebuild-rollups [--tenant T]``: recompute the analytics rollups from the tickets
  (every tenant with tickets or rollups, or one); safe while the service runs (each day is
  replaced whole, idempotently).

One ``add_<subcommand>`` and one ``run_<subcommand>`` function per subcommand: a new
subcommand adds its own pair and one line to ``add_db_commands``.
"""
from __future__ import annotations

import argparse
import time
from typing import TextIO

from pymongo.errors import PyMongoError

from ..analytics import Rollups
from ..config import ConfigError, Settings
from ..domain import is_tenant_id
from ..storage import Database
from ..storage.migrate import MigrationError, migrate
from .exits import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE

EMBEDDED_NOTE = ("note: MONGO_URL=mongomock:// is the embedded engine: its data lives in one process, which "
                 "builds its own indexes at start; this run only shows what migrate does.")


def add_db_commands(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="storage steps on the configured database (MONGO_URL)")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    add_migrate(db_sub)
    add_rebuild_rollups(db_sub)


def run_db(args: argparse.Namespace, out: TextIO, err: TextIO, *, database: Database | None = None) -> int:
    """Run one ``db`` subcommand; returns the exit status. ``database`` (tests) is used as
    given and not closed; otherwise one is opened from the environment and closed."""
    return args.run_db_command(args, out, err, database=database)


# -- db migrate ---------------------------------------------------------------------------
def add_migrate(db_sub: argparse._SubParsersAction) -> None:
    migrate_cmd = db_sub.add_parser(
        "migrate", help="build every index (run before starting the app; idempotent)",
        description="Create the indexes storage/indexes.py declares, change TTLs in place, drop retired "
                    "indexes; print each step. Safe to run again: a second run only reports 'kept'.")
    migrate_cmd.add_argument("--shard", action="store_true",
                             help="then shard the tenant-data collections on {tenant_id: 1, <id>: 1} "
                                  "(needs MONGO_URL to point at a mongos)")
    migrate_cmd.set_defaults(run_db_command=run_migrate)


def run_migrate(args: argparse.Namespace, out: TextIO, err: TextIO, *, database: Database | None = None,
                settings: Settings | None = None) -> int:
    """Run ``db migrate``; returns the exit status. ``database`` (tests) is used as given, not closed."""
    try:
        settings = settings or (database.settings if database is not None else Settings.from_env())
    except ConfigError as exc:
        print(f"error: invalid configuration: {exc}", file=err)
        return EXIT_USAGE
    if settings.embedded and not args.shard:
        print(EMBEDDED_NOTE, file=err)
    where = f"{settings.describe()['mongo_url']} database {settings.mongo_db}"
    db = database if database is not None else Database(settings, long_operations=True)
    try:
        steps = migrate(db, shard=args.shard, report=lambda step: print(step, file=out, flush=True))
    except MigrationError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    except PyMongoError as exc:
        print(f"error: migrating {where} failed: {type(exc).__name__}: {exc}", file=err)
        return EXIT_UNREACHABLE if _unreachable(exc) else EXIT_FAILED
    finally:
        if database is None:
            db.close()
    changed = sum(step.action not in ("kept", "skipped") for step in steps)
    print(f"migrated {where}: {changed} change(s), {len(steps) - changed} already in place or skipped", file=err)
    return EXIT_OK


def _unreachable(exc: PyMongoError) -> bool:
    from pymongo.errors import ConnectionFailure

    return isinstance(exc, ConnectionFailure)


# -- db rebuild-rollups ---------------------------------------------------------------------
REBUILD_EMBEDDED_NOTE = ("note: MONGO_URL=mongomock:// is the embedded engine: this command sees only a database "
                         "private to its own process (empty), not a running service's. Point MONGO_URL at the "
                         "service's MongoDB.")


def add_rebuild_rollups(db_sub: argparse._SubParsersAction) -> None:
    rebuild = db_sub.add_parser("rebuild-rollups", help="recompute the analytics rollups from the tickets")
    rebuild.add_argument("--tenant", help="only this tenant (default: every tenant with tickets or rollups)")
    rebuild.set_defaults(run_db_command=run_rebuild_rollups)


def run_rebuild_rollups(args: argparse.Namespace, out: TextIO, err: TextIO, *,
                        database: Database | None = None) -> int:
    """Run ``db rebuild-rollups``; returns the exit status."""
    if args.tenant is not None and not is_tenant_id(args.tenant):
        print(f"error: --tenant: invalid tenant id {args.tenant!r}", file=err)
        return EXIT_USAGE
    try:
        settings = database.settings if database is not None else Settings.from_env()
    except ConfigError as exc:
        print(f"error: invalid configuration: {exc}", file=err)
        return EXIT_USAGE
    if database is None and settings.embedded:
        print(REBUILD_EMBEDDED_NOTE, file=err)
    try:
        db = database if database is not None else Database(settings)
        try:
            db.prepare()
            rollups = Rollups(db)
            tenants = [args.tenant] if args.tenant is not None else rollups.tenants_with_data()
            for tenant in tenants:
                started = time.monotonic()
                written = rollups.rebuild(tenant)
                print(f"{tenant}: {written} rollup buckets in {time.monotonic() - started:.1f}s", file=out)
            print(f"rebuilt the rollups of {len(tenants)} tenant(s)", file=err)
            return EXIT_OK
        finally:
            if database is None:
                db.close()
    except PyMongoError as exc:
        print(f"error: MongoDB at {settings.describe()['mongo_url']} failed: {type(exc).__name__}", file=err)
        return EXIT_UNREACHABLE
