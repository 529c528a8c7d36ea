"""TenantStats: a tenant's ticket analytics, aggregated from its rollups (analytics/rollups.py).

A request reads no tickets. It turns the range into bucket ids (whole days, plus the hours
of the partial days at its edges, the edges rounded outward to whole hours) and runs small
pipelines over the buckets, addressed by ``_id`` and ``tenant_id`` (an index lookup):

- the figures: one ``$facet`` over the range's day/hour buckets (totals, breakdowns, the
  open backlog, keywords, signals); the trend over the 24 hour buckets ending with this hour;
- the at-risk customers: for all time (every source), the ranking the last refresh stored;
  otherwise their per-bucket counts summed and ranked, then the ticket ids of the (at most
  ten) customers kept (analytics/buckets.py).

Cost, for a range of D days: at most D + 46 figure buckets (each a fixed handful of small
counts per source), the 24 trend buckets, and, for a bounded range or a source, the
at-risk entries of the same buckets (one per customer and source with a high-urgency or
negative ticket in the bucket). It grows with the days in range, and for that at-risk
figure with the flagged customers per day; never with the tenant's tickets as such.

Operators, each implemented by MongoDB and by the embedded engine (keep to this list):
  stages       $match, $unwind (path string), $group, $facet, $project, $sort, $limit
  accumulators $sum, $push (after a $sort, for a defined order)
  expressions  $add, $slice ([array, n]), $filter (input, as, cond), $in, $and, $eq
  query        $in, $gte
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ..clock import Clock, isoformat_z, utc
from ..domain import Sentiment, TicketSource, TicketStatus, Urgency, is_tenant_id
from ..errors import NotFound
from ..storage import Database
from .buckets import aggregate_buckets, at_risk_customers, bucket_read, source_stages
from .rollups import ALL_TIME, DAY, HOUR, bucket_id, day_start

STATUSES = TicketStatus.values()
URGENCIES = Urgency.values()
SENTIMENTS = Sentiment.values()
SOURCES = TicketSource.values()
# A group key for tickets that lack the field (ingestion validates it, so only legacy or
# hand-written data ends up here); counting them keeps the breakdowns summing to the total.
MISSING = "unknown"
TREND_HOURS = 24
TOP_KEYWORDS = 10
TOP_SIGNALS = 10
# Part of every ETag: bump it when the response's shape or meaning changes, so clients do
# not revalidate an old representation against a new server.
STATS_FORMAT = "stats-3"
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class StatsQuery:
    """What a stats request asks for: a tenant, an optional inclusive ``created_at`` range
    (aware datetimes) and an optional source. Raises ValueError for an invalid tenant id, a
    naive bound, ``created_from`` later than ``created_to`` or a source that is not a string."""

    tenant_id: str
    created_from: datetime | None = None
    created_to: datetime | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if not is_tenant_id(self.tenant_id):
            raise ValueError(f"invalid tenant id {self.tenant_id!r}")
        for name in ("created_from", "created_to"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
        if self.created_from and self.created_to and self.created_from > self.created_to:
            raise ValueError("created_from must not be later than created_to")
        if self.source is not None and not isinstance(self.source, str):
            raise ValueError(f"source must be a string, got {self.source!r}")

    def rounded(self) -> tuple[datetime | None, datetime | None]:
        """The range actually used: ``[from, to)`` with both edges moved outward to whole
        UTC hours (None: unbounded)."""
        start = hour_start(self.created_from) if self.created_from is not None else None
        end = hour_start(self.created_to) + _HOUR if self.created_to is not None else None
        return start, end


@dataclass(frozen=True)
class RangePlan:
    """The buckets that make up a rounded range: whole days, and hours for partial days."""

    days: tuple[datetime, ...] = ()
    hours: tuple[datetime, ...] = ()

    def ids(self, tenant_id: str) -> list[str]:
        return ([bucket_id(tenant_id, DAY, d) for d in self.days]
                + [bucket_id(tenant_id, HOUR, h) for h in self.hours])


def plan_range(start: datetime | None, end: datetime | None, first_day: date | None,
               last_day: date | None) -> RangePlan:
    """Cover ``[start, end)`` (hour-aligned, None: unbounded) with buckets, clamped to the
    tenant's days with data (``first_day``..``last_day``; None: no data)."""
    if first_day is None or last_day is None:
        return RangePlan()
    lower, upper = day_start(first_day), day_start(last_day) + _DAY
    if start is not None:
        lower = max(lower, start)
    if end is not None:
        upper = min(upper, end)
    days, hours = [], []
    cursor = lower
    while cursor < upper:
        if cursor.hour == 0 and cursor + _DAY <= upper:
            days.append(cursor)
            cursor += _DAY
        else:
            hours.append(cursor)
            cursor += _HOUR
    return RangePlan(tuple(days), tuple(hours))


