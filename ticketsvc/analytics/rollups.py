"""Rollups: a tenant's ticket figures pre-aggregated per UTC day and per UTC hour, so a stats
request reads a few small documents per day in range instead of every ticket.

Two collections, both derived data (rebuildable from ``tickets`` at any time):

- ``stats_rollups``: per tenant and bucket (a day, or an hour), the figures of the live
  tickets created in it, split by source: total, requires_action, counts by status, urgency
  and sentiment, the open backlog (status not resolved/closed) by urgency with its
  requires_action count, and keyword and signal counts (once per ticket).
- ``stats_customer_rollups``: per tenant and bucket, one entry per (customer, source) with a
  high-urgency or negative ticket in it: the high, negative and flagged counts
  (``customers``) and, apart, the newest flagged ticket ids (``tickets``). Kept apart because it is the one part whose size grows with
  customers rather than with days.

A bucket is never adjusted by deltas: ``refresh`` recomputes whole days (the day bucket and
its hour buckets) from their tickets with aggregation pipelines, then replaces them, so it
is idempotent and cannot drift. Ingestion marks the days it is about to write as dirty on
the tenant's record BEFORE it writes (``mark_dirty``), and every run's end (whatever its
outcome, also a run the reaper finalises) refreshes the dirty days (``run_finished``): a
crash between a ticket write and its rollup leaves the day marked, and the next run's end
corrects it. A mark is cleared only if no newer mark replaced it meanwhile.

Every document carries ``tenant_id``, every write filter names it, and the unique index of
both collections starts with it (storage/indexes.py).

Operators of the refresh pipelines (both engines implement them): $match, $project,
$unwind, $group, $sort, $push, $sum, $cond, $eq, $ifNull, $setUnion, $slice, $dateToString
(format only: UTC, as on MongoDB without a timezone).
"""
from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

from pymongo import DeleteMany, ReplaceOne

from ..clock import utc
from ..domain import require_tenant_id
from ..storage import Database
from ..tickets.repository import TicketRepository
from .buckets import AT_RISK_MAX_TICKET_IDS, at_risk_customers

DAY, HOUR, ALL_TIME = "day", "hour", "all"
CLOSED_STATUSES = ("resolved", "closed")
# Days recomputed per pipeline: bounds what one aggregation returns.
DAYS_PER_REFRESH = 31
_HOUR_FORMAT = "%Y-%m-%dT%H"
_HIGH = {"$cond": [{"$eq": ["$urgency", "high"]}, 1, 0]}
_NEGATIVE = {"$cond": [{"$eq": ["$sentiment", "negative"]}, 1, 0]}
FLAGGED = {"$or": [{"urgency": "high"}, {"sentiment": "negative"}]}


def day_of(moment: datetime) -> date:
    return utc(moment).date()


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def bucket_id(tenant_id: str, grain: str, start: datetime | None = None) -> str:
    """The deterministic ``_id`` of a bucket: reads address buckets by it (an index lookup
    on either engine), and a refresh replaces the same documents. The all-time at-risk
    ranking has no start."""
    if grain == ALL_TIME:
        return f"{tenant_id}|{ALL_TIME}"
    stamp = utc(start).strftime("%Y-%m-%d" if grain == DAY else _HOUR_FORMAT)
    return f"{tenant_id}|{grain}|{stamp}"


# -- the refresh pipelines (over a tenant's live tickets created in [start, end)) --------------
_REFRESH_FIELDS = ("created_at", "source", "status", "urgency", "sentiment", "requires_action", "keywords",
                   "signals", "customer_id", "external_id")
# The tickets' list fields a bucket counts by value (each value once per ticket), under the same name.
TERM_FIELDS = ("keywords", "signals")


def _window(repo: TicketRepository, start: datetime, end: datetime, **extra) -> list[dict]:
    """The live tickets created in [start, end), only the fields rollups read (a plain
    projection right after the $match: a server, and the embedded engine, read no more)."""
    return [{"$match": repo.live({"created_at": {"$gte": start, "$lt": end}, **extra})},
            {"$project": {"_id": 0, **{name: 1 for name in _REFRESH_FIELDS}}}]


