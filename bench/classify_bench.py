"""Classifier throughput on one core: tickets per second over a few thousand varied tickets.

The tickets are the labelled evaluation set, the mock upstream's templates rendered with
many seeds, and synthetic tickets stitched from sentences of both (one to six sentences,
so short chat messages and long emails both appear), shuffled with a fixed seed. One
classifier, one thread. The headline rate divides by the thread's CPU time, so it is the
cost on one core even on a busy machine; the wall-clock rate is printed beside it.

    python bench/classify_bench.py                  # 5000 tickets, 3 rounds
    python bench/classify_bench.py --tickets 20000 --rounds 5
"""
from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ticketsvc.classification import load_classifier  # noqa: E402

LABELLED = ROOT / "tests" / "classification" / "labeled_tickets.jsonl"


def corpus(count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` (subject, message) pairs, deterministic for a seed."""
    rng = random.Random(seed)
    base = [(t["subject"], t["message"]) for t in map(json.loads, LABELLED.read_text().splitlines())]
    try:
        from mock_api.templates import labelled_examples
        base += [(e["subject"], e["message"]) for e in labelled_examples(seed=seed, per_template=10)]
    except ImportError:   # the bench still runs without the mock
        pass
    sentences = [s for _, message in base for s in re.split(r"(?<=[.!?])\s+", message) if s]
    subjects = [subject for subject, _ in base]
    tickets = list(base)
    while len(tickets) < count:
        tickets.append((rng.choice(subjects), " ".join(rng.choice(sentences) for _ in range(rng.randint(1, 6)))))
    rng.shuffle(tickets)
    return tickets[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    started = time.perf_counter()
    classifier = load_classifier()
    load_s = time.perf_counter() - started
    tickets = corpus(args.tickets, args.seed)
    words = statistics.mean(len((s + " " + m).split()) for s, m in tickets)
    print(f"rules {classifier.version}: loaded in {load_s * 1000:.0f} ms; "
          f"{len(tickets)} tickets, {words:.0f} words on average")

    for subject, message in tickets[:200]:   # warm-up
        classifier.classify(subject, message)
    cpu_rates, wall_rates = [], []
    for n in range(1, args.rounds + 1):
        per_ticket = []
        clock = time.perf_counter
        wall_start, cpu_start = clock(), time.thread_time()
        for subject, message in tickets:
            t0 = clock()
            classifier.classify(subject, message)
            per_ticket.append(clock() - t0)
        cpu = time.thread_time() - cpu_start
        wall = clock() - wall_start
        per_ticket.sort()
        cpu_rates.append(len(tickets) / cpu)
        wall_rates.append(len(tickets) / wall)
        print(f"round {n}: {cpu_rates[-1]:6.0f} tickets/s of CPU ({cpu / len(tickets) * 1e6:4.0f} us each), "
              f"{wall_rates[-1]:6.0f}/s wall clock; per ticket p50 {per_ticket[len(per_ticket) // 2] * 1e6:4.0f} us, "
              f"p99 {per_ticket[int(len(per_ticket) * 0.99)] * 1e6:5.0f} us")
    print(f"median {statistics.median(cpu_rates):.0f} tickets/s on one core "
          f"({statistics.median(wall_rates):.0f}/s wall clock; target >= 3000). "
          "Wall clock includes time other processes took the core.")


if __name__ == "__main__":
    main()