@dataclass(frozen=True)
class StatsSnapshot:
    """A query pinned to the tenant's rollup state and the current hour: everything a stats
    answer depends on, hence what its ETag is made of."""

    query: StatsQuery
    version: int
    hour: datetime
    as_of_run: dict | None = None
    first_day: date | None = None
    last_day: date | None = None
    plan: RangePlan = field(default_factory=RangePlan)

    @property
    def etag(self) -> str:
        """An opaque validator: equal for two snapshots exactly when their answers can only
        differ in ``generated_at``. It moves when a run ends (its rollup refresh), when a
        rebuild runs, and when the hour turns; not while a run writes pages."""
        q = self.query
        start, end = q.rounded()
        run = (self.as_of_run or {}).get("job_id") or "-"
        key = "|".join((STATS_FORMAT, q.tenant_id, str(self.version), run, isoformat_z(self.hour),
                        _instant(start), _instant(end), q.source if q.source is not None else "*"))
        return hashlib.sha256(key.encode()).hexdigest()[:32]


class TenantStats:
    def __init__(self, db: Database, clock: Clock):
        self.db = db
        self.clock = clock

    def snapshot(self, query: StatsQuery) -> StatsSnapshot:
        """Pin the query to the tenant's rollup state and the current hour: one small read,
        no pipeline. Raises NotFound for a tenant with no ingestion run and no tickets."""
        doc = self.db.tenants.find_one({"_id": query.tenant_id}, {"rollups": 1})
        if doc is None and self.db.tickets.find_one({"tenant_id": query.tenant_id}, {"_id": 1}) is None:
            raise NotFound(f"unknown tenant {query.tenant_id}")
        state = (doc or {}).get("rollups") or {}
        first_day, last_day = _day(state.get("first_day")), _day(state.get("last_day"))
        return StatsSnapshot(query, int(state.get("version") or 0), hour_start(self.clock.now()),
                             _run(state.get("as_of_run")), first_day, last_day,
                             plan_range(*query.rounded(), first_day, last_day))

    def compute(self, snapshot: StatsSnapshot) -> dict[str, Any]:
        """The tenant's stats for the snapshot's range and source (the hourly trend covers
        the 24 hours ending with the snapshot's hour, whatever the range). Times are aware
        datetimes."""
        query = snapshot.query
        tenant = query.tenant_id
        range_ids = snapshot.plan.ids(tenant)
        first_trend_hour = snapshot.hour - _HOUR * (TREND_HOURS - 1)
        trend_ids = [bucket_id(tenant, HOUR, first_trend_hour + _HOUR * i) for i in range(TREND_HOURS)]
        facets = next(iter(self._aggregate(self.db.stats_rollups,
                                           figures_pipeline(tenant, range_ids, query.source))), {})
        trend = self._aggregate(self.db.stats_rollups, trend_pipeline(tenant, trend_ids, query.source))
        at_risk = self._ranked_all_time(query) if query.rounded() == (None, None) else None
        if at_risk is None:
            at_risk = at_risk_customers(self.db, tenant, range_ids, query.source)

        start, end = query.rounded()
        return {
            "tenant_id": tenant,
            "source": query.source,
            "range": {"from": start, "to": end},
            **figures_from_rows(facets),
            "hourly_trend": _hourly_trend(first_trend_hour, trend),
            "at_risk_customers": at_risk,
            "as_of_run": snapshot.as_of_run,
            "generated_at": self.clock.now(),
        }

    def _ranked_all_time(self, query: StatsQuery) -> list[dict] | None:
        """The all-time at-risk ranking stored by the last refresh, or None if it has none
        for this source (a source never seen: the buckets answer, with nothing)."""
        doc = self.db.stats_customer_rollups.find_one(
            {"_id": bucket_id(query.tenant_id, ALL_TIME), "tenant_id": query.tenant_id}, {"rankings": 1})
        for ranking in (doc or {}).get("rankings") or []:
            if ranking.get("source") == query.source:
                return ranking["customers"]
        return None

    def _aggregate(self, collection: Any, pipeline: list[dict]) -> list[dict]:
        return aggregate_buckets(collection, pipeline)


