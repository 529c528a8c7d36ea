"""Run every benchmark of bench/ one after another (``make bench``) and print their output.

By default each runs at a size that finishes in a minute or two, so the whole set takes
about five minutes on two cores; ``--full`` runs each with its own defaults, as quoted in
bench/README.md (the harsh notify mode alone takes about ten minutes by design). Run it
on an otherwise idle machine: the benchmarks share its cores with nothing else.

    .venv/bin/python bench/run_all.py [--full] [--only ingest,http]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

# name -> (script, quick arguments)
BENCHMARKS = {
    "ingest": ("ingest_bench.py", []),
    "resync": ("resync_bench.py", ["--window", "2"]),
    "classify": ("classify_bench.py", []),
    "stats": ("stats_bench.py", ["--sizes", "10000"]),
    "notify": ("notify_bench.py", ["--mode", "realistic", "--alerts", "500"]),
    "http": ("http_load_bench.py", ["--seconds", "5"]),
    "capacity": ("index_capacity.py", []),
    "snapshot": ("snapshot_bench.py", ["--tickets", "10000"]),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="each benchmark with its own defaults")
    parser.add_argument("--only", default="", help="comma-separated subset of " + ", ".join(BENCHMARKS))
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()] or list(BENCHMARKS)
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")

    failed = []
    for name in chosen:
        script, quick = BENCHMARKS[name]
        command = [sys.executable, str(BENCH / script), *([] if args.full else quick)]
        print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
        started = time.monotonic()
        if subprocess.call(command) != 0:
            failed.append(name)
        print(f"=== {name}: {time.monotonic() - started:.0f}s", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
