"""One ingestion run in a fresh process, and what it cost: a worker's memory measured
without the test runner's own (the hostile server stays in the test's process).

    python tests/ingestion/rss_worker.py URL TENANT '{"setting": value, ...}'

prints one JSON line: the run's status, error, counts and duration, the tickets and alerts
stored, and the process's peak RSS before and after the run (MB).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import base_settings  # noqa: E402  (after the path is set)
from ticketsvc import create_app  # noqa: E402
from ticketsvc.api.context import get_runtime  # noqa: E402
from ticketsvc.ingestion.runner import lock_resource  # noqa: E402


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not getrusage's ru_maxrss: that one keeps the peak of
    the forked test runner from before exec, which would hide what the run itself cost."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(url: str, tenant_id: str, overrides: str) -> None:
    # A hostile upstream has no change feed: a full walk that does not first ask for it.
    settings = {"full_sync_interval_s": 0, **json.loads(overrides)}
    runtime = get_runtime(create_app(base_settings(external_api_url=url, **settings)))
    runtime.classifier.classify("warm up", "the export is broken")  # lazy tables load before the baseline
    before = peak_rss_mb()
    started = time.monotonic()
    record = runtime.ingestion.run(tenant_id)
    elapsed = time.monotonic() - started
    after = peak_rss_mb()
    print(json.dumps({
        "status": record["status"], "error": record["error"], "stop_reason": record["stop_reason"],
        "counts": record["counts"], "http": record["http"], "duration_s": round(elapsed, 2),
        "stored": runtime.db.tickets.count_documents({"tenant_id": tenant_id}),
        "alerts": runtime.db.notifications.count_documents({"tenant_id": tenant_id}),
        "lease": runtime.db.locks.find_one({"_id": lock_resource(tenant_id)}) is not None,
        "rss_before_mb": round(before, 1), "rss_peak_mb": round(after, 1),
    }), flush=True)
    runtime.stop()


if __name__ == "__main__":
    main(*sys.argv[1:4])