def figures_from_rows(facets: dict) -> dict[str, Any]:
    """The range's figures (all but the trend and the at-risk customers), in answer order,
    from the grouped rows of ``figures_pipeline``: zero-filled, with the ratios."""
    totals = (facets.get("totals") or [{}])[0]
    total = int(totals.get("total", 0))
    by_urgency = _zero_filled(URGENCIES, facets.get("by_urgency", []))
    by_sentiment = _zero_filled(SENTIMENTS, facets.get("by_sentiment", []))
    open_by_urgency = _zero_filled(URGENCIES, facets.get("open_by_urgency", []))
    return {
        "total_tickets": total,
        "by_status": _zero_filled(STATUSES, facets.get("by_status", [])),
        "by_urgency": by_urgency,
        "by_sentiment": by_sentiment,
        "by_source": _zero_filled(SOURCES, facets.get("by_source", [])),
        "urgency_high_ratio": _ratio(by_urgency["high"], total),
        "negative_sentiment_ratio": _ratio(by_sentiment["negative"], total),
        "requires_action_count": int(totals.get("requires_action", 0)),
        "open": {
            "total": int(totals.get("open_total", 0)),
            "by_urgency": open_by_urgency,
            "high_urgency_count": open_by_urgency["high"],
            "requires_action_count": int(totals.get("open_requires_action", 0)),
        },
        "top_keywords": [{"keyword": row["_id"], "count": int(row["count"])} for row in facets.get("top_keywords", [])],
        "top_signals": [{"signal": row["_id"], "count": int(row["count"])} for row in facets.get("top_signals", [])],
    }


def hour_start(moment: datetime) -> datetime:
    """The start of the UTC hour holding ``moment``."""
    return utc(moment).replace(minute=0, second=0, microsecond=0)


def figures_pipeline(tenant_id: str, range_ids: list[str], source: str | None) -> list[dict]:
    """Every figure but the trend and the at-risk customers, over the range's buckets (at
    most D + 46 small documents)."""
    def count_by(name: str) -> list[dict]:
        return [{"$unwind": f"$sources.{name}"},
                {"$group": {"_id": f"$sources.{name}.k", "count": {"$sum": f"$sources.{name}.n"}}}]

    return [
        *bucket_read(tenant_id, range_ids, "sources"),
        {"$unwind": "$sources"},
        *source_stages(source, "sources.source"),
        {"$facet": {
            "totals": [{"$group": {
                "_id": None,
                "total": {"$sum": "$sources.total"},
                "requires_action": {"$sum": "$sources.requires_action"},
                "open_total": {"$sum": "$sources.open_total"},
                "open_requires_action": {"$sum": "$sources.open_requires_action"},
            }}],
            "by_status": count_by("status"),
            "by_urgency": count_by("urgency"),
            "by_sentiment": count_by("sentiment"),
            "open_by_urgency": count_by("open_urgency"),
            "by_source": [{"$group": {"_id": "$sources.source", "count": {"$sum": "$sources.total"}}}],
            "top_keywords": [*count_by("keywords"), {"$sort": {"count": -1, "_id": 1}}, {"$limit": TOP_KEYWORDS}],
            # Buckets written before signals were counted hold none: $unwind skips them.
            "top_signals": [*count_by("signals"), {"$sort": {"count": -1, "_id": 1}}, {"$limit": TOP_SIGNALS}],
        }},
    ]


def trend_pipeline(tenant_id: str, trend_ids: list[str], source: str | None) -> list[dict]:
    """Tickets per hour bucket over the 24 hour buckets of the trend."""
    return [
        *bucket_read(tenant_id, trend_ids, "start", "sources"),
        {"$unwind": "$sources"},
        *source_stages(source, "sources.source"),
        {"$group": {"_id": "$start", "count": {"$sum": "$sources.total"}}},
    ]


def _zero_filled(known: tuple[str, ...], rows: list[dict]) -> dict[str, int]:
    """Known values first, in their documented order, zero when absent; then any other
    value present, by name."""
    counts = {value: 0 for value in known}
    extra: dict[str, int] = {}
    for row in rows:
        key = MISSING if row["_id"] is None else str(row["_id"])
        target = counts if key in counts else extra
        target[key] = target.get(key, 0) + int(row["count"])
    counts.update(sorted((k, v) for k, v in extra.items() if v))
    return counts


def _ratio(part: int, total: int) -> float:
    return round(part / total, 4) if total else 0.0


def _hourly_trend(first: datetime, rows: list[dict]) -> list[dict]:
    counts = {utc(row["_id"]): int(row["count"]) for row in rows if row["_id"] is not None}
    buckets = (first + _HOUR * i for i in range(TREND_HOURS))
    return [{"hour": b, "count": counts.get(b, 0)} for b in buckets]


def _day(text: Any) -> date | None:
    return date.fromisoformat(text) if isinstance(text, str) else None


def _run(run: Any) -> dict | None:
    if not isinstance(run, dict) or not run.get("job_id"):
        return None
    ended = run.get("ended_at")
    return {"job_id": run["job_id"], "ended_at": utc(ended) if isinstance(ended, datetime) else None}


def _instant(value: datetime | None) -> str:
    return isoformat_z(value) if value is not None else "-"
