"""``python -m ticketsvc db ...``: storage steps an operator runs, straight on the configured
database (``MONGO_URL``/``MONGO_DB``), no running service needed.

One ``add_<subcommand>`` and one ``run_<subcommand>`` function per subcommand: a new
subcommand adds its own pair and one line to ``add_db_commands``.
"""
from __future__ import annotations

import argparse
from typing import TextIO

from pymongo.errors import PyMongoError

from ..config import ConfigError, Settings
from ..storage import Database
from ..storage.migrate import MigrationError, migrate
from .exits import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE

EMBEDDED_NOTE = ("note: MONGO_URL=mongomock:// is the embedded engine: its data lives in one process, which "
                 "builds its own indexes at start; this run only shows what migrate does.")


def add_db_commands(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="storage steps on the configured database (MONGO_URL)")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    add_migrate(db_sub)


def run_db(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return args.run_db_command(args, out, err)


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
