"""Index use. A stats request reads rollups only, addressed by ``_id`` and ``tenant_id`` (an
index lookup on either engine, never a scan of tickets); the refresh pipelines that build
rollups read tickets through the prefix of ``tenant_live_created_v2`` (tenant_id, deleted_at
equality, a created_at range). Specifications are checked always; plans on a real MongoDB."""
from datetime import timedelta

from analytics.stats_data import NOW, at, ticket_doc
from conftest import real_mongo_required
from support import plan_stages
from ticketsvc.analytics.rollups import TERM_FIELDS, cells_pipeline, customers_pipeline, terms_pipeline
from ticketsvc.analytics.buckets import at_risk_pipeline, at_risk_ticket_ids_pipeline
from ticketsvc.analytics.stats import StatsQuery, figures_pipeline, hour_start, plan_range, trend_pipeline
from ticketsvc.storage import INDEXES
from ticketsvc.tickets.repository import TicketRepository

LIVE_CREATED_KEYS = [("tenant_id", 1), ("deleted_at", 1), ("created_at", -1)]
QUERIES = [
    StatsQuery("acme"),
    StatsQuery("acme", created_from=at("2026-03-01T05:10")),
    StatsQuery("acme", created_to=at("2026-03-09T00:00"), source="email"),
]


def _read_pipelines():
    hour = hour_start(NOW)
    trend = [f"acme|hour|{(hour - timedelta(hours=i)).strftime('%Y-%m-%dT%H')}" for i in range(24)]
    found = []
    for q in QUERIES:
        ids = plan_range(*q.rounded(), at("2026-03-01T00:00").date(), NOW.date()).ids("acme")
        found += [("stats_rollups", figures_pipeline("acme", ids, q.source)),
                  ("stats_rollups", trend_pipeline("acme", trend, q.source)),
                  ("stats_customer_rollups", at_risk_pipeline("acme", ids, q.source)),
                  ("stats_customer_rollups", at_risk_ticket_ids_pipeline("acme", ids, q.source, ["c-a"]))]
    return found


def _refresh_pipelines(database):
    repo = TicketRepository(database, "acme")
    start = at("2026-03-01T00:00")
    end = start + timedelta(days=3)
    return ([make(repo, start, end) for make in (cells_pipeline, customers_pipeline)]
            + [terms_pipeline(repo, start, end, name) for name in TERM_FIELDS])


def test_every_stats_read_addresses_rollups_by_id_and_tenant():
    for _, pipeline in _read_pipelines():
        criteria = pipeline[0]["$match"]
        assert set(criteria) == {"_id", "tenant_id"} and criteria["tenant_id"] == "acme"
        assert all(i.startswith("acme|") for i in criteria["_id"]["$in"])


def test_a_range_reads_whole_days_and_the_hours_of_its_partial_edges():
    plan = plan_range(*StatsQuery("acme", created_from=at("2026-03-01T05:10"),
                                  created_to=at("2026-03-03T01:59")).rounded(),
                      at("2026-02-01T00:00").date(), NOW.date())
    assert [d.isoformat() for d in plan.days] == ["2026-03-02T00:00:00+00:00"]
    assert len(plan.hours) == 19 + 2  # 05:00-23:00 on the 1st, 00:00-01:00 on the 3rd


def test_every_refresh_pipeline_starts_with_a_match_on_the_live_created_prefix(database):
    index_fields = [name for name, _ in LIVE_CREATED_KEYS]
    for pipeline in _refresh_pipelines(database):
        criteria = pipeline[0]["$match"]
        assert criteria["tenant_id"] == "acme" and criteria["deleted_at"] is None
        assert set(criteria["created_at"]) == {"$gte", "$lt"}
        assert set(criteria) - set(index_fields) <= {"customer_id", "$or"}


def test_rollup_unique_indexes_start_with_the_tenant():
    for name in ("stats_rollups", "stats_customer_rollups"):
        (model,) = INDEXES[name]
        assert model.document["unique"] and next(iter(model.document["key"])) == "tenant_id"


def test_the_indexes_exist_in_the_database_after_start(stats_app, database):
    created = {ix["name"]: list(ix["key"].items()) for ix in database.tickets.list_indexes()}
    assert created["tenant_live_created_v2"][:3] == LIVE_CREATED_KEYS
    assert "tenant_day_grain_start" in {ix["name"] for ix in database.stats_rollups.list_indexes()}


def _plan(database, collection, pipeline):
    plan = database.db.command("explain", {"aggregate": collection, "pipeline": pipeline, "cursor": {}},
                               verbosity="queryPlanner")
    return plan, list(plan_stages(plan))


@real_mongo_required()
def test_stats_reads_are_index_scans_of_rollups_on_real_mongodb(stats_app, database, seed_tickets):
    seed_tickets(*[ticket_doc(tenant, f"t{i}", NOW - timedelta(hours=i)) for tenant in ("acme", "globex")
                   for i in range(50)])
    for collection, pipeline in _read_pipelines():
        plan, stages = _plan(database, collection, pipeline)
        assert any(s["stage"] == "IXSCAN" for s in stages), plan
        assert not any(s["stage"] == "COLLSCAN" for s in stages), plan
        assert "tickets" not in str(plan.get("queryPlanner", plan).get("namespace", "")), plan


@real_mongo_required()
def test_refresh_pipelines_use_an_index_scan_on_real_mongodb(stats_app, database, seed_tickets):
    seed_tickets(*[ticket_doc(tenant, f"t{i}", NOW) for tenant in ("acme", "globex") for i in range(50)])
    for pipeline in _refresh_pipelines(database):
        plan, stages = _plan(database, "tickets", pipeline)
        scans = [s for s in stages if s["stage"] == "IXSCAN"]
        assert scans and all(next(iter(s["keyPattern"])) == "tenant_id" for s in scans), plan
        assert not any(s["stage"] == "COLLSCAN" for s in stages), plan