def _hour_of_created() -> dict:
    return {"$dateToString": {"format": _HOUR_FORMAT, "date": "$created_at"}}


def cells_pipeline(repo: TicketRepository, start: datetime, end: datetime) -> list[dict]:
    """Live tickets counted per (hour, source, status, urgency, sentiment, requires_action)."""
    return [
        *_window(repo, start, end),
        {"$project": {"_id": 0, "hour": _hour_of_created(), "source": 1, "status": 1, "urgency": 1,
                      "sentiment": 1, "ra": {"$eq": ["$requires_action", True]}}},
        {"$group": {"_id": {"hour": "$hour", "source": "$source", "status": "$status", "urgency": "$urgency",
                            "sentiment": "$sentiment", "ra": "$ra"}, "n": {"$sum": 1}}},
    ]


def terms_pipeline(repo: TicketRepository, start: datetime, end: datetime, field: str) -> list[dict]:
    """Tickets per (hour, source, term) of the list ``field`` (``keywords``, ``signals``),
    each term counted once per ticket; a ticket without the field counts towards none."""
    return [
        *_window(repo, start, end),
        {"$project": {"_id": 0, "hour": _hour_of_created(), "source": 1,
                      "term": {"$setUnion": [{"$ifNull": [f"${field}", []]}, []]}}},
        {"$unwind": "$term"},
        {"$group": {"_id": {"hour": "$hour", "source": "$source", "term": "$term"}, "n": {"$sum": 1}}},
    ]


def customers_pipeline(repo: TicketRepository, start: datetime, end: datetime) -> list[dict]:
    """Per (hour, source, customer) with flagged tickets (high urgency or negative): the
    counts and the newest AT_RISK_MAX_TICKET_IDS flagged tickets (created_at desc, id asc)."""
    return [
        *_window(repo, start, end, customer_id={"$ne": None}, **FLAGGED),
        # $push keeps input order, so this sort is the order of the lists.
        {"$sort": {"created_at": -1, "external_id": 1}},
        {"$project": {"_id": 0, "hour": _hour_of_created(), "source": 1, "customer_id": 1, "created_at": 1,
                      "external_id": 1, "high": _HIGH, "negative": _NEGATIVE}},
        {"$group": {"_id": {"hour": "$hour", "source": "$source", "customer_id": "$customer_id"},
                    "high": {"$sum": "$high"}, "negative": {"$sum": "$negative"}, "flagged": {"$sum": 1},
                    "tickets": {"$push": {"at": "$created_at", "id": "$external_id"}}}},
        {"$project": {"high": 1, "negative": 1, "flagged": 1,
                      "tickets": {"$slice": ["$tickets", AT_RISK_MAX_TICKET_IDS]}}},
    ]


