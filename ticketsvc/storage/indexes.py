"""Every index the service relies on, by collection.

Each one starts with ``tenant_id`` where the collection holds tenant data (it is also the
shard key when one replica set is not enough). An index whose keys change gets a new name:
reusing a name with other keys is refused by the server.
"""
from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

INDEXES: dict[str, list[IndexModel]] = {
    "tickets": [
        IndexModel([("tenant_id", ASCENDING), ("external_id", ASCENDING)], unique=True, name="tenant_external_id"),
        # Listings (newest first) and every filter combination the API offers, plus stats by date.
        # Each ends in the listing's full sort (created_at desc, external_id asc: the tie-break
        # that keeps offset pages stable), so MongoDB reads pages off the index instead of
        # sorting every matching ticket in memory; one filter per index, the rest are fetched.
        IndexModel([("tenant_id", ASCENDING), ("deleted_at", ASCENDING), ("created_at", DESCENDING),
                    ("external_id", ASCENDING)], name="tenant_live_created"),
        IndexModel([("tenant_id", ASCENDING), ("urgency", ASCENDING), ("created_at", DESCENDING),
                    ("external_id", ASCENDING)], name="tenant_urgency_created"),
        IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING),
                    ("external_id", ASCENDING)], name="tenant_status_created"),
        IndexModel([("tenant_id", ASCENDING), ("sentiment", ASCENDING), ("created_at", DESCENDING),
                    ("external_id", ASCENDING)], name="tenant_sentiment_created"),
        IndexModel([("tenant_id", ASCENDING), ("source", ASCENDING), ("created_at", DESCENDING),
                    ("external_id", ASCENDING)], name="tenant_source_created"),
        IndexModel([("tenant_id", ASCENDING), ("requires_action", ASCENDING), ("created_at", DESCENDING),
                    ("external_id", ASCENDING)], name="tenant_action_created"),
        IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING)], name="tenant_customer"),
    ],
    "ticket_history": [
        # _id breaks recorded_at ties (one sync's entries share it) for a stable page order.
        IndexModel([("tenant_id", ASCENDING), ("ticket_id", ASCENDING), ("recorded_at", DESCENDING),
                    ("_id", DESCENDING)], name="tenant_ticket_recorded"),
    ],
    "ingestion_logs": [
        IndexModel([("job_id", ASCENDING)], unique=True, name="job_id"),
        IndexModel([("tenant_id", ASCENDING), ("started_at", DESCENDING)], name="tenant_started"),
        IndexModel([("status", ASCENDING), ("heartbeat_at", ASCENDING)], name="status_heartbeat"),
    ],
    "notifications": [
        IndexModel([("dedupe_key", ASCENDING)], unique=True, name="dedupe_key"),
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="status_due"),
        # Delivery claims due alerts oldest first.
        IndexModel([("status", ASCENDING), ("created_at", ASCENDING)], name="status_created"),
        IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING)],
                   name="tenant_status_created"),
    ],
    "api_keys": [
        IndexModel([("key_hash", ASCENDING)], unique=True, name="key_hash"),
        IndexModel([("key_id", ASCENDING)], unique=True, name="key_id"),
        # GET /admin/api-keys: newest first, key_id breaking ties for stable pages.
        IndexModel([("created_at", DESCENDING), ("key_id", ASCENDING)], name="created"),
    ],
    # Derived analytics (analytics/rollups.py): read by _id (deterministic, tenant first);
    # this index makes (tenant, day, grain, start) unique and serves a refresh's deletes by day.
    "stats_rollups": [
        IndexModel([("tenant_id", ASCENDING), ("day", ASCENDING), ("grain", ASCENDING), ("start", ASCENDING)],
                   unique=True, name="tenant_day_grain_start"),
    ],
    "stats_customer_rollups": [
        IndexModel([("tenant_id", ASCENDING), ("day", ASCENDING), ("grain", ASCENDING), ("start", ASCENDING)],
                   unique=True, name="tenant_day_grain_start"),
    ],
    "tenants": [],
    "locks": [],
    "circuit_breakers": [],
    "rate_limits": [],
}
