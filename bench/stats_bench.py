"""Tenant stats benchmark: how long does GET /tenants/{T}/stats take at 10,000 and 100,000
tickets, and how does it grow with N?

For each size it bulk-loads N tickets for one tenant plus other tenants' noise (realistic
distributions: status, source, urgency, sentiment correlated with urgency, requires_action,
0-4 classifier keywords from a skewed vocabulary, a skewed customer pool, 10% created in
the last 24 hours, 2% soft-deleted) into the configured engine, then times, as the median
of several runs after one warm-up:
- the service (``TenantStats.snapshot`` + ``compute``) for all time and for the last 7 days;
- the HTTP endpoint through Flask's test client (full request: validation, pipelines, JSON);
- a conditional request answered 304 (the dashboard's repeated load).

    python bench/stats_bench.py                                 # embedded engine, 10k and 100k
    python bench/stats_bench.py --sizes 10000 --runs 9
    python bench/stats_bench.py --variants                      # also time alternative pipeline shapes
    MONGO_URL=mongodb://localhost:27017 python bench/stats_bench.py   # real MongoDB (docker compose up mongo)

Against a real MongoDB it uses a throwaway database (``ticketsvc_bench_<random>``) and drops
it at the end.
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ticketsvc import create_app  # noqa: E402
from ticketsvc.analytics.stats import StatsQuery, range_pipeline  # noqa: E402
from ticketsvc.config import Settings  # noqa: E402
from ticketsvc.storage import Database  # noqa: E402
from ticketsvc.tickets.repository import TicketRepository  # noqa: E402
from ticketsvc.api.context import get_runtime  # noqa: E402

TENANT = "bench_tenant"
NOISE_TENANTS = ("noise_a", "noise_b", "noise_c")
BATCH = 5_000
STATUSES = (("open", 35), ("pending", 20), ("resolved", 30), ("closed", 15))
SOURCES = (("email", 40), ("chat", 25), ("web", 25), ("phone", 10))
URGENCIES = (("high", 12), ("medium", 38), ("low", 50))
KEYWORDS = ("refund", "outage", "login", "password", "billing", "invoice", "charge", "cancel", "crash",
            "error", "slow", "timeout", "down", "urgent", "broken", "upgrade", "export", "import",
            "api", "webhook", "sso", "2fa", "mobile", "android", "ios", "sync", "delete", "data loss",
            "security", "breach", "lawyer", "angry", "disappointed", "thanks", "feature", "bug",
            "discount", "renewal", "contract", "migration")
# Zipf-like: a few terms are on many tickets, most on few.
KEYWORD_WEIGHTS = tuple(1.0 / (rank + 1) for rank in range(len(KEYWORDS)))


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def make_tickets(tenant: str, count: int, now: datetime, rng: random.Random) -> list[dict]:
    """``count`` stored tickets in the shape ingestion writes them."""
    pool = max(3, count // 4)
    docs = []
    for n in range(count):
        recent = rng.random() < 0.10
        created = now - timedelta(seconds=rng.random() * (86_400 if recent else 30 * 86_400))
        urgency = _pick(rng, URGENCIES)
        negative_share = 0.6 if urgency == "high" else 0.2
        roll = rng.random()
        sentiment = "negative" if roll < negative_share else ("positive" if roll > 0.75 else "neutral")
        keyword_count = rng.choices((0, 1, 2, 3, 4), weights=(35, 30, 20, 10, 5))[0]
        keywords = sorted(set(rng.choices(KEYWORDS, weights=KEYWORD_WEIGHTS, k=keyword_count)))
        doc = {
            "tenant_id": tenant,
            "external_id": f"TKT-{n:07d}",
            "source": _pick(rng, SOURCES),
            "customer_id": f"cust-{int(pool * rng.random() ** 2) + 1:05d}",
            "subject": "Issue with " + " and ".join(keywords or ["my account"]),
            "message": "Hello team, " + "we are seeing a problem with the service. " * rng.randint(3, 12),
            "status": _pick(rng, STATUSES),
            "created_at": created,
            "updated_at": created + timedelta(hours=rng.random() * 48),
            "urgency": urgency,
            "sentiment": sentiment,
            "requires_action": rng.random() < {"high": 0.9, "medium": 0.4, "low": 0.1}[urgency],
            "keywords": keywords,
            "classification": {"reasons": [f"urgency: {urgency}", f"sentiment: {sentiment}"], "version": "bench-1"},
            "ingested_at": created,
            "synced_at": now,
            "last_seen_job": "bench",
        }
        if rng.random() < 0.02:
            doc["deleted_at"] = now
        docs.append(doc)
    return docs


def load(database: Database, size: int, noise: float, now: datetime) -> tuple[int, float]:
    """Bulk-insert the tenant's tickets and the noise; returns (live tickets of the tenant, seconds)."""
    rng = random.Random(size)
    started = time.perf_counter()
    live = 0
    plan = [(TENANT, size)] + [(t, int(size * noise / len(NOISE_TENANTS))) for t in NOISE_TENANTS]
    for tenant, count in plan:
        docs = make_tickets(tenant, count, now, rng)
        if tenant == TENANT:
            live = sum(1 for d in docs if "deleted_at" not in d)
        for start in range(0, len(docs), BATCH):
            database.tickets.insert_many(docs[start:start + BATCH], ordered=False)
    return live, time.perf_counter() - started