# -- shaping pipeline rows into bucket documents ----------------------------------------------
@dataclass
class _SourceFigures:
    total: int = 0
    requires_action: int = 0
    open_total: int = 0
    open_requires_action: int = 0
    status: Counter = field(default_factory=Counter)
    urgency: Counter = field(default_factory=Counter)
    sentiment: Counter = field(default_factory=Counter)
    open_urgency: Counter = field(default_factory=Counter)
    keywords: Counter = field(default_factory=Counter)
    signals: Counter = field(default_factory=Counter)

    def add_cell(self, key: dict, n: int) -> None:
        self.total += n
        self.status[key.get("status")] += n
        self.urgency[key.get("urgency")] += n
        self.sentiment[key.get("sentiment")] += n
        ra = n if key.get("ra") else 0
        self.requires_action += ra
        if key.get("status") not in CLOSED_STATUSES:
            self.open_total += n
            self.open_requires_action += ra
            self.open_urgency[key.get("urgency")] += n

    def merge(self, other: "_SourceFigures") -> None:
        for name in ("total", "requires_action", "open_total", "open_requires_action"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in _COUNTED:
            getattr(self, name).update(getattr(other, name))

    def document(self, source: Any) -> dict:
        return {"source": source, "total": self.total, "requires_action": self.requires_action,
                "open_total": self.open_total, "open_requires_action": self.open_requires_action,
                **{name: _pairs(getattr(self, name)) for name in _COUNTED}}


_COUNTED = ("status", "urgency", "sentiment", "open_urgency", *TERM_FIELDS)


def _pairs(counts: Counter) -> list[dict]:
    return [{"k": k, "n": n} for k, n in sorted(counts.items(), key=lambda kv: (kv[0] is None, str(kv[0]))) if n]


@dataclass
class _CustomerFigures:
    high: int = 0
    negative: int = 0
    flagged: int = 0
    tickets: list = field(default_factory=list)

    def add(self, high: int, negative: int, flagged: int, tickets: list) -> None:
        self.high += high
        self.negative += negative
        self.flagged += flagged
        merged = self.tickets + [{"at": utc(t["at"]), "id": t["id"]} for t in tickets]
        merged.sort(key=lambda t: (-t["at"].timestamp(), t["id"]))
        self.tickets = merged[:AT_RISK_MAX_TICKET_IDS]


def _hour_start(text: str) -> datetime:
    return datetime.strptime(text, _HOUR_FORMAT).replace(tzinfo=timezone.utc)


def build_buckets(tenant_id: str, cells: Iterable[dict], terms: dict[str, Iterable[dict]],
                  customers: Iterable[dict]) -> tuple[list[dict], list[dict]]:
    """The figures and customer bucket documents (hours, and the days summing them) from
    the refresh pipelines' rows (``terms``: the rows of ``terms_pipeline`` by bucket field,
    e.g. ``keywords``). Only buckets holding tickets are returned."""
    figures: dict[tuple[str, datetime], dict[Any, _SourceFigures]] = {}
    people: dict[tuple[str, datetime], dict[tuple, _CustomerFigures]] = {}

    def both_grains(hour_text: str) -> tuple[tuple[str, datetime], tuple[str, datetime]]:
        hour = _hour_start(hour_text)
        return (HOUR, hour), (DAY, day_start(hour.date()))

    for row in cells:
        key = row["_id"]
        for bucket in both_grains(key["hour"]):
            figures.setdefault(bucket, {}).setdefault(key.get("source"), _SourceFigures()).add_cell(key, int(row["n"]))
    for name, rows in terms.items():
        for row in rows:
            key = row["_id"]
            for bucket in both_grains(key["hour"]):
                counts = getattr(figures.setdefault(bucket, {}).setdefault(key.get("source"), _SourceFigures()), name)
                counts[key["term"]] += int(row["n"])
    for row in customers:
        key = row["_id"]
        for bucket in both_grains(key["hour"]):
            people.setdefault(bucket, {}).setdefault((key["customer_id"], key.get("source")), _CustomerFigures()).add(
                int(row["high"]), int(row["negative"]), int(row["flagged"]), list(row["tickets"]))

    def head(grain: str, start: datetime) -> dict:
        return {"_id": bucket_id(tenant_id, grain, start), "tenant_id": tenant_id, "grain": grain,
                "start": start, "day": start.strftime("%Y-%m-%d")}

    figure_docs = [{**head(*bucket), "sources": [figures[bucket][s].document(s) for s in
                                                 sorted(figures[bucket], key=lambda s: (s is None, str(s)))]}
                   for bucket in sorted(figures)]
    customer_docs = []
    for bucket in sorted(people):
        entries = sorted(people[bucket].items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1])))
        # Counts and ticket ids apart: ranking reads only the counts.
        customer_docs.append({**head(*bucket), "customers": [
            {"customer_id": c, "source": s, "high": f.high, "negative": f.negative, "flagged": f.flagged}
            for (c, s), f in entries], "tickets": [
            {"customer_id": c, "source": s, "tickets": f.tickets} for (c, s), f in entries]})
    return figure_docs, customer_docs


