"""Every index the service relies on, by collection, and how tenant data is sharded.

Built by ``python -m ticketsvc db migrate`` (``storage/migrate.py``), never by a booting
worker on a real server. Each index on tenant data starts with ``tenant_id``, and every
unique one does: ``tenant_id`` leads the shard key of those collections, and a sharded
collection accepts only unique indexes that start with its shard key.

Names are the contract with deployed databases. An index whose spec changes gets a new
name (``..._v2``, ``_v3``): the server refuses a known name with other keys, and a new name
lets ``migrate`` build the replacement while the old index still serves queries, then drop
the old one. The old name goes to ``RETIRED``, so ``migrate`` knows it is ours to drop.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pymongo import ASCENDING, DESCENDING, TEXT, IndexModel

from .text import TEXT_LANGUAGE

if TYPE_CHECKING:
    from ..config import Settings

DAY_S = 86400

INDEXES: dict[str, list[IndexModel]] = {
    "tickets": [
        IndexModel([("tenant_id", ASCENDING), ("external_id", ASCENDING)], unique=True, name="tenant_external_id"),
        # Listings (newest first) and every filter combination the API offers, plus stats by date.
        # Each ends in the listing's full sort (created_at desc, external_id asc: the tie-break
        # that keeps offset pages stable), so MongoDB reads pages off the index instead of
        # sorting every matching ticket in memory; one filter per index, the rest are fetched.
        IndexModel([("tenant_id", ASCENDING), ("deleted_at", ASCENDING), ("created_at", DESCENDING),
                    ("external_id", ASCENDING)], name="tenant_live_created_v2"),
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
        # A customer's tickets, newest first (and the stats' at-risk customers, by prefix).
        # Replaces "tenant_customer" (tenant_id, customer_id), which this one serves too.
        IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING), ("created_at", DESCENDING),
                    ("external_id", ASCENDING)], name="tenant_customer_created"),
        # A keyword's or a signal's tickets, newest first: multikey on the list field (an
        # equality on one element), then the listing's sort on plain fields, read off the index.
        IndexModel([("tenant_id", ASCENDING), ("keywords", ASCENDING), ("created_at", DESCENDING),
                    ("external_id", ASCENDING)], name="tenant_keywords_created"),
        IndexModel([("tenant_id", ASCENDING), ("signals", ASCENDING), ("created_at", DESCENDING),
                    ("external_id", ASCENDING)], name="tenant_signals_created"),
        # q: words of subject and message (storage/text.py). No language: no stemming, no stop
        # words, the same words in every language; tenant_id first, so a search reads only
        # the tenant's entries. The documents' own "language" field, if one ever came from
        # upstream, must not pick the language (an unknown one would fail the write).
        IndexModel([("tenant_id", ASCENDING), ("subject", TEXT), ("message", TEXT)], name="tenant_text",
                   default_language=TEXT_LANGUAGE, language_override="text_search_language"),
    ],
    "ticket_history": [
        # _id breaks recorded_at ties (one sync's entries share it) for a stable page order.
        IndexModel([("tenant_id", ASCENDING), ("ticket_id", ASCENDING), ("recorded_at", DESCENDING),
                    ("_id", DESCENDING)], name="tenant_ticket_recorded_v2"),
    ],
    "ingestion_logs": [
        # A job id is unique under its tenant (the shard key's shape); every job-record write
        # filters on {tenant_id, job_id}. GET /ingest/progress/{job_id} names no tenant: the
        # plain job_id index serves that lookup (uuid4 ids do not collide across tenants).
        IndexModel([("tenant_id", ASCENDING), ("job_id", ASCENDING)], unique=True, name="tenant_job_id"),
        IndexModel([("job_id", ASCENDING)], name="job_id_lookup"),
        # The audit listing, newest first; job_id is the tie-break that makes pages stable.
        IndexModel([("tenant_id", ASCENDING), ("started_at", DESCENDING), ("job_id", DESCENDING)],
                   name="tenant_started_v2"),
        # A tenant's last complete run (GET /tenants), past any failed ones since.
        IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING), ("started_at", DESCENDING)],
                   name="tenant_status_started"),
        IndexModel([("status", ASCENDING), ("heartbeat_at", ASCENDING)], name="status_heartbeat"),
    ],
    "notifications": [
        # One alert per dedupe key, under its tenant (the shard key's shape): the outbox's
        # upsert and settle filter on {tenant_id, dedupe_key}.
        IndexModel([("tenant_id", ASCENDING), ("dedupe_key", ASCENDING)], unique=True, name="tenant_dedupe_key"),
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="status_due"),
        # The oldest pending alert (/health, /metrics), oldest first with _id breaking ties.
        IndexModel([("status", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)], name="status_created_v2"),
        # GET /notifications, newest first with and without a status filter; _id breaks ties.
        IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                   name="tenant_status_created_v2"),
        IndexModel([("tenant_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                   name="tenant_created"),
        # Fair claims: the next tenant with due alerts (a seek on tenant_id), then that
        # tenant's longest-due alerts in order (NotificationOutbox.claim).
        IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING), ("next_attempt_at", ASCENDING),
                    ("_id", ASCENDING)], name="tenant_status_due"),
        # Withdrawing the alerts of tickets ingestion has just deleted.
        IndexModel([("tenant_id", ASCENDING), ("ticket_id", ASCENDING), ("status", ASCENDING)],
                   name="tenant_ticket_status"),
        # GET /notifications?ticket_id= (a ticket's alerts on the dashboard), newest first; with
        # a status too, the status is checked on that ticket's few alerts.
        IndexModel([("tenant_id", ASCENDING), ("ticket_id", ASCENDING), ("created_at", DESCENDING),
                    ("_id", DESCENDING)], name="tenant_ticket_created"),
    ],
    "api_keys": [
        # Not tenant data: api_keys is a small coordination collection that stays unsharded
        # (an admin key has no tenant), so its unique indexes need not start with tenant_id.
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

# Names this service once used with other specs: ``migrate`` drops them where it finds them
# (after building their replacements). Any other index it finds is left alone.
RETIRED: dict[str, tuple[str, ...]] = {
    "tickets": ("tenant_live_created", "tenant_customer"),
    "ticket_history": ("tenant_ticket_recorded",),
    "ingestion_logs": ("tenant_started", "job_id"),
    "notifications": ("status_created", "tenant_status_created", "dedupe_key"),
}


@dataclass(frozen=True)
class Retention:
    """A TTL index: documents of ``collection`` go ``days`` after their ``field`` (a date;
    a document whose field is missing or null never expires), limited by ``only`` when set."""

    collection: str
    name: str
    field: str
    setting: str  # the Settings field holding the days; 0 keeps forever
    only: dict | None = None

    def model(self, days: int) -> IndexModel:
        options = {"partialFilterExpression": self.only} if self.only else {}
        return IndexModel([(self.field, ASCENDING)], name=self.name, expireAfterSeconds=days * DAY_S, **options)


# Never on tickets: they are the customer's data.
RETENTION: tuple[Retention, ...] = (
    # Only delivered alerts expire: pending and dead ones are work and evidence.
    Retention("notifications", "ttl_delivered", "delivered_at", "alert_retention_days", {"status": "delivered"}),
    # A running job has no ended_at, so it never expires mid-run.
    Retention("ingestion_logs", "ttl_ended", "ended_at", "audit_retention_days"),
    Retention("ticket_history", "ttl_recorded", "recorded_at", "history_retention_days"),
)


def wanted_indexes(settings: "Settings") -> dict[str, list[IndexModel]]:
    """``INDEXES`` plus the TTL indexes the retention settings ask for."""
    wanted = {name: list(models) for name, models in INDEXES.items()}
    for rule in RETENTION:
        days = getattr(settings, rule.setting)
        if days > 0:
            wanted[rule.collection].append(rule.model(days))
    return wanted


def owned_names(collection: str) -> set[str]:
    """Every index name on ``collection`` this service created, now or in the past."""
    return ({m.document["name"] for m in INDEXES.get(collection, [])} | set(RETIRED.get(collection, ()))
            | {rule.name for rule in RETENTION if rule.collection == collection})


@dataclass(frozen=True)
class ShardPlan:
    """How a tenant-data collection shards: ``{tenant_id: 1, <id>: 1}``.

    ``pending`` says why it cannot be sharded yet (a write or upsert whose filter lacks
    the shard key would fail on a sharded cluster); ``db migrate --shard`` skips it and says so.
    """

    collection: str
    key: tuple[str, str]
    pending: str | None = None

    @property
    def key_document(self) -> dict[str, int]:
        return {field: 1 for field in self.key}


SHARDED: tuple[ShardPlan, ...] = (
    ShardPlan("tickets", ("tenant_id", "external_id")),
    # A ticket's history stays together: the history listing reads one shard.
    ShardPlan("ticket_history", ("tenant_id", "ticket_id")),
    ShardPlan("ingestion_logs", ("tenant_id", "job_id")),
    ShardPlan("notifications", ("tenant_id", "dedupe_key")),
    # A tenant's day buckets stay together; the unique bucket index leads with the key.
    ShardPlan("stats_rollups", ("tenant_id", "day")),
    ShardPlan("stats_customer_rollups", ("tenant_id", "day")),
)
# Small and read by every worker: one replica set serves them; they are never sharded.
UNSHARDED = ("locks", "rate_limits", "circuit_breakers", "tenants", "api_keys")
