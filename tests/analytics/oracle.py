"""The oracle of the rollup tests: the stats as they were computed before rollups, by
pipelines over the tenant's live tickets themselves (plus the open backlog and the source
filter). Slow (it reads every ticket in range) and obviously right: every figure the
rollups give must equal the figure this computes."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ticketsvc.analytics.buckets import AT_RISK_MAX_TICKET_IDS, AT_RISK_MIN_TICKETS, TOP_AT_RISK
from ticketsvc.analytics.stats import TOP_KEYWORDS, TOP_SIGNALS, TREND_HOURS, StatsQuery, figures_from_rows
from ticketsvc.analytics.rollups import CLOSED_STATUSES, FLAGGED
from ticketsvc.tickets.repository import TicketRepository

_HIGH = {"$cond": [{"$eq": ["$urgency", "high"]}, 1, 0]}
_NEGATIVE = {"$cond": [{"$eq": ["$sentiment", "negative"]}, 1, 0]}
_FACET_FIELDS = ("external_id", "customer_id", "created_at", "status", "urgency", "sentiment",
                 "source", "requires_action", "keywords", "signals")


def criteria(query: StatsQuery) -> dict[str, Any]:
    """The tickets a query covers: its range as rounded by the service, and its source."""
    start, end = query.rounded()
    bounds = {**({"$gte": start} if start else {}), **({"$lt": end} if end else {})}
    found: dict[str, Any] = {"created_at": bounds} if bounds else {}
    if query.source is not None:
        found["source"] = query.source
    return found


def range_pipeline(repo: TicketRepository, query: StatsQuery) -> list[dict]:
    def count_by(name: str) -> list[dict]:
        return [{"$group": {"_id": f"${name}", "count": {"$sum": 1}}}]

    def top(field: str, limit: int) -> list[dict]:
        """Tickets per value of a list field, each value once per ticket."""
        return [
            {"$project": {"value": {"$setUnion": [{"$ifNull": [f"${field}", []]}, []]}}},
            {"$unwind": "$value"},
            {"$group": {"_id": "$value", "count": {"$sum": 1}}},
            {"$sort": {"count": -1, "_id": 1}},
            {"$limit": limit},
        ]

    return [
        {"$match": repo.live(criteria(query))},
        {"$project": {"_id": 0, **{name: 1 for name in _FACET_FIELDS}}},
        {"$facet": {
            "totals": [{"$group": {
                "_id": None,
                "total": {"$sum": 1},
                "requires_action": {"$sum": {"$cond": [{"$eq": ["$requires_action", True]}, 1, 0]}},
            }}],
            "open_totals": [{"$match": {"status": {"$nin": list(CLOSED_STATUSES)}}}, {"$group": {
                "_id": None,
                "total": {"$sum": 1},
                "requires_action": {"$sum": {"$cond": [{"$eq": ["$requires_action", True]}, 1, 0]}},
            }}],
            "open_by_urgency": [{"$match": {"status": {"$nin": list(CLOSED_STATUSES)}}}, *count_by("urgency")],
            "by_status": count_by("status"),
            "by_urgency": count_by("urgency"),
            "by_sentiment": count_by("sentiment"),
            "by_source": count_by("source"),
            "top_keywords": top("keywords", TOP_KEYWORDS),
            "top_signals": top("signals", TOP_SIGNALS),
            "at_risk_customers": [
                {"$match": {**FLAGGED, "customer_id": {"$ne": None}}},
                {"$group": {
                    "_id": "$customer_id",
                    "flagged": {"$sum": 1},
                    "high_urgency_count": {"$sum": _HIGH},
                    "negative_count": {"$sum": _NEGATIVE},
                }},
                {"$match": {"flagged": {"$gte": AT_RISK_MIN_TICKETS}}},
                {"$project": {"high_urgency_count": 1, "negative_count": 1,
                              "risk": {"$add": ["$high_urgency_count", "$negative_count"]}}},
                {"$sort": {"risk": -1, "high_urgency_count": -1, "_id": 1}},
                {"$limit": TOP_AT_RISK},
            ],
        }},
    ]


def at_risk_ticket_ids_pipeline(repo: TicketRepository, query: StatsQuery, customer_ids: list[str]) -> list[dict]:
    return [
        {"$match": repo.live({**criteria(query), "customer_id": {"$in": list(customer_ids)}, **FLAGGED})},
        {"$sort": {"created_at": -1, "external_id": 1}},
        {"$group": {"_id": "$customer_id", "ticket_ids": {"$push": "$external_id"}}},
        {"$project": {"ticket_ids": {"$slice": ["$ticket_ids", AT_RISK_MAX_TICKET_IDS]}}},
    ]


def trend_pipeline(repo: TicketRepository, hour: datetime, source: str | None = None) -> list[dict]:
    window = {"created_at": {"$gte": hour - timedelta(hours=TREND_HOURS - 1), "$lt": hour + timedelta(hours=1)}}
    if source is not None:
        window["source"] = source
    return [
        {"$match": repo.live(window)},
        {"$project": {"_id": 0, "created_at": 1}},
        {"$group": {"_id": {"$hour": "$created_at"}, "count": {"$sum": 1}}},
    ]


def oracle_stats(database, query: StatsQuery, hour: datetime) -> dict[str, Any]:
    """Every figure of the stats answer (not tenant_id, range, as_of_run, generated_at),
    computed from the tickets."""
    repo = TicketRepository(database, query.tenant_id)
    facets = next(iter(repo.aggregate(range_pipeline(repo, query))), None) or {}
    at_risk = facets.get("at_risk_customers", [])
    ids = {}
    if at_risk:
        ids = {row["_id"]: row["ticket_ids"] for row in
               repo.aggregate(at_risk_ticket_ids_pipeline(repo, query, [r["_id"] for r in at_risk]))}
    by_hour = {int(r["_id"]): int(r["count"]) for r in repo.aggregate(trend_pipeline(repo, hour, query.source))}
    totals = (facets.get("totals") or [{}])[0]
    open_totals = (facets.get("open_totals") or [{}])[0]
    rows = {**facets, "totals": [{**totals, "open_total": open_totals.get("total", 0),
                                  "open_requires_action": open_totals.get("requires_action", 0)}]}
    first = hour - timedelta(hours=TREND_HOURS - 1)
    return {
        # Only the reshaping (zero-filling, ratios) is the service's; every count is the oracle's.
        **figures_from_rows(rows),
        "hourly_trend": [{"hour": first + timedelta(hours=i), "count": by_hour.get((first + timedelta(hours=i)).hour, 0)}
                         for i in range(TREND_HOURS)],
        "at_risk_customers": [{"customer_id": r["_id"], "high_urgency_count": int(r["high_urgency_count"]),
                               "negative_count": int(r["negative_count"]), "ticket_ids": ids.get(r["_id"], [])}
                              for r in at_risk],
    }


FIGURES = ("total_tickets", "by_status", "by_urgency", "by_sentiment", "by_source", "urgency_high_ratio",
           "negative_sentiment_ratio", "requires_action_count", "open", "hourly_trend", "top_keywords",
           "top_signals", "at_risk_customers")
