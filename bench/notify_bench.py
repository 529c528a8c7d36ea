"""Alert delivery benchmark: how fast does the outbox drain against an unstable /notify?

For each mode it starts the mock upstream (real clock, real HTTP), builds the service on the
embedded engine with a real clock, enqueues N alerts straight into the outbox, starts the
service's background scheduler (the same drain job gunicorn workers run) and waits until no
alert is pending. It prints wall time, attempts, breaker trips and checks every alert
arrived exactly once.

Modes:
- realistic: one ticket in ten fails its first attempt, latency 100-500 ms.
- harsh: the mock's defaults, i.e. the brief's: every ticket's first two attempts fail,
  latency 100-500 ms, 30 s outage after 10 consecutive failures. Against the breaker's
  thresholds (5 failures in 10 calls, 30 s open) this keeps the circuit tripping, so it is
  slow by design: run it with fewer alerts, or shorten both 30 s periods with
  ``--open-s`` (it sets CB_OPEN_S and the mock's outage_s together).

    python bench/notify_bench.py                       # realistic 2000, harsh 100
    python bench/notify_bench.py --mode realistic --alerts 5000 --concurrency 16
    python bench/notify_bench.py --mode harsh --harsh-alerts 500 --open-s 3
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mock_api.config import MockConfig, NotifyConfig  # noqa: E402
from mock_api.testing import MockUpstreamServer  # noqa: E402
from ticketsvc import create_app  # noqa: E402
from ticketsvc.config import Settings  # noqa: E402
from ticketsvc.notifications.outbox import Alert  # noqa: E402
from ticketsvc.api.context import get_runtime  # noqa: E402

TENANTS = ("tenant_a", "tenant_b", "tenant_c", "tenant_d")
MODES = {
    "realistic": dict(fail_first_attempts=1, fail_share=0.1, latency_ms=(100.0, 500.0),
                      outage_after_failures=10, outage_s=30.0),
    "harsh": dict(fail_first_attempts=2, fail_share=1.0, latency_ms=(100.0, 500.0),
                  outage_after_failures=10, outage_s=30.0),
}


def run(mode: str, alerts: int, args: argparse.Namespace) -> dict:
    notify = dict(MODES[mode])
    overrides = {}
    if args.open_s is not None:
        notify["outage_s"] = args.open_s
        overrides["cb_open_s"] = args.open_s
    if args.concurrency is not None:
        overrides["notify_concurrency"] = args.concurrency
    mock = MockUpstreamServer(MockConfig(tickets=0, notify=NotifyConfig(**notify)))
    settings = Settings.from_env({}, auth_mode="off", log_level="warning", external_api_url=mock.url,
                                 sync_interval_s=0.0, **overrides)
    app = create_app(settings)
    runtime = get_runtime(app)
    try:
        runtime.outbox.enqueue([
            Alert(TENANTS[i % len(TENANTS)], f"bench-{i:06d}", "high", "benchmark alert",
                  f"{TENANTS[i % len(TENANTS)]}:bench-{i:06d}:high:bench")
            for i in range(alerts)
        ], runtime.clock.now())
        started = time.monotonic()
        runtime.start_background()
        last_note = started
        while True:
            counts = runtime.outbox.counts()
            elapsed = time.monotonic() - started
            if counts["pending"] == 0 or elapsed > args.max_s:
                break
            if time.monotonic() - last_note >= 15:
                last_note = time.monotonic()
                print(f"  [{mode}] {elapsed:6.0f}s delivered={counts['delivered']} pending={counts['pending']} "
                      f"dead={counts['dead']} circuit={runtime.notify_breaker.gate(runtime.clock.now())}",
                      flush=True)
            time.sleep(0.2)
        wall_s = time.monotonic() - started
        runtime.stop()  # sends still in flight are recorded before the mock's report is read
        report = mock.report()["notify"]
        successes = report["successes"]
        return {
            "mode": mode,
            "alerts": alerts,
            "concurrency": settings.notify_concurrency,
            "wall_s": round(wall_s, 1),
            "alerts_per_s": round(counts["delivered"] / wall_s, 1) if wall_s else None,
            "delivered": counts["delivered"],
            "pending": counts["pending"],
            "dead": counts["dead"],
            "http_attempts": report["total_attempts"],
            "breaker_trips": runtime.notify_breaker.snapshot()["trips"],
            "arrived_once": sum(1 for n in successes.values() if n == 1),
            "arrived_twice_or_more": sum(1 for n in successes.values() if n > 1),
            "finished": counts["pending"] == 0,
        }
    finally:
        runtime.stop()
        mock.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("both", *MODES), default="both")
    parser.add_argument("--alerts", type=int, default=2000, help="alerts in realistic mode (default 2000)")
    parser.add_argument("--harsh-alerts", type=int, default=100, help="alerts in harsh mode (default 100)")
    parser.add_argument("--concurrency", type=int, default=None, help="NOTIFY_CONCURRENCY (default: the service's)")
    parser.add_argument("--open-s", type=float, default=None,
                        help="CB_OPEN_S and the mock's outage_s (default: 30 s, the brief's)")
    parser.add_argument("--max-s", type=float, default=3600.0, help="give up on a mode after this long")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    modes = list(MODES) if args.mode == "both" else [args.mode]
    results = []
    for mode in modes:
        n = args.alerts if mode == "realistic" else args.harsh_alerts
        print(f"{mode}: {n} alerts ...", flush=True)
        result = run(mode, n, args)
        results.append(result)
        print("  " + " ".join(f"{k}={v}" for k, v in result.items()), flush=True)
    ok = all(r["finished"] and r["dead"] == 0 and r["arrived_twice_or_more"] == 0
             and r["arrived_once"] == r["alerts"] for r in results)
    print("every alert arrived exactly once" if ok else "NOT every alert arrived exactly once")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
