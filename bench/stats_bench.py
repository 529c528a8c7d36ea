"""Tenant stats benchmark: how long does GET /tenants/{T}/stats take at 10,000, 100,000 and
1,000,000 tickets over 30 days, and how does it grow with N?

Stats are served from rollups (analytics/rollups.py), so each size first builds the
tenant's rollups:
- up to --ingest-max tickets (default 100,000): N tickets of the tenant plus other tenants'
  noise are bulk-loaded (realistic distributions: status, source, urgency, sentiment
  correlated with urgency, requires_action, 0-4 classifier keywords from a skewed
  vocabulary, a skewed customer pool, 10% created in the last 24 hours, 2% soft-deleted),
  then ``Rollups.rebuild`` builds the rollups from them (timed: a run's end does the same
  for the days it touched);
- above it (the 1M row): the rollups are seeded directly: one day's tickets (N / 31, the
  same distributions) are generated into a scratch database, ``Rollups.refresh`` builds
  that day's buckets, and they are copied to each of the 31 days (dates shifted). No
  tickets are kept (a stats request never reads them).

Then it times, as the median of several runs after one warm-up:
- the service (``TenantStats.snapshot`` + ``compute``) for all time and the last 7 days;
- its two parts for all time: the figures pipeline, and the at-risk customers (whose work
  grows with the flagged customers per bucket, not only with the days);
- the HTTP endpoint through Flask's test client (full request: validation, pipelines, JSON);
- a conditional request answered 304 (the dashboard's repeated load).

    python bench/stats_bench.py                                 # embedded engine, 10k, 100k, 1M
    python bench/stats_bench.py --sizes 10000 --runs 9
    python bench/stats_bench.py --pool 2000                     # a fixed customer base instead of N/4
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
from ticketsvc.analytics import Rollups  # noqa: E402
from ticketsvc.analytics.rollups import bucket_id, day_start  # noqa: E402
from ticketsvc.analytics.buckets import at_risk_pipeline, at_risk_ticket_ids_pipeline  # noqa: E402
from ticketsvc.analytics.stats import StatsQuery, figures_pipeline  # noqa: E402
from ticketsvc.config import Settings  # noqa: E402
from ticketsvc.storage import Database  # noqa: E402
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


def make_tickets(tenant: str, count: int, now: datetime, rng: random.Random, pool: int,
                 window: tuple[datetime, datetime] | None = None, first_id: int = 0) -> list[dict]:
    """``count`` stored tickets in the shape ingestion writes them, created over the last 30
    days (10% in the last 24 hours) or uniformly within ``window``."""
    docs = []
    for n in range(first_id, first_id + count):
        if window is not None:
            created = window[0] + (window[1] - window[0]) * rng.random()
        else:
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


def pool_for(size: int, args: argparse.Namespace) -> int:
    """The customer base: --pool, or a quarter of the tickets (as the mock upstream does)."""
    return args.pool or max(3, size // 4)


def load(database: Database, size: int, args: argparse.Namespace, now: datetime) -> tuple[int, float, float]:
    """Bulk-insert the tenant's tickets and the noise, then build every tenant's rollups;
    returns (live tickets of the tenant, load seconds, rollup build seconds)."""
    rng = random.Random(size)
    started = time.perf_counter()
    live = 0
    plan = [(TENANT, size)] + [(t, int(size * args.noise / len(NOISE_TENANTS))) for t in NOISE_TENANTS]
    for tenant, count in plan:
        docs = make_tickets(tenant, count, now, rng, pool_for(count, args))
        if tenant == TENANT:
            live = sum(1 for d in docs if "deleted_at" not in d)
        for start in range(0, len(docs), BATCH):
            database.tickets.insert_many(docs[start:start + BATCH], ordered=False)
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    rollups = Rollups(database)
    for tenant, _ in plan:
        rollups.rebuild(tenant)
    return live, loaded, time.perf_counter() - started


def seed_rollups(database: Database, size: int, args: argparse.Namespace, now: datetime) -> tuple[int, float, float]:
    """Seed the tenant's rollups for ``size`` tickets over the last 31 days (today included)
    without keeping the tickets: one day's worth (size / 31 tickets, the same distributions,
    the customer pool of ``size``) is generated into a scratch database, ``Rollups.refresh``
    builds its buckets, and they are copied to every day, dates shifted and ticket ids made
    unique per day. Every day then has the bucket documents a real day of that volume has
    (a request's cost depends on those, not on which tickets they count). Returns (live
    tickets, 0, seconds)."""
    rng = random.Random(size)
    started = time.perf_counter()
    days = [now.date() - timedelta(days=d) for d in range(30, -1, -1)]
    template_day = days[0]
    scratch = Database(database.settings.with_overrides(mongo_db="scratch_" + uuid.uuid4().hex[:8]))
    try:
        start = day_start(template_day)
        docs = make_tickets(TENANT, size // len(days), now, rng, pool_for(size, args),
                            window=(start, start + timedelta(days=1)))
        live_per_day = sum(1 for d in docs if "deleted_at" not in d)
        for offset in range(0, len(docs), BATCH):
            scratch.tickets.insert_many(docs[offset:offset + BATCH], ordered=False)
        Rollups(scratch).refresh(TENANT, [template_day], rank=False)
        template = {name: list(scratch[name].find({"tenant_id": TENANT, "grain": {"$ne": "all"}}))
                    for name in ("stats_rollups", "stats_customer_rollups")}
    finally:
        if not scratch.settings.embedded:
            scratch._client.drop_database(scratch.settings.mongo_db)
        scratch.close()
    for n, day in enumerate(days):
        shift = day_start(day) - day_start(template_day)
        for name, buckets in template.items():
            copies = []
            for bucket in buckets:
                copy = dict(bucket, start=bucket["start"] + shift, day=day.isoformat())
                copy["_id"] = bucket_id(TENANT, bucket["grain"], copy["start"])
                if "tickets" in bucket:
                    copy["tickets"] = [dict(entry, tickets=[{"at": t["at"] + shift, "id": f"{t['id']}-{n}"}
                                                             for t in entry["tickets"]])
                                       for entry in bucket["tickets"]]
                copies.append(copy)
            database[name].insert_many(copies)
    database.tenants.update_one({"_id": TENANT}, {"$set": {
        "rollups.first_day": days[0].isoformat(), "rollups.last_day": days[-1].isoformat(), "rollups.version": 1}},
        upsert=True)
    Rollups(database).rank_customers(TENANT)  # what each refresh ends with, once over every day
    print(f"  seeded {len(days)} days of {size // len(days):,} tickets", file=sys.stderr)
    return live_per_day * len(days), 0.0, time.perf_counter() - started


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


def bench_size(args: argparse.Namespace, size: int) -> dict:
    base = Settings.from_env(dict(os.environ), auth_mode="off", log_level="warning", sync_interval_s=0.0)
    settings = base
    if not base.embedded:
        settings = base.with_overrides(mongo_db="ticketsvc_bench_" + uuid.uuid4().hex[:10])
    database = Database(settings)
    now = datetime.now(timezone.utc)
    try:
        database.prepare()
        seeded = size > args.ingest_max
        live, load_s, rollup_s = (seed_rollups if seeded else load)(database, size, args, now)
        app = create_app(settings, database=database)
        runtime = get_runtime(app)
        client = app.test_client()
        stats = runtime.stats
        all_time = StatsQuery(TENANT)
        week = StatsQuery(TENANT, created_from=now - timedelta(days=7), created_to=now)
        snapshot = stats.snapshot(all_time)
        body = stats.compute(snapshot)
        assert body["total_tickets"] == live, (body["total_tickets"], live)
        ids = snapshot.plan.ids(TENANT)

        def figures():
            return list(database.stats_rollups.aggregate(figures_pipeline(TENANT, ids, None)))

        def at_risk():
            top = list(database.stats_customer_rollups.aggregate(at_risk_pipeline(TENANT, ids, None)))
            return list(database.stats_customer_rollups.aggregate(
                at_risk_ticket_ids_pipeline(TENANT, ids, None, [r["_id"] for r in top])))

        url = f"/tenants/{TENANT}/stats"

        def revalidate():
            # The ETag moves when the hour turns: a long run may cross one; take a current one.
            etag = client.get(url).headers["ETag"]
            response = client.get(url, headers={"If-None-Match": etag})
            assert response.status_code == 304 or client.get(url).headers["ETag"] != etag
            return response

        etag = client.get(url).headers["ETag"]
        entries = sum(len(d["customers"]) for d in database.stats_customer_rollups.find(
            {"_id": {"$in": ids}, "tenant_id": TENANT}, {"customers.customer_id": 1}))
        result = {
            "size": size, "live": live, "seeded": seeded, "load_s": load_s, "rollup_s": rollup_s,
            "pool": pool_for(size, args), "buckets": len(ids), "at_risk_entries": entries,
            "service all-time": timed(lambda: stats.compute(stats.snapshot(all_time)), args.runs),
            "service last 7 days": timed(lambda: stats.compute(stats.snapshot(week)), args.runs),
            "  part: figures": timed(figures, args.runs),
            "  part: at-risk customers": timed(at_risk, args.runs),
            "HTTP all-time": timed(lambda: client.get(url), args.runs),
            "HTTP 304 (If-None-Match)": timed(lambda: client.get(url, headers={"If-None-Match": etag}), args.runs),
        }
        revalidate()
        runtime.stop()
        return result
    finally:
        if not settings.embedded:
            database._client.drop_database(settings.mongo_db)
        database.close()


MEASURES = ("service all-time", "service last 7 days", "  part: figures", "  part: at-risk customers",
            "HTTP all-time", "HTTP 304 (If-None-Match)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement (median reported)")
    parser.add_argument("--noise", type=float, default=1.0,
                        help="other tenants' tickets, as a multiple of N (default 1.0: as many again)")
    parser.add_argument("--ingest-max", type=int, default=100_000,
                        help="above this many tickets, seed the rollups day by day instead of loading tickets")
    parser.add_argument("--pool", type=int, default=0, help="customers per tenant (default: a quarter of N)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    engine = Settings.from_env(dict(os.environ), auth_mode="off").engine
    print(f"engine={engine} runs={args.runs} noise={args.noise}x cpus={os.cpu_count()}")
    results = []
    for size in args.sizes:
        result = bench_size(args, size)
        results.append(result)
        how = (f"rollups seeded day by day in {result['rollup_s']:.1f} s" if result["seeded"] else
               f"+ {int(size * args.noise):,} other tenants' tickets loaded in {result['load_s']:.1f} s, "
               f"rollups built in {result['rollup_s']:.1f} s")
        print(f"\nN={size:,} tenant tickets ({result['live']:,} live), {result['pool']:,} customers, {how}; "
              f"all time = {result['buckets']} buckets, {result['at_risk_entries']:,} at-risk entries")
        for name in MEASURES:
            t = result[name]
            print(f"  {name:<28} median {t['median']:8.1f} ms wall (min {t['min']:.1f}, max {t['max']:.1f}), "
                  f"{t['cpu']:.1f} ms CPU")
    if len(results) > 1:
        print("\ngrowth against the first size (median wall time):")
        first = results[0]
        for later in results[1:]:
            ratios = ", ".join(f"{name.strip()} x{later[name]['median'] / first[name]['median']:.2f}"
                               for name in ("HTTP all-time", "service all-time", "  part: figures",
                                            "  part: at-risk customers"))
            print(f"  N x{later['size'] / first['size']:.0f}: {ratios}")


if __name__ == "__main__":
    main()
