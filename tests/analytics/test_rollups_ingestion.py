"""Through the real ingestion against the mock upstream over HTTP: after runs with updates,
deletions, restores and new tickets, the stats served from rollups equal the figures
computed from the tickets, and what a team lead asks first (the open backlog) is there."""
import pytest
from conftest import base_settings

from analytics.oracle import FIGURES, oracle_stats
from support import ingest
from ticketsvc.analytics import StatsQuery
from ticketsvc.analytics.stats import hour_start
from ticketsvc.clock import isoformat_z

TENANT = "tenant_d"


@pytest.fixture
def settings(mock_upstream):
    # These runs ingest: the mock upstream, unlike the other analytics tests.
    return base_settings(external_api_url=mock_upstream.url)


def _assert_served_equals_tickets(runtime, client, database, **query):
    response = client.get(f"/tenants/{TENANT}/stats", query_string=query)
    assert response.status_code == 200, response.get_json()
    served = response.get_json()
    expected = oracle_stats(database, StatsQuery(TENANT, source=query.get("source")), hour_start(runtime.clock.now()))
    expected["hourly_trend"] = [{"hour": isoformat_z(b["hour"]), "count": b["count"]} for b in expected["hourly_trend"]]
    for name in FIGURES:
        assert served[name] == expected[name], name
    return served


def test_served_figures_follow_runs_with_updates_deletions_restores_and_new_tickets(runtime, client, database,
                                                                                    mock_upstream):
    first = ingest(runtime, TENANT)
    body = _assert_served_equals_tickets(runtime, client, database)
    assert body["as_of_run"]["job_id"] == first["job_id"] and body["total_tickets"] > 0
    assert body["open"]["total"] == sum(v for k, v in body["by_status"].items() if k not in ("resolved", "closed"))

    mock_upstream.admin("POST", "/admin/mutate", json={"tenant_id": TENANT, "update": [
        {"id": "tkt-000003", "fields": {"status": "closed"}},
        {"id": "tkt-000004", "fields": {"source": "phone", "subject": "Outage", "message": "Everything is down!"}},
    ], "delete": ["tkt-000006"], "create": 3})
    second = ingest(runtime, TENANT)
    assert second["counts"]["updated"] == 2 and second["counts"]["deleted"] == 1
    _assert_served_equals_tickets(runtime, client, database)
    _assert_served_equals_tickets(runtime, client, database, source="phone")

    mock_upstream.admin("POST", "/admin/mutate", json={"tenant_id": TENANT, "restore": ["tkt-000006"]})
    third = ingest(runtime, TENANT)
    assert third["counts"]["restored"] == 1
    body = _assert_served_equals_tickets(runtime, client, database, source="email")
    assert body["as_of_run"]["job_id"] == third["job_id"] and body["source"] == "email"
    assert set(body["by_source"].values()) - {0} == {body["total_tickets"]}


def test_a_tenant_known_only_by_its_runs_answers_zeros(runtime, client, mock_upstream):
    record = ingest(runtime, "tenant_with_nothing")
    body = client.get("/tenants/tenant_with_nothing/stats").get_json()
    assert body["total_tickets"] == 0 and body["open"]["total"] == 0
    assert body["as_of_run"]["job_id"] == record["job_id"]
