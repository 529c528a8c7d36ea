"""``ticketsvc ingest``: start a tenant's run through the service's HTTP API, and
optionally follow it (the run takes the same tenant lock and shows up in the same audit
trail, whichever engine the service uses).

With ``--wait``, a tenant whose run is already going is followed instead of refused, and
Ctrl-C cancels the run this command started (``--detach``: leaves it running); a run it
only follows is never cancelled by it.
"""
from __future__ import annotations

import argparse
import time
from typing import TextIO

from .client import ServiceClient, ServiceRefused, Unreachable
from .exits import EXIT_CONFLICT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE

# How long an interrupted command waits to see the cancelled run end.
CANCEL_WAIT_S = 15.0


def run_ingest(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    client = ServiceClient(args.url, args.api_key)
    try:
        return _run(client, args, out, err)
    except Unreachable as exc:
        print(f"error: {exc}", file=err)
        return EXIT_UNREACHABLE
    finally:
        client.close()


def _run(client: ServiceClient, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        job_id = client.call("POST", "/ingest/run", params={"tenant_id": args.tenant, "trigger": "cli"},
                             ok=(202,))["job_id"]
        started_here = True
    except ServiceRefused as exc:
        running = exc.body.get("job_id") if exc.status == 409 else None
        if running and args.wait:
            print(f"tenant {args.tenant} already has job {running} running: following it "
                  f"(Ctrl-C stops following, the job continues)", file=err)
            job_id, started_here = running, False
        elif running:
            print(f"already running: job {running} holds the lock for tenant {args.tenant} "
                  f"(--wait follows it)", file=err)
            return EXIT_CONFLICT
        else:
            print(f"error: {exc}", file=err)
            return EXIT_USAGE if 400 <= exc.status < 500 else EXIT_FAILED
    print(job_id, file=out)
    if not args.wait:
        return EXIT_OK
    try:
        return _follow(client, job_id, args, err)
    except KeyboardInterrupt:
        if started_here and not args.detach:
            return _cancel(client, job_id, err)
        print(f"\ndetached: job {job_id} continues; stop it with DELETE /ingest/{job_id}", file=err)
        return EXIT_INTERRUPTED


def _follow(client: ServiceClient, job_id: str, args: argparse.Namespace, err: TextIO) -> int:
    started = time.monotonic()
    interactive = err.isatty()
    last_line = ""
    while True:
        job = _progress(client, job_id, err)
        if job is None:
            print(f"error: job {job_id} is unknown to the service", file=err)
            return EXIT_FAILED
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


def _progress(client: ServiceClient, job_id: str, err: TextIO) -> dict | None:
    """The job's progress record; ``{}`` after a failed poll (retried), None if unknown."""
    try:
        return client.call("GET", f"/ingest/progress/{job_id}")
    except ServiceRefused as exc:
        if exc.status == 404:
            return None
        print(f"\nwarning: progress poll failed ({exc}); retrying", file=err)
    except Unreachable as exc:
        print(f"\nwarning: progress poll failed ({exc}); retrying", file=err)
    return {}


def _cancel(client: ServiceClient, job_id: str, err: TextIO) -> int:
    """Ctrl-C on a run this command started: ask the service to cancel it and say how it
    ended (a second Ctrl-C stops waiting; the cancel request stands)."""
    print(f"\ninterrupted: cancelling job {job_id} ...", file=err)
    try:
        client.call("DELETE", f"/ingest/{job_id}", ok=(202,))
    except ServiceRefused as exc:
        if exc.status != 409:  # 409: it ended on its own meanwhile
            print(f"error: could not cancel job {job_id}: {exc}", file=err)
            return EXIT_INTERRUPTED
    except Unreachable as exc:
        print(f"error: could not cancel job {job_id}: {exc}; it may still be running", file=err)
        return EXIT_INTERRUPTED
    deadline = time.monotonic() + CANCEL_WAIT_S
    try:
        while time.monotonic() < deadline:
            job = _progress(client, job_id, err) or {}
            if job.get("status") not in (None, "running"):
                print(f"job {job_id} ended {job['status']} (it keeps the {job.get('processed_pages', 0)} "
                      f"page(s) it stored)", file=err)
                return EXIT_INTERRUPTED
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    print(f"cancel requested for job {job_id}; it stops at its next check", file=err)
    return EXIT_INTERRUPTED


def _progress_line(job: dict) -> str:
    width = 30
    progress = int(job.get("progress") or 0)
    filled = width * progress // 100
    counts = job.get("counts") or {}
    pages = f"{job.get('processed_pages', 0)}/{job.get('total_pages') or '?'} pages"
    return (f"[{'#' * filled}{'.' * (width - filled)}] {progress:3d}% {pages} "
            f"new={counts.get('new', 0)} updated={counts.get('updated', 0)} {job['status']}")
