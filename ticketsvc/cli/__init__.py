"""Command line for cron and operators: ``python -m ticketsvc ...``.

``ingest`` talks to a running service over HTTP (so the run takes the same tenant lock
and shows up in the same audit trail, whichever engine the service uses); ``keys``
manages API keys and ``db`` maintains storage (``db rebuild-rollups``), directly in the
configured database.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence, TextIO

from .db import add_parser as add_db_parser
from .exits import EXIT_CONFLICT, EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE

__all__ = ["EXIT_CONFLICT", "EXIT_FAILED", "EXIT_OK", "EXIT_UNREACHABLE", "EXIT_USAGE", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ticketsvc", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="start an ingestion run for a tenant")
    ingest.add_argument("--tenant", required=True, help="tenant id")
    ingest.add_argument("--wait", action="store_true", help="show progress until the run ends; exit 1 unless completed")
    ingest.add_argument("--url", default=os.environ.get("TICKETSVC_URL", "http://127.0.0.1:8000"),
                        help="service base URL (env TICKETSVC_URL)")
    ingest.add_argument("--api-key", default=os.environ.get("TICKETSVC_API_KEY"),
                        help="API key (env TICKETSVC_API_KEY); needed when the service runs AUTH_MODE=keys")
    ingest.add_argument("--poll", type=float, default=1.0, help="seconds between progress polls")
    ingest.add_argument("--timeout", type=float, default=0, help="give up waiting after this many seconds (0: never)")

    keys = sub.add_parser("keys", help="manage API keys in the configured database (MONGO_URL)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key and print it once")
    target = create.add_mutually_exclusive_group(required=True)
    target.add_argument("--tenant", help="a key for this tenant only")
    target.add_argument("--admin", action="store_true", help="an admin key (every tenant, operations)")
    create.add_argument("--name", required=True, help="who or what the key is for")
    keys_sub.add_parser("list", help="list keys (never their secrets)")
    revoke = keys_sub.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id")
    add_db_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "ingest":
        from .ingest import run_ingest

        return run_ingest(args, out, err)
    if args.command == "db":
        from .db import run_db

        return run_db(args, out, err)
    from .keys import run_keys

    return run_keys(args, out, err)
