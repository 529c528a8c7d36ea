"""Reset, config and report."""
import pytest

from mock_api.clock import parse_iso

LIST = "/external/support-tickets"


def test_reset_regenerates_data_and_clears_counters_faults_and_notify_state(client, admin, mock, all_tickets):
    client.get(LIST)
    admin("POST", "faults", {"fail_next": 3})
    admin("POST", "mutate", {"tenant_id": "tenant_a", "delete": 2})
    body = {"ticket_id": "t", "tenant_id": "a", "urgency": "high", "reason": "r", "idempotency_key": "k"}
    client.post("/notify", json=body, headers={"Idempotency-Key": "k"})
    result = admin("POST", "reset", {"seed": 3, "tickets": 120, "tenants": ["x", "y"], "now": "2026-06-01T00:00:00Z"})
    assert result == {"seed": 3, "tickets": 120, "tenants": ["x", "y"], "now": "2026-06-01T00:00:00Z"}
    tickets = all_tickets(mock)
    assert len(tickets) == 120 and {t["tenant_id"] for t in tickets} == {"x", "y"}
    assert max(parse_iso(t["created_at"]) for t in tickets) <= parse_iso("2026-06-01T00:00:00Z")
    report = admin("GET", "report")
    assert (report["calls"], report["rate_limited"], report["max_calls_in_window"]) == (0, 0, 0)
    assert report["notify"]["total_attempts"] == 0
    assert report["faults"]["fail_next"] == 0
    assert client.get(LIST).status_code == 200


def test_reset_without_a_body_restores_the_same_data(client, admin, mock, all_tickets):
    before = all_tickets(mock)
    admin("POST", "mutate", {"tenant_id": "tenant_a", "delete": 5, "create": 2})
    client.post("/admin/reset")
    assert all_tickets(mock) == before


def test_reset_keeps_the_rate_limit_settings(admin):
    admin("POST", "config", {"rate_limit_calls": 7})
    admin("POST", "reset", {"seed": 1})
    assert admin("GET", "config")["rate_limit_calls"] == 7


@pytest.mark.parametrize("body", [{"tickets": -1}, {"tenants": []}, {"tenants": ["bad id!"]}, {"now": "soon"},
                                  {"seed": "x"}, {"colour": "red"}])
def test_an_invalid_reset_is_400_and_keeps_the_data(client, mock, all_tickets, body):
    before = all_tickets(mock)
    assert client.post("/admin/reset", json=body).status_code == 400
    assert all_tickets(mock) == before


def test_config_accepts_partial_updates_and_returns_the_full_config(admin):
    config = admin("POST", "config", {"rate_limit_window_s": 1.5, "notify": {"latency_ms": [5, 10], "outage_s": 2}})
    assert config["rate_limit_window_s"] == 1.5 and config["rate_limit_calls"] == 60
    assert config["notify"] == {"fail_first_attempts": 2, "fail_share": 1.0, "latency_ms": [5, 10],
                                "outage_after_failures": 10, "outage_s": 2}
    assert admin("GET", "config") == config


@pytest.mark.parametrize("body", [
    {"rate_limit_calls": 0}, {"rate_limit_window_s": 0}, {"rate_limit_calls": "60"},
    {"notify": {"latency_ms": [500, 100]}}, {"notify": {"fail_share": 2}}, {"notify": {"nope": 1}},
    {"seed": 3},
])
def test_an_invalid_config_is_400_and_changes_nothing(client, admin, body):
    before = admin("GET", "config")
    response = client.post("/admin/config", json=body)
    assert response.status_code == 400 and response.get_json()["error"]
    assert admin("GET", "config") == before


def test_admin_endpoints_do_not_count_as_external_calls(admin):
    for _ in range(3):
        admin("GET", "report")
    assert admin("GET", "report")["calls"] == 0
