"""``python -m ticketsvc ingest``: start a tenant's run through the service's HTTP API, and
optionally follow it (the run takes the same tenant lock and shows up in the same audit
trail, whichever engine the service uses)."""
from __future__ import annotations

import argparse
import time
from typing import TextIO

import requests

from .exits import EXIT_CONFLICT, EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE


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
