"""The embedded engine's snapshot (EMBEDDED_DATA_FILE): how long writing it holds the engine
lock, and how long loading it delays start-up, at N stored tickets.

    .venv/bin/python bench/snapshot_bench.py [--tickets 10000 50000]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support import stored_ticket  # noqa: E402
from ticketsvc.config import Settings  # noqa: E402
from ticketsvc.storage import Database  # noqa: E402


def measure(tickets: int, directory: str) -> tuple[float, float, int]:
    path = os.path.join(directory, f"bench-{tickets}.bson")
    settings = Settings.from_env({}, embedded_data_file=path, log_level="warning")
    db = Database(settings)
    db.prepare()
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    db.tickets.insert_many([stored_ticket(f"tenant_{i % 4}", f"tkt-{i:06d}", start + timedelta(minutes=i),
                                          message="It broke again after the update " * 8) for i in range(tickets)])
    started = time.perf_counter()
    db.save_snapshot()
    save_s = time.perf_counter() - started
    db.close()  # writes it again (shutdown)
    started = time.perf_counter()
    again = Database(settings)
    again.prepare()  # load + indexes, as at start-up
    load_s = time.perf_counter() - started
    assert again.tickets.count_documents({}) == tickets
    again.close()
    return save_s, load_s, os.path.getsize(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, nargs="+", default=[10000, 50000])
    args = parser.parse_args()
    print("| tickets | write (the engine lock is held while encoding) | load + indexes at start | file size |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as directory:
        for n in args.tickets:
            save_s, load_s, size = measure(n, directory)
            print(f"| {n:,} | {save_s:.2f} s | {load_s:.2f} s | {size / 1e6:.1f} MB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
