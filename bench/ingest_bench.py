"""Ingestion wall time against the rate-limit floor.

Starts the mock upstream (10,000 tickets over 4 tenants by default) and the service's
ingestion engine on the embedded engine (or MONGO_URL), ingests every tenant at once, and
prints the wall time next to the floor the upstream's limit imposes: with N calls and a
budget of L calls per W seconds, no client can finish in less than floor((N-1)/L)*W.

The window is scaled down by default (60 calls per 6 s instead of per 60 s) so the run
takes a minute, not ten; --window 60 measures the real pace.

    .venv/bin/python bench/ingest_bench.py [--tickets 10000] [--calls 60] [--window 6]
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from mock_api.config import MockConfig, NotifyConfig  # noqa: E402
from mock_api.testing import MockUpstreamServer  # noqa: E402
from ticketsvc import create_app  # noqa: E402
from ticketsvc.config import Settings  # noqa: E402
from ticketsvc.api.context import get_runtime  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=60, help="upstream limit: calls per window")
    parser.add_argument("--window", type=float, default=6.0, help="upstream window in seconds")
    parser.add_argument("--tenants", default="tenant_a,tenant_b,tenant_c,tenant_d")
    args = parser.parse_args()

    config = MockConfig(tickets=args.tickets, rate_limit_calls=args.calls, rate_limit_window_s=args.window,
                        notify=NotifyConfig(fail_first_attempts=0, latency_ms=(0.0, 0.0))).validate()
    with MockUpstreamServer(config) as mock:
        settings = Settings.from_env(os.environ, auth_mode="off", log_level="warning", external_api_url=mock.url,
                                     rate_limit_calls=args.calls, rate_limit_window_s=args.window)
        app = create_app(settings)
        runtime = get_runtime(app)
        tenants = args.tenants.split(",")
        started = time.monotonic()
        jobs = [runtime.ingestion.start(t, trigger="cli")["job_id"] for t in tenants]
        records = []
        for job_id in jobs:
            while (record := runtime.ingestion.get(job_id))["status"] == "running":
                time.sleep(0.2)
            records.append(record)
        wall = time.monotonic() - started
        report = mock.report()
        runtime.stop()

    calls = sum(r["http"]["calls"] for r in records)
    pages = sum(r["processed_pages"] for r in records)
    floor = math.floor((calls - 1) / args.calls) * args.window if calls else 0.0
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"engine={settings.engine}")
    print(f"tickets={sum(r['counts']['fetched'] for r in records)} tenants={len(tenants)} pages={pages} "
          f"calls={calls} limit={args.calls}/{args.window:g}s")
    print(f"statuses: {sorted({r['status'] for r in records})}")
    print(f"upstream saw: max_calls_in_window={report['max_calls_in_window']} (limit {args.calls}), "
          f"429s={report['rate_limited']}")
    print(f"wall time: {wall:.1f}s   rate-limit floor: {floor:.1f}s   overhead over floor: "
          f"{wall - floor:.1f}s ({(wall / floor - 1) * 100 if floor else 0:.0f}%)")


if __name__ == "__main__":
    main()
