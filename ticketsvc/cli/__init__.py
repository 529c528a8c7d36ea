"""Command line for cron and operators: ``ticketsvc ...`` (the console script), or
``.venv/bin/python -m ticketsvc ...``.

``ingest`` talks to a running service over HTTP (so the run takes the same tenant lock
and shows up in the same audit trail, whichever engine the service uses); ``keys``
manages API keys through the service (``--url``) or directly in its MongoDB; ``db`` runs
storage steps (``db migrate``, ``db rebuild-rollups``) directly in the configured database.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence, TextIO

from .db import add_db_commands
from .client import URL_VARIABLE, default_url, key_from_environment, url_from_environment
from .exits import EXIT_CONFLICT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE

__all__ = ["EXIT_CONFLICT", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_UNREACHABLE", "EXIT_USAGE",
           "build_parser", "main", "run"]

_KEY_HELP = "API key (default: env TICKETSVC_API_KEY, else ADMIN_API_KEY)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ticketsvc", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="start an ingestion run for a tenant")
    ingest.add_argument("--tenant", required=True, help="tenant id")
    ingest.add_argument("--wait", action="store_true",
                        help="show progress until the run ends (a run already going is followed); "
                             "exit 1 unless completed; Ctrl-C cancels the run this command started")
    ingest.add_argument("--detach", action="store_true",
                        help="with --wait: Ctrl-C stops following and leaves the run going")
    ingest.add_argument("--url", default=default_url(), help=f"service base URL (env {URL_VARIABLE})")
    ingest.add_argument("--api-key", default=key_from_environment(),
                        help=_KEY_HELP + "; needed when the service runs AUTH_MODE=keys")
    ingest.add_argument("--poll", type=float, default=1.0, help="seconds between progress polls")
    ingest.add_argument("--timeout", type=float, default=0, help="give up waiting after this many seconds (0: never)")

    keys = sub.add_parser("keys", help="manage API keys, through the service (--url) or in its MongoDB (MONGO_URL)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--url", default=None,
                       help=f"through this running service's HTTP API (env {URL_VARIABLE}); "
                            "without it, straight in the database MONGO_URL names")
    where.add_argument("--api-key", default=key_from_environment(), help="admin " + _KEY_HELP + "; with --url")
    create = keys_sub.add_parser("create", parents=[where], help="create a key and print it once")
    target = create.add_mutually_exclusive_group(required=True)
    target.add_argument("--tenant", help="a key for this tenant only")
    target.add_argument("--admin", action="store_true", help="an admin key (every tenant, operations)")
    create.add_argument("--name", required=True, help="who or what the key is for")
    keys_sub.add_parser("list", parents=[where], help="list keys (never their secrets)")
    revoke = keys_sub.add_parser("revoke", parents=[where], help="revoke a key at once")
    revoke.add_argument("key_id")

    add_db_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "ingest":
        from .ingest import run_ingest

        return run_ingest(args, out, err)
    if args.command == "db":
        from .db import run_db

        return run_db(args, out, err)
    args.url = args.url or url_from_environment()
    from .keys import run_keys

    return run_keys(args, out, err)


def run() -> None:
    """The ``ticketsvc`` console script."""
    sys.exit(main())
