"""Run by test_ticket_export.py in a subprocess of its own (a clean process to measure):
store N tickets in the embedded engine, export them through the app, and print what the
export read and how much the process's resident memory grew meanwhile, as JSON.

    python tests/tickets/export_memory_probe.py [N] [ndjson|csv]
"""
from __future__ import annotations

import gc
import json
import os
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import base_settings  # noqa: E402
from support import stored_ticket  # noqa: E402
from ticketsvc import create_app  # noqa: E402
from ticketsvc.storage import Database  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def main(count: int, export_format: str) -> dict:
    settings = base_settings(mongo_url="mongomock://")
    database = Database(settings)
    batch = []
    for n in range(count):
        batch.append(stored_ticket("acme", f"tkt-{n:07d}", T0 + timedelta(seconds=n // 3),
                                   subject=f"Order {n} still not received",
                                   message="Hello, my refund has not arrived yet. " * 8))
        if len(batch) == 5000:
            database.tickets.insert_many(batch)
            batch = []
    if batch:
        database.tickets.insert_many(batch)
    del batch
    app = create_app(settings, database=database)
    client = app.test_client()
    url = f"/tickets/export?tenant_id=acme&format={export_format}"
    client.get(url + "&customer_id=nobody").close()  # warm up: imports, schemas, first request
    gc.collect()

    before, peak = rss(), rss()
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.wait(0.01):
            peak = max(peak, rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = size = 0
    response = client.get(url, buffered=False)
    for chunk in response.response:
        lines += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
        size += len(chunk)
    response.close()
    done.set()
    sampler.join()
    peak = max(peak, rss())
    return {"tickets": count, "lines": lines, "bytes": size, "status": response.status_code,
            "rss_before_mb": round(before / 2**20, 1), "rss_growth_mb": round((peak - before) / 2**20, 1)}


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(json.dumps(main(count, sys.argv[2] if len(sys.argv) > 2 else "ndjson")))