# -- the service ---------------------------------------------------------------------------
class Rollups:
    """Maintains the rollups of every tenant; see the module docstring for the guarantees."""

    def __init__(self, db: Database):
        self.db = db

    # -- ingestion's side ---------------------------------------------------------------
    def mark_dirty(self, tenant_id: str, created_ats: Iterable[datetime]) -> None:
        """Record, before tickets created at ``created_ats`` are written, that their days
        need a refresh. One small write; nothing when there is nothing to mark."""
        days = sorted({day_of(moment) for moment in created_ats if isinstance(moment, datetime)})
        if not days:
            return
        token = uuid.uuid4().hex  # a newer mark of the same day replaces it, so its refresh is not lost
        self.db.tenants.update_one({"_id": require_tenant_id(tenant_id)},
                                   {"$set": {f"rollups.dirty.{d.isoformat()}": token for d in days}}, upsert=True)

    def run_finished(self, record: dict) -> None:
        """At the end of an ingestion run (any outcome): refresh the tenant's dirty days,
        and if the run completed, make it the ``as_of_run`` of the tenant's stats."""
        tenant_id = record["tenant_id"]
        self.refresh_dirty(tenant_id)
        if record.get("status") == "completed":
            self.db.tenants.update_one(
                {"_id": require_tenant_id(tenant_id)},
                {"$set": {"rollups.as_of_run": {"job_id": record["job_id"], "ended_at": record["ended_at"]}},
                 "$inc": {"rollups.version": 1}}, upsert=True)

    def refresh_dirty(self, tenant_id: str) -> list[date]:
        """Refresh every day marked dirty for the tenant; returns the days refreshed."""
        state = (self.db.tenants.find_one({"_id": require_tenant_id(tenant_id)}, {"rollups.dirty": 1}) or {})
        marks: dict[str, str] = (state.get("rollups") or {}).get("dirty") or {}
        if not marks:
            return []
        days = sorted(date.fromisoformat(d) for d in marks)
        self.refresh(tenant_id, days)
        for day_text, token in marks.items():
            # Only the mark this refresh covered: a newer one means a newer write, not yet counted.
            self.db.tenants.update_one({"_id": tenant_id, f"rollups.dirty.{day_text}": token},
                                       {"$unset": {f"rollups.dirty.{day_text}": ""}})
        return days

    def refresh(self, tenant_id: str, days: Iterable[date], *, rank: bool = True) -> int:
        """Recompute the day and hour buckets of ``days`` from the tenant's live tickets and
        replace them (buckets left without tickets are deleted), then (unless ``rank`` is
        false: a caller refreshing many times ranks once at the end) the all-time at-risk
        ranking. Idempotent. Returns the number of bucket documents written."""
        days = sorted(set(days))
        written = self._recompute(tenant_id, days)
        if days and rank:
            self.rank_customers(tenant_id)
        self._bump_version(tenant_id)
        return written

    def _bump_version(self, tenant_id: str) -> None:
        # Last, once everything is written: the version is in the stats' ETag, and a client
        # must not cache a half-refreshed answer under the new one.
        self.db.tenants.update_one({"_id": tenant_id}, {"$inc": {"rollups.version": 1}}, upsert=True)

    def _recompute(self, tenant_id: str, days: list[date]) -> int:
        repo = TicketRepository(self.db, tenant_id)
        written = 0
        for span in _spans(days):
            start, end = day_start(span[0]), day_start(span[-1]) + timedelta(days=1)
            figure_docs, customer_docs = build_buckets(
                tenant_id,
                repo.aggregate(cells_pipeline(repo, start, end)),
                {name: repo.aggregate(terms_pipeline(repo, start, end, name)) for name in TERM_FIELDS},
                repo.aggregate(customers_pipeline(repo, start, end)),
            )
            day_texts = [d.isoformat() for d in span]
            for collection, docs in ((self.db.stats_rollups, figure_docs),
                                     (self.db.stats_customer_rollups, customer_docs)):
                ops: list = [ReplaceOne({"_id": doc["_id"], "tenant_id": tenant_id}, doc, upsert=True) for doc in docs]
                # Buckets of these days that no longer hold tickets.
                fresh = {doc["_id"] for doc in docs}
                stale = [doc["_id"] for doc in collection.find({"tenant_id": tenant_id, "day": {"$in": day_texts}},
                                                               {"_id": 1}) if doc["_id"] not in fresh]
                if stale:
                    ops.append(DeleteMany({"tenant_id": tenant_id, "_id": {"$in": stale}}))
                if ops:
                    collection.bulk_write(ops, ordered=True)
            written += len(figure_docs) + len(customer_docs)
            present = sorted(doc["day"] for doc in figure_docs if doc["grain"] == DAY)
            if present:
                self.db.tenants.update_one({"_id": tenant_id}, {"$min": {"rollups.first_day": present[0]},
                                                                "$max": {"rollups.last_day": present[-1]}},
                                           upsert=True)
        return written

    def rank_customers(self, tenant_id: str) -> None:
        """Recompute the tenant's all-time at-risk ranking (every source together) from its
        day buckets, and store it as one document: an all-time stats request then reads that
        instead of every customer entry. Runs after each refresh, so its cost (the tenant's
        flagged customer-days) is paid once per run, not per request."""
        state = (self.db.tenants.find_one({"_id": tenant_id}, {"rollups": 1}) or {}).get("rollups") or {}
        first, last = state.get("first_day"), state.get("last_day")
        rankings = []
        if first and last:
            start, end = date.fromisoformat(first), date.fromisoformat(last)
            ids = [bucket_id(tenant_id, DAY, day_start(start + timedelta(days=i)))
                   for i in range((end - start).days + 1)]
            # Every source together: the default view. A source-filtered all-time request
            # ranks the day buckets itself (cost: that source's flagged customer-days).
            rankings.append({"source": None, "customers": at_risk_customers(self.db, tenant_id, ids, None)})
        self.db.stats_customer_rollups.replace_one(
            {"_id": bucket_id(tenant_id, ALL_TIME), "tenant_id": tenant_id},
            {"_id": bucket_id(tenant_id, ALL_TIME), "tenant_id": tenant_id, "grain": ALL_TIME, "start": None,
             "day": ALL_TIME, "rankings": rankings}, upsert=True)

    def rebuild(self, tenant_id: str) -> int:
        """Recompute every bucket of the tenant from its tickets, and drop buckets of days
        without live tickets. Returns the number of bucket documents written."""
        repo = TicketRepository(self.db, tenant_id)
        rows = repo.aggregate([
            {"$match": repo.live()},
            {"$project": {"_id": 0, "day": {"$dateToString": {"format": "%Y-%m-%d", "date": "$created_at"}}}},
            {"$group": {"_id": "$day"}},
        ])
        days = sorted(date.fromisoformat(row["_id"]) for row in rows if row["_id"])
        written = self._recompute(tenant_id, days)
        keep = [d.isoformat() for d in days]
        for collection in (self.db.stats_rollups, self.db.stats_customer_rollups):
            collection.delete_many({"tenant_id": tenant_id, "day": {"$nin": [*keep, ALL_TIME]}})
        if keep:
            update: dict[str, Any] = {"$set": {"rollups.first_day": keep[0], "rollups.last_day": keep[-1]}}
        else:
            update = {"$unset": {"rollups.first_day": "", "rollups.last_day": ""}}
        self.db.tenants.update_one({"_id": tenant_id}, update, upsert=True)
        self.rank_customers(tenant_id)
        self._bump_version(tenant_id)
        return written

    def tenants_with_data(self) -> list[str]:
        """Every tenant that has tickets or rollups (what a full rebuild covers)."""
        found = set(self.db.tickets.distinct("tenant_id"))
        for collection in (self.db.stats_rollups, self.db.stats_customer_rollups):
            found.update(collection.distinct("tenant_id"))
        return sorted(t for t in found if isinstance(t, str))


def _spans(days: list[date]) -> Iterable[list[date]]:
    """Runs of consecutive days, at most DAYS_PER_REFRESH long."""
    span: list[date] = []
    for day in days:
        if span and (day - span[-1] != timedelta(days=1) or len(span) >= DAYS_PER_REFRESH):
            yield span
            span = []
        span.append(day)
    if span:
        yield span
