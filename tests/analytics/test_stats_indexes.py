"""The stats pipelines start with a $match that an index serves: its fields are the prefix
of ``tenant_live_created_v2`` (tenant_id, deleted_at equality, created_at range). The index
specification is checked always; the plan (IXSCAN, never COLLSCAN) on a real MongoDB."""
import pytest

from analytics.stats_data import NOW, at, ticket_doc
from conftest import real_mongo_required
from support import plan_stages
from ticketsvc.analytics.stats import (StatsQuery, at_risk_ticket_ids_pipeline, hour_start, range_pipeline,
                                       trend_pipeline)
from ticketsvc.storage import INDEXES
from ticketsvc.tickets.repository import TicketRepository

LIVE_CREATED_KEYS = [("tenant_id", 1), ("deleted_at", 1), ("created_at", -1)]
QUERIES = [
    StatsQuery("acme"),
    StatsQuery("acme", created_from=at("2026-03-01T00:00")),
    StatsQuery("acme", created_to=at("2026-03-31T00:00")),
    StatsQuery("acme", created_from=at("2026-03-01T00:00"), created_to=at("2026-03-31T00:00")),
]


def _pipelines(database):
    repo = TicketRepository(database, "acme")
    return ([range_pipeline(repo, q) for q in QUERIES] + [trend_pipeline(repo, hour_start(NOW))]
            + [at_risk_ticket_ids_pipeline(repo, q, ["c-1", "c-2"]) for q in QUERIES])


def _index(name):
    return next(m.document for m in INDEXES["tickets"] if m.document["name"] == name)


def test_tenant_live_created_index_is_specified_with_the_stats_prefix():
    keys = list(_index("tenant_live_created_v2")["key"].items())
    assert keys[:3] == LIVE_CREATED_KEYS


def test_every_stats_pipeline_starts_with_a_match_on_that_prefix(database):
    index_fields = [name for name, _ in LIVE_CREATED_KEYS]
    for pipeline in _pipelines(database):
        first = pipeline[0]
        assert list(first) == ["$match"]
        criteria = first["$match"]
        # Equality on the first two keys, at most a range on the third; anything else
        # (the at-risk customers and flags) is filtered after the index scan.
        assert criteria["tenant_id"] == "acme" and criteria["deleted_at"] is None
        assert set(criteria.get("created_at", {})) <= {"$gte", "$lte", "$lt"}
        assert set(criteria) - set(index_fields) <= {"customer_id", "$or"}


def test_at_risk_ticket_ids_can_also_use_the_tenant_customer_index():
    assert list(_index("tenant_customer_created")["key"].items())[:2] == [("tenant_id", 1), ("customer_id", 1)]


def test_the_index_exists_in_the_database_after_start(stats_app, database):
    created = {ix["name"]: list(ix["key"].items()) for ix in database.tickets.list_indexes()}
    assert created["tenant_live_created_v2"][:3] == LIVE_CREATED_KEYS


@real_mongo_required()
def test_stats_pipelines_use_an_index_scan_on_real_mongodb(stats_app, database, seed_tickets):
    seed_tickets(*[ticket_doc(tenant, f"t{i}", NOW) for tenant in ("acme", "globex") for i in range(50)])
    for pipeline in _pipelines(database):
        plan = database.db.command("explain", {"aggregate": "tickets", "pipeline": pipeline, "cursor": {}},
                                   verbosity="queryPlanner")
        stages = list(plan_stages(plan))
        scans = [s for s in stages if s["stage"] == "IXSCAN"]
        # The planner may pick any tenant-led index; tenant_live_created_v2 bounds the most keys.
        assert scans and all(next(iter(s["keyPattern"])) == "tenant_id" for s in scans), plan
        assert not any(s["stage"] == "COLLSCAN" for s in stages), plan
