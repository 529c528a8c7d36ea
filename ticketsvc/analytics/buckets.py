"""Reading rollup buckets, and the at-risk customers ranked from them: shared by the stats
(``stats.py``, per request) and the rollups (``rollups.py``, the all-time ranking stored at
each refresh), so both rank the same way.

Operators: $match, $project, $unwind (path string), $group, $sort, $limit, $sum, $push,
$add, $slice, $filter (input, as, cond), $in, $and, $eq, $gte; both engines implement them.
"""
from __future__ import annotations

from typing import Any

from ..domain import tenant_pipeline
from ..storage import Database

TOP_AT_RISK = 10
AT_RISK_MIN_TICKETS = 2
# Per at-risk customer, the newest flagged tickets listed (and kept per bucket by the
# rollups: as many per bucket is always enough); the counts cover all of them.
AT_RISK_MAX_TICKET_IDS = 20


def bucket_read(tenant_id: str, ids: list[str], *fields: str) -> list[dict]:
    """Read the buckets ``ids`` of the tenant (by ``_id``: an index lookup), keeping only
    ``fields``: the embedded engine then copies nothing else."""
    return [{"$match": {"_id": {"$in": list(ids)}, "tenant_id": tenant_id}},
            {"$project": {"_id": 0, **{name: 1 for name in fields}}}]


def source_stages(source: str | None, path: str) -> list[dict]:
    return [] if source is None else [{"$match": {path: source}}]


def aggregate_buckets(collection: Any, pipeline: list[dict]) -> list[dict]:
    return list(collection.aggregate(tenant_pipeline(pipeline, pipeline[0]["$match"].get("tenant_id"))))


def at_risk_customers(db: Database, tenant_id: str, bucket_ids: list[str], source: str | None) -> list[dict]:
    """The at-risk customers of the given buckets, as the stats answer lists them: ranked
    (at_risk_pipeline), each with its newest flagged ticket ids."""
    ranked = aggregate_buckets(db.stats_customer_rollups, at_risk_pipeline(tenant_id, bucket_ids, source))
    ticket_ids: dict[str, list[str]] = {}
    if ranked:
        pipeline = at_risk_ticket_ids_pipeline(tenant_id, bucket_ids, source, [row["_id"] for row in ranked])
        ticket_ids = {row["_id"]: list(row["ticket_ids"]) for row in aggregate_buckets(db.stats_customer_rollups, pipeline)}
    return [{
        "customer_id": row["_id"],
        "high_urgency_count": int(row["high_urgency_count"]),
        "negative_count": int(row["negative_count"]),
        "ticket_ids": ticket_ids.get(row["_id"], []),
    } for row in ranked]


def at_risk_pipeline(tenant_id: str, range_ids: list[str], source: str | None) -> list[dict]:
    """Customers with at least AT_RISK_MIN_TICKETS flagged tickets (high urgency or negative;
    a ticket that is both counts once) in range. Worst first: high_urgency_count +
    negative_count descending (a ticket that is both weighs twice), then high_urgency_count
    descending (urgency outranks tone), then customer_id ascending; top TOP_AT_RISK."""
    return [
        *bucket_read(tenant_id, range_ids, "customers"),
        {"$unwind": "$customers"},
        *source_stages(source, "customers.source"),
        {"$group": {
            "_id": "$customers.customer_id",
            "flagged": {"$sum": "$customers.flagged"},
            "high_urgency_count": {"$sum": "$customers.high"},
            "negative_count": {"$sum": "$customers.negative"},
        }},
        {"$match": {"flagged": {"$gte": AT_RISK_MIN_TICKETS}}},
        {"$project": {"high_urgency_count": 1, "negative_count": 1,
                      "risk": {"$add": ["$high_urgency_count", "$negative_count"]}}},
        {"$sort": {"risk": -1, "high_urgency_count": -1, "_id": 1}},
        {"$limit": TOP_AT_RISK},
    ]


def at_risk_ticket_ids_pipeline(tenant_id: str, range_ids: list[str], source: str | None,
                                customer_ids: list[str]) -> list[dict]:
    """The flagged tickets in range of the given customers, as ``{_id: customer_id,
    ticket_ids}``: newest first (created_at descending, then id ascending), at most
    AT_RISK_MAX_TICKET_IDS per customer. The entries of other customers are filtered out
    before anything is unwound."""
    keep: dict = {"$in": ["$$entry.customer_id", list(customer_ids)]}
    if source is not None:
        keep = {"$and": [keep, {"$eq": ["$$entry.source", source]}]}
    return [
        *bucket_read(tenant_id, range_ids, "tickets"),
        {"$project": {"tickets": {"$filter": {"input": "$tickets", "as": "entry", "cond": keep}}}},
        {"$unwind": "$tickets"},
        {"$unwind": "$tickets.tickets"},
        # $push keeps input order, so this sort is the order of the lists.
        {"$sort": {"tickets.tickets.at": -1, "tickets.tickets.id": 1}},
        {"$group": {"_id": "$tickets.customer_id", "ticket_ids": {"$push": "$tickets.tickets.id"}}},
        {"$project": {"ticket_ids": {"$slice": ["$ticket_ids", AT_RISK_MAX_TICKET_IDS]}}},
    ]
