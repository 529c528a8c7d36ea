"""TenantStats: a tenant's ticket analytics, computed by aggregation pipelines in MongoDB.

Python never reads tickets here: the database filters, groups and ranks, and this module
only reshapes the few rows the pipelines return (zero-filling, ratios, the 24 hour buckets).

Three pipelines per answer, each starting with a ``$match`` built by
``TicketRepository.live`` (tenant_id, deleted_at null, a created_at range): the prefix of
the ``tenant_live_created_v2`` index, so MongoDB reads exactly the tenant's live tickets in
range off the index. The range pipeline computes every figure in one ``$facet``; the
trend pipeline counts the last 24 hours; the third lists the ticket ids of the (at most
ten) at-risk customers, also served by ``tenant_customer_created``.

Operators used, each checked against MongoDB's manual and implemented by the embedded
engine (mongomock) as well; keep to this list when changing the pipelines:
  stages       $match, $project, $facet (3.4+), $group, $unwind (path string), $sort,
               $limit
  accumulators $sum, $push (in input order: preceded by a $sort for a defined order)
  expressions  $cond (array form), $eq, $add, $ifNull, $setUnion (with two array
               arguments: a null argument would make it null), $slice ([array, n]),
               $hour (of a date, in UTC when no timezone is given)
  query        $gte, $lte, $lt, $ne, $in, $or
Deliberately not used: $dateTrunc, $sortArray, $topN/$firstN, $sortByCount (the embedded
engine lacks them) and date arithmetic with $subtract (the engines disagree on its type).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..clock import Clock, isoformat_z, utc
from ..storage import Database
from ..domain import Sentiment, TicketStatus, Urgency, is_tenant_id
from ..tickets.repository import TicketRepository

STATUSES = TicketStatus.values()
URGENCIES = Urgency.values()
SENTIMENTS = Sentiment.values()
SOURCES = ("email", "chat", "web", "phone")
# A group key for tickets that lack the field (ingestion validates it, so only legacy or
# hand-written data ends up here); counting them keeps the breakdowns summing to the total.
MISSING = "unknown"
TREND_HOURS = 24
TOP_KEYWORDS = 10
TOP_AT_RISK = 10
AT_RISK_MIN_TICKETS = 2
# Per at-risk customer, the newest flagged tickets listed; the counts cover all of them.
AT_RISK_MAX_TICKET_IDS = 20
# Part of every ETag: bump it when the response's shape or meaning changes, so clients do
# not revalidate an old representation against a new server.
STATS_FORMAT = "stats-1"

_HIGH = {"$cond": [{"$eq": ["$urgency", "high"]}, 1, 0]}
_NEGATIVE = {"$cond": [{"$eq": ["$sentiment", "negative"]}, 1, 0]}
# A ticket that puts its customer at risk.
_FLAGGED = {"$or": [{"urgency": "high"}, {"sentiment": "negative"}]}
# Only what the facets read, so each stage carries small documents.
_FACET_FIELDS = ("external_id", "customer_id", "created_at", "status", "urgency", "sentiment",
                 "source", "requires_action", "keywords")


@dataclass(frozen=True)
class StatsQuery:
    """What a stats request asks for: a tenant and an optional inclusive ``created_at``
    range (aware datetimes). Raises ValueError for an invalid tenant id, a naive bound or
    ``created_from`` later than ``created_to``."""

    tenant_id: str
    created_from: datetime | None = None
    created_to: datetime | None = None

    def __post_init__(self) -> None:
        if not is_tenant_id(self.tenant_id):
            raise ValueError(f"invalid tenant id {self.tenant_id!r}")
        for name in ("created_from", "created_to"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
        if self.created_from and self.created_to and self.created_from > self.created_to:
            raise ValueError("created_from must not be later than created_to")

    def created_range(self) -> dict[str, Any]:
        """The ``created_at`` criteria of the range, or {} for all time."""
        bounds: dict[str, Any] = {}
        if self.created_from is not None:
            bounds["$gte"] = self.created_from
        if self.created_to is not None:
            bounds["$lte"] = self.created_to
        return {"created_at": bounds} if bounds else {}


@dataclass(frozen=True)
class StatsSnapshot:
    """A query pinned to the tenant's data version and the current hour: everything a stats
    answer depends on, hence what its ETag is made of."""

    query: StatsQuery
    data_version: int
    hour: datetime

    @property
    def etag(self) -> str:
        """An opaque validator: equal for two snapshots exactly when their answers can only
        differ in ``generated_at``."""
        q = self.query
        key = "|".join((STATS_FORMAT, q.tenant_id, str(self.data_version), isoformat_z(self.hour),
                        _instant(q.created_from), _instant(q.created_to)))
        return hashlib.sha256(key.encode()).hexdigest()[:32]


class TenantStats:
    def __init__(self, db: Database, clock: Clock):
        self.db = db
        self.clock = clock

    def snapshot(self, query: StatsQuery) -> StatsSnapshot:
        """Pin the query to the tenant's data version (0 for an unknown tenant) and the
        current hour; one small read, no pipeline. Take it BEFORE computing: ingestion
        writes tickets first and bumps the version after, so an answer computed after the
        read is never older than the version it is tagged with."""
        doc = self.db.tenants.find_one({"_id": query.tenant_id}, {"data_version": 1})
        version = int((doc or {}).get("data_version") or 0)
        return StatsSnapshot(query, version, hour_start(self.clock.now()))

    def compute(self, snapshot: StatsSnapshot) -> dict[str, Any]:
        """The tenant's stats for the snapshot's range (the hourly trend covers the 24 hours
        ending with the snapshot's hour, whatever the range). Times are aware datetimes; an
        unknown tenant gets zeros."""
        query = snapshot.query
        repo = TicketRepository(self.db, query.tenant_id)
        facets = next(iter(repo.aggregate(range_pipeline(repo, query))), None) or {}
        at_risk = facets.get("at_risk_customers", [])
        ticket_ids: dict[str, list[str]] = {}
        if at_risk:
            ids_pipeline = at_risk_ticket_ids_pipeline(repo, query, [row["_id"] for row in at_risk])
            ticket_ids = {row["_id"]: list(row["ticket_ids"]) for row in repo.aggregate(ids_pipeline)}
        trend_rows = repo.aggregate(trend_pipeline(repo, snapshot.hour))

        totals = (facets.get("totals") or [{}])[0]
        total = int(totals.get("total", 0))
        by_urgency = _zero_filled(URGENCIES, facets.get("by_urgency", []))
        by_sentiment = _zero_filled(SENTIMENTS, facets.get("by_sentiment", []))
        return {
            "tenant_id": query.tenant_id,
            "total_tickets": total,
            "by_status": _zero_filled(STATUSES, facets.get("by_status", [])),
            "by_urgency": by_urgency,
            "by_sentiment": by_sentiment,
            "by_source": _zero_filled(SOURCES, facets.get("by_source", [])),
            "urgency_high_ratio": _ratio(by_urgency["high"], total),
            "negative_sentiment_ratio": _ratio(by_sentiment["negative"], total),
            "requires_action_count": int(totals.get("requires_action", 0)),
            "hourly_trend": _hourly_trend(snapshot.hour, trend_rows),
            "top_keywords": [{"keyword": row["_id"], "count": int(row["count"])}
                             for row in facets.get("top_keywords", [])],
            "at_risk_customers": [{
                "customer_id": row["_id"],
                "high_urgency_count": int(row["high_urgency_count"]),
                "negative_count": int(row["negative_count"]),
                "ticket_ids": ticket_ids.get(row["_id"], []),
            } for row in at_risk],
            "generated_at": self.clock.now(),
        }


def hour_start(moment: datetime) -> datetime:
    """The start of the UTC hour holding ``moment``."""
    return utc(moment).replace(minute=0, second=0, microsecond=0)


def range_pipeline(repo: TicketRepository, query: StatsQuery) -> list[dict]:
    """Every figure of the range but the at-risk customers' ticket ids, in one pass over
    the tenant's live tickets in range.

    at_risk_customers: customers with at least AT_RISK_MIN_TICKETS flagged tickets (high
    urgency or negative sentiment; a ticket that is both counts once here). Worst first:
    high_urgency_count + negative_count descending (so a ticket that is both weighs
    twice), then high_urgency_count descending (urgency outranks tone), then customer_id
    ascending.
    top_keywords: each keyword counted once per ticket, count descending, then keyword
    ascending.
    """
    return [
        {"$match": repo.live(query.created_range())},
        {"$project": {"_id": 0, **{name: 1 for name in _FACET_FIELDS}}},
        {"$facet": {
            "totals": [{"$group": {
                "_id": None,
                "total": {"$sum": 1},
                "requires_action": {"$sum": {"$cond": [{"$eq": ["$requires_action", True]}, 1, 0]}},
            }}],
            "by_status": _count_by("status"),
            "by_urgency": _count_by("urgency"),
            "by_sentiment": _count_by("sentiment"),
            "by_source": _count_by("source"),
            "top_keywords": [
                # A set per ticket: a keyword listed twice on one ticket counts once.
                {"$project": {"keyword": {"$setUnion": [{"$ifNull": ["$keywords", []]}, []]}}},
                {"$unwind": "$keyword"},
                {"$group": {"_id": "$keyword", "count": {"$sum": 1}}},
                {"$sort": {"count": -1, "_id": 1}},
                {"$limit": TOP_KEYWORDS},
            ],
            # Ranks customers only; their ticket ids are a second, small read (see
            # at_risk_ticket_ids_pipeline) instead of pushing every flagged id of every
            # customer through this stage.
            "at_risk_customers": [
                {"$match": {**_FLAGGED, "customer_id": {"$ne": None}}},
                {"$group": {
                    "_id": "$customer_id",
                    "flagged": {"$sum": 1},
                    "high_urgency_count": {"$sum": _HIGH},
                    "negative_count": {"$sum": _NEGATIVE},
                }},
                {"$match": {"flagged": {"$gte": AT_RISK_MIN_TICKETS}}},
                {"$project": {
                    "high_urgency_count": 1,
                    "negative_count": 1,
                    "risk": {"$add": ["$high_urgency_count", "$negative_count"]},
                }},
                {"$sort": {"risk": -1, "high_urgency_count": -1, "_id": 1}},
                {"$limit": TOP_AT_RISK},
            ],
        }},
    ]


def at_risk_ticket_ids_pipeline(repo: TicketRepository, query: StatsQuery, customer_ids: list[str]) -> list[dict]:
    """The flagged tickets in range of the given customers, as ``{_id: customer_id,
    ticket_ids}``: newest first (created_at descending, then id ascending), at most
    AT_RISK_MAX_TICKET_IDS per customer."""
    return [
        {"$match": repo.live({**query.created_range(), "customer_id": {"$in": list(customer_ids)}, **_FLAGGED})},
        # $push keeps input order, so this sort is the order of the lists.
        {"$sort": {"created_at": -1, "external_id": 1}},
        {"$group": {"_id": "$customer_id", "ticket_ids": {"$push": "$external_id"}}},
        {"$project": {"ticket_ids": {"$slice": ["$ticket_ids", AT_RISK_MAX_TICKET_IDS]}}},
    ]


def trend_pipeline(repo: TicketRepository, hour: datetime) -> list[dict]:
    """Live tickets per hour over the TREND_HOURS hours ending with ``hour`` (inclusive),
    keyed by hour of day: within a window of exactly 24 aligned hours, the hour of day
    names each hour uniquely, which spares date arithmetic the engines disagree on."""
    window = {"created_at": {"$gte": hour - timedelta(hours=TREND_HOURS - 1), "$lt": hour + timedelta(hours=1)}}
    return [
        {"$match": repo.live(window)},
        {"$project": {"_id": 0, "created_at": 1}},
        {"$group": {"_id": {"$hour": "$created_at"}, "count": {"$sum": 1}}},
    ]


def _count_by(field: str) -> list[dict]:
    return [{"$group": {"_id": f"${field}", "count": {"$sum": 1}}}]


def _zero_filled(known: tuple[str, ...], rows: list[dict]) -> dict[str, int]:
    """Known values first, in their documented order, zero when absent; then any other
    value present, by name."""
    counts = {value: 0 for value in known}
    extra: dict[str, int] = {}
    for row in rows:
        key = MISSING if row["_id"] is None else str(row["_id"])
        target = counts if key in counts else extra
        target[key] = target.get(key, 0) + int(row["count"])
    counts.update(sorted(extra.items()))
    return counts


def _ratio(part: int, total: int) -> float:
    return round(part / total, 4) if total else 0.0


def _hourly_trend(hour: datetime, rows: list[dict]) -> list[dict]:
    by_hour_of_day = {int(row["_id"]): int(row["count"]) for row in rows if row["_id"] is not None}
    first = hour - timedelta(hours=TREND_HOURS - 1)
    buckets = (first + timedelta(hours=i) for i in range(TREND_HOURS))
    return [{"hour": b, "count": by_hour_of_day.get(b.hour, 0)} for b in buckets]


def _instant(value: datetime | None) -> str:
    # Millisecond precision: what BSON stores, so bounds equal in storage share a tag.
    return utc(value).isoformat(timespec="milliseconds") if value is not None else "-"
