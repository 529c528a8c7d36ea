"""Re-sync cost in both modes: upstream calls and wall time against the rate-limit floor.

Starts the mock upstream with one tenant of 10,000 tickets (generated an hour ago, so the
feed's 60 s overlap holds nothing stale) and the service's ingestion engine on the
embedded engine (or MONGO_URL). For each mode it measures the first run (every ticket
new), a re-sync of the unchanged tenant, and one after 1% of its tickets changed:

- ``full``: FULL_SYNC_INTERVAL_S=0, every run walks every page (the behaviour before the feed);
- ``incremental``: the default, runs after the first read the change feed.

With N calls and a budget of L calls per W seconds no client finishes in less than
floor((N-1)/L)*W. Before each measured re-sync the bench waits one window, so the budget
is whole. The window is scaled down by default (60 calls per 6 s); --window 60 is the
real pace.

    .venv/bin/python bench/resync_bench.py [--tickets 10000] [--changed 0.01] [--calls 60] [--window 6]
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
from ticketsvc.api.context import get_runtime  # noqa: E402
from ticketsvc.config import Settings  # noqa: E402

TENANT = "tenant_a"
MODES = {"full": 0.0, "incremental": 86400.0}


def floor_s(calls: int, limit: int, window: float) -> float:
    return math.floor((calls - 1) / limit) * window if calls else 0.0


def measure(runtime, mock, label: str, args) -> dict:
    time.sleep(args.window)  # a whole budget for the run measured
    before = mock.report()["calls"]
    started = time.monotonic()
    record = runtime.ingestion.run(TENANT, trigger="cli")
    wall = time.monotonic() - started
    calls = mock.report()["calls"] - before
    assert record["status"] == "completed", record
    assert calls == record["http"]["calls"], (calls, record["http"])
    counts = record["counts"]
    return {"case": label, "mode": record["mode"], "calls": calls, "wall": wall,
            "floor": floor_s(calls, args.calls, args.window), "fetched": counts["fetched"],
            "new": counts["new"], "updated": counts["updated"], "real_floor": floor_s(calls, 60, 60.0)}


def run_mode(mode: str, args) -> list[dict]:
    config = MockConfig(tickets=args.tickets, tenants=(TENANT,), now=time.time() - 3600,
                        rate_limit_calls=args.calls, rate_limit_window_s=args.window,
                        notify=NotifyConfig(fail_first_attempts=0, latency_ms=(0.0, 0.0))).validate()
    with MockUpstreamServer(config) as mock:
        settings = Settings.from_env(os.environ, auth_mode="off", log_level="warning", external_api_url=mock.url,
                                     rate_limit_calls=args.calls, rate_limit_window_s=args.window,
                                     sync_interval_s=0, full_sync_interval_s=MODES[mode])
        runtime = get_runtime(create_app(settings))
        try:
            rows = [measure(runtime, mock, "first run", args)]
            assert rows[0]["new"] == args.tickets, rows[0]
            rows.append(measure(runtime, mock, "unchanged", args))
            changed = max(1, round(args.tickets * args.changed))
            mock.admin("POST", "/admin/mutate", json={"tenant_id": TENANT, "update": changed})
            rows.append(measure(runtime, mock, f"{changed} changed", args))
        finally:
            runtime.stop()
    return [dict(row, config=f"FULL_SYNC_INTERVAL_S={MODES[mode]:g}") for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--changed", type=float, default=0.01, help="share of tickets changed")
    parser.add_argument("--calls", type=int, default=60, help="upstream limit: calls per window")
    parser.add_argument("--window", type=float, default=6.0, help="upstream window in seconds")
    args = parser.parse_args()

    rows = [row for mode in MODES for row in run_mode(mode, args)]
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"engine={'embedded' if os.environ.get('MONGO_URL', 'mongomock://').startswith('mongomock') else 'mongodb'}")
    print(f"one tenant of {args.tickets} tickets, page_size=100, limit {args.calls}/{args.window:g}s")
    print(f"{'setting':<26} {'run':<12} {'mode':<12} {'calls':>6} {'fetched':>8} {'updated':>8} {'wall s':>8} "
          f"{'floor s':>8} {'floor at 60/60s':>16}")
    for r in rows:
        print(f"{r['config']:<26} {r['case']:<12} {r['mode']:<12} {r['calls']:>6} {r['fetched']:>8} {r['updated']:>8} "
              f"{r['wall']:>8.2f} {r['floor']:>8.1f} {r['real_floor']:>15.0f}s")


if __name__ == "__main__":
    main()
