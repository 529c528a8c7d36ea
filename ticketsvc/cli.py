"""Command line for cron and operators: ``python -m ticketsvc ...``.

``ingest`` talks to a running service over HTTP (so the run takes the same tenant lock
and shows up in the same audit trail, whichever engine the service uses); ``keys``
manages API keys directly in the configured database.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Sequence, TextIO

import requests

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CONFLICT, EXIT_UNREACHABLE = 0, 1, 2, 3, 4


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
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "ingest":
        return run_ingest(args, out, err)
    from .keys_cli import run_keys

    return run_keys(args, out, err)


def run_ingest(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    session = requests.Session()
    if args.api_key:
        session.headers["Authorization"] = f"Bearer {args.api_key}"
    base = args.url.rstrip("/")
    try:
        response = session.post(f"{base}/ingest/run", params={"tenant_id": args.tenant, "trigger": "cli"},
                                timeout=(3, 10))
    except requests.RequestException as exc:
        print(f"error: cannot reach {base}: {type(exc).__name__}", file=err)
        return EXIT_UNREACHABLE
    body = _json(response)
    if response.status_code == 409:
        print(f"already running: job {body.get('job_id')} holds the lock for tenant {args.tenant}", file=err)
        return EXIT_CONFLICT
    if response.status_code != 202:
        print(f"error: HTTP {response.status_code}: {body.get('message', response.text[:200])}", file=err)
        return EXIT_USAGE if 400 <= response.status_code < 500 else EXIT_FAILED
    job_id = body["job_id"]
    print(job_id, file=out)
    if not args.wait:
        return EXIT_OK
    return _follow(session, base, job_id, args, err)


def _follow(session: requests.Session, base: str, job_id: str, args: argparse.Namespace, err: TextIO) -> int:
    started = time.monotonic()
    interactive = err.isatty()
    last_line = ""
    while True:
        try:
            response = session.get(f"{base}/ingest/progress/{job_id}", timeout=(3, 10))
            job = _json(response)
        except requests.RequestException as exc:
            print(f"\nwarning: progress poll failed ({type(exc).__name__}); retrying", file=err)
            job = {}
        if job.get("status"):
            line = _progress_line(job)
            if interactive:
                err.write("\r" + line.ljust(len(last_line)))
                err.flush()
            elif line != last_line:
                print(line, file=err)
            last_line = line
            if job["status"] != "running":
                if interactive:
                    err.write("\n")
                if job["status"] == "completed":
                    return EXIT_OK
                print(f"job {job_id} ended {job['status']}: {job.get('error') or ''}".rstrip(": "), file=err)
                return EXIT_FAILED
        if args.timeout and time.monotonic() - started > args.timeout:
            print(f"\ngave up waiting after {args.timeout:.0f}s; job {job_id} continues", file=err)
            return EXIT_FAILED
        time.sleep(args.poll)


def _progress_line(job: dict) -> str:
    width = 30
    progress = int(job.get("progress") or 0)
    filled = width * progress // 100
    counts = job.get("counts") or {}
    pages = f"{job.get('processed_pages', 0)}/{job.get('total_pages') or '?'} pages"
    return (f"[{'#' * filled}{'.' * (width - filled)}] {progress:3d}% {pages} "
            f"new={counts.get('new', 0)} updated={counts.get('updated', 0)} {job['status']}")


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