def timed(func: Callable[[], object], runs: int) -> dict:
    """Wall and CPU milliseconds (median, min, max). The work is single-threaded, so CPU
    time is the steadier figure on a shared machine; wall time is what a user waits."""
    func()  # warm-up: first-call imports and caches are not what a dashboard sees
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        func()
        wall.append((time.perf_counter() - started) * 1000.0)
        cpu.append((time.process_time() - started_cpu) * 1000.0)
    return {"median": statistics.median(wall), "min": min(wall), "max": max(wall), "cpu": statistics.median(cpu)}


def variants(database: Database, query: StatsQuery, runs: int) -> dict[str, dict]:
    """Alternative shapes of the range pipeline (every figure but the trend and the at-risk
    ticket ids), to justify the one we keep."""
    pipeline = range_pipeline(TicketRepository(database, query.tenant_id), query)
    match, project, facet = pipeline[0], pipeline[1], pipeline[2]["$facet"]

    def run(stages: list) -> list:
        return list(database.tickets.aggregate(stages))

    shapes = {
        "one $facet (kept)": lambda: run(pipeline),
        "one $facet, no narrowing $project": lambda: run([match, {"$facet": facet}]),
        "one pipeline per facet": lambda: [run([match, project, *stages]) for stages in facet.values()],
    }
    raw = getattr(database.tickets, "_collection", None)
    if raw is not None:  # the embedded engine without the adapter's $match push-down
        shapes["one $facet, engine without push-down"] = lambda: list(raw.aggregate(pipeline))
    return {name: timed(func, runs) for name, func in shapes.items()}


def bench_size(args: argparse.Namespace, size: int) -> dict:
    base = Settings.from_env(dict(os.environ), auth_mode="off", log_level="warning", sync_interval_s=0.0)
    settings = base
    if not base.embedded:
        settings = base.with_overrides(mongo_db="ticketsvc_bench_" + uuid.uuid4().hex[:10])
    database = Database(settings)
    now = datetime.now(timezone.utc)
    try:
        live, load_s = load(database, size, args.noise, now)
        app = create_app(settings, database=database)  # builds the indexes after the bulk load
        runtime = get_runtime(app)
        client = app.test_client()
        stats = runtime.stats
        all_time = StatsQuery(TENANT)
        week = StatsQuery(TENANT, created_from=now - timedelta(days=7), created_to=now)
        body = stats.compute(stats.snapshot(all_time))
        assert body["total_tickets"] == live, (body["total_tickets"], live)
        url = f"/tenants/{TENANT}/stats"
        etag = client.get(url).headers["ETag"]
        result = {
            "size": size, "live": live, "noise": int(size * args.noise), "load_s": load_s,
            "service all-time": timed(lambda: stats.compute(stats.snapshot(all_time)), args.runs),
            "service last 7 days": timed(lambda: stats.compute(stats.snapshot(week)), args.runs),
            "HTTP all-time": timed(lambda: client.get(url), args.runs),
            "HTTP 304 (If-None-Match)": timed(lambda: client.get(url, headers={"If-None-Match": etag}), args.runs),
        }
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        if args.variants:
            result["variants"] = variants(database, all_time, args.runs)
        runtime.stop()
        return result
    finally:
        if not settings.embedded:
            database._client.drop_database(settings.mongo_db)
        database.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement (median reported)")
    parser.add_argument("--noise", type=float, default=1.0,
                        help="other tenants' tickets, as a multiple of N (default 1.0: as many again)")
    parser.add_argument("--variants", action="store_true", help="also time alternative pipeline shapes")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    engine = Settings.from_env(dict(os.environ), auth_mode="off").engine
    print(f"engine={engine} runs={args.runs} noise={args.noise}x cpus={os.cpu_count()}")
    results = []
    for size in args.sizes:
        result = bench_size(args, size)
        results.append(result)
        print(f"\nN={size:,} tenant tickets ({result['live']:,} live) + {result['noise']:,} other tenants' "
              f"(loaded in {result['load_s']:.1f} s)")
        for name in ("service all-time", "service last 7 days", "HTTP all-time", "HTTP 304 (If-None-Match)"):
            t = result[name]
            print(f"  {name:<28} median {t['median']:8.1f} ms wall (min {t['min']:.1f}, max {t['max']:.1f}), "
                  f"{t['cpu']:.1f} ms CPU")
        for name, t in result.get("variants", {}).items():
            print(f"  variant: {name:<40} median {t['median']:8.1f} ms wall, {t['cpu']:.1f} ms CPU")
    if len(results) > 1:
        print("\ngrowth (HTTP all-time, median CPU time):")
        first = results[0]
        for later in results[1:]:
            ratio = later["HTTP all-time"]["cpu"] / first["HTTP all-time"]["cpu"]
            print(f"  N x{later['size'] / first['size']:.0f} -> time x{ratio:.1f}")


if __name__ == "__main__":
    main()
