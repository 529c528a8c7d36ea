"""``python -m ticketsvc db rebuild-rollups [--tenant T]`` recomputes the analytics rollups
from the tickets, every tenant's or one's."""
import io
import subprocess
import sys

from analytics.oracle import FIGURES, oracle_stats
from support import stored_ticket
from ticketsvc.analytics import StatsQuery, TenantStats
from ticketsvc.cli import EXIT_OK, EXIT_USAGE, build_parser
from ticketsvc.cli.db import run_db
from ticketsvc.clock import FakeClock
from datetime import datetime, timezone

NOW = datetime(2026, 3, 10, 14, 37, tzinfo=timezone.utc)


def _db(database, *argv):
    out, err = io.StringIO(), io.StringIO()
    status = run_db(build_parser().parse_args(["db", *argv]), out, err, database=database)
    return status, out.getvalue(), err.getvalue()


def _seed(database):
    database.prepare()
    database.tickets.insert_many([
        stored_ticket(tenant, f"t{i}", NOW.replace(day=1 + i), urgency="high", customer_id=f"c{i % 2}",
                      keywords=["not received"], signals=["refund", "outage"][:1 + i % 2])
        for tenant in ("acme", "globex") for i in range(6)])


def _figures(database, tenant):
    stats = TenantStats(database, FakeClock(NOW))
    served = stats.compute(stats.snapshot(StatsQuery(tenant)))
    return {name: served[name] for name in FIGURES}


def _oracle(database, tenant):
    return {name: value for name, value in oracle_stats(database, StatsQuery(tenant), NOW.replace(minute=0)).items()}


def test_rebuild_rollups_builds_every_tenant_from_its_tickets(database):
    _seed(database)
    status, out, err = _db(database, "rebuild-rollups")
    assert status == EXIT_OK
    assert out.startswith("acme: ") and "globex: " in out and "2 tenant(s)" in err
    for tenant in ("acme", "globex"):
        assert _figures(database, tenant) == _oracle(database, tenant)
    assert _figures(database, "acme")["top_signals"] == [{"signal": "refund", "count": 6},
                                                         {"signal": "outage", "count": 3}]


def test_rebuild_rollups_counts_signals_into_rollups_written_before_them(database):
    _seed(database)
    _db(database, "rebuild-rollups")
    for bucket in database.stats_rollups.find({"tenant_id": "acme"}):
        bucket["sources"] = [{k: v for k, v in figures.items() if k != "signals"} for figures in bucket["sources"]]
        database.stats_rollups.replace_one({"_id": bucket["_id"], "tenant_id": "acme"}, bucket)
    assert _figures(database, "acme")["top_signals"] == []
    _db(database, "rebuild-rollups", "--tenant", "acme")
    assert _figures(database, "acme") == _oracle(database, "acme")


def test_rebuild_rollups_of_one_tenant_leaves_the_others_alone(database):
    _seed(database)
    status, out, _ = _db(database, "rebuild-rollups", "--tenant", "globex")
    assert status == EXIT_OK and out.startswith("globex: ")
    assert database.stats_rollups.count_documents({"tenant_id": "acme"}) == 0
    assert _figures(database, "globex") == _oracle(database, "globex")


def test_rebuild_rollups_repairs_corrupted_rollups(database):
    _seed(database)
    _db(database, "rebuild-rollups")
    database.stats_rollups.update_many({"tenant_id": "acme"}, {"$set": {"sources": []}})
    database.stats_customer_rollups.delete_many({"tenant_id": "acme"})
    _db(database, "rebuild-rollups", "--tenant", "acme")
    assert _figures(database, "acme") == _oracle(database, "acme")


def test_an_invalid_tenant_is_a_usage_error(database):
    status, _, err = _db(database, "rebuild-rollups", "--tenant", "bad$id")
    assert status == EXIT_USAGE and "--tenant" in err


def test_the_db_group_is_on_the_command_line():
    result = subprocess.run([sys.executable, "-m", "ticketsvc", "db", "rebuild-rollups", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--tenant" in result.stdout
