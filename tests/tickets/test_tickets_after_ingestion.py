"""The read API over data ingested from the mock upstream, whose tenants reuse the same
ticket ids (tkt-000001 exists in every tenant)."""
import pytest
import requests

from support import assert_json_error, ingest, upstream_total

TENANTS = ("tenant_a", "tenant_b")


@pytest.fixture
def ingested(runtime):
    for tenant in TENANTS:
        record = ingest(runtime, tenant)
        assert record["status"] == "completed", record
    return runtime


def _all_tickets(client, tenant, **filters):
    tickets, page = [], 1
    while True:
        body = client.get("/tickets", query_string={"tenant_id": tenant, "page": page, "page_size": 100,
                                                    **filters}).get_json()
        tickets.extend(body["tickets"])
        if page * 100 >= body["total"]:
            return tickets, body["total"]
        page += 1


def _upstream_ticket(mock, tenant, ticket_id):
    return requests.get(f"{mock.url}/external/support-tickets/{ticket_id}",
                        params={"tenant_id": tenant}, timeout=5).json()


def test_listing_serves_every_ingested_ticket_of_the_tenant_and_no_other(ingested, client, mock_upstream):
    for tenant in TENANTS:
        tickets, total = _all_tickets(client, tenant)
        assert total == len(tickets) == upstream_total(mock_upstream, tenant)
        assert {t["tenant_id"] for t in tickets} == {tenant}
        assert len({t["id"] for t in tickets}) == total
        created = [t["created_at"] for t in tickets]
        assert created == sorted(created, reverse=True)
        assert all(t["classification"]["version"] and t["urgency"] in ("high", "medium", "low") for t in tickets)


def test_an_id_both_tenants_hold_is_each_tenants_own_ticket(ingested, client, mock_upstream):
    ids_a = {t["id"] for t in _all_tickets(client, "tenant_a")[0]}
    ids_b = {t["id"] for t in _all_tickets(client, "tenant_b")[0]}
    shared = sorted(ids_a & ids_b)[:3]
    assert shared, "the mock's tenants are expected to reuse ids"
    for ticket_id in shared:
        for tenant in TENANTS:
            ours = client.get(f"/tickets/{ticket_id}", query_string={"tenant_id": tenant}).get_json()
            theirs = _upstream_ticket(mock_upstream, tenant, ticket_id)
            assert (ours["tenant_id"], ours["subject"], ours["customer_id"]) == \
                (tenant, theirs["subject"], theirs["customer_id"])


def test_urgent_is_the_tenants_live_high_urgency_tickets(ingested, client):
    high, _ = _all_tickets(client, "tenant_a", urgency="high")
    body = client.get("/tickets/urgent", query_string={"tenant_id": "tenant_a", "page_size": 100}).get_json()
    assert body["total"] == len(high) > 0
    assert [t["id"] for t in body["tickets"]] == [t["id"] for t in high][:100]


def test_ticket_deleted_upstream_leaves_the_api_but_its_history_says_why(ingested, client, mock_upstream):
    ids_b = {t["id"] for t in _all_tickets(client, "tenant_b")[0]}
    victim = next(t["id"] for t in _all_tickets(client, "tenant_a")[0] if t["id"] in ids_b)
    mock_upstream.admin("POST", "/admin/mutate", json={"tenant_id": "tenant_a", "delete": [victim]})
    assert ingest(ingested, "tenant_a")["counts"]["deleted"] == 1

    assert_json_error(client.get(f"/tickets/{victim}", query_string={"tenant_id": "tenant_a"}), 404)
    assert victim not in {t["id"] for t in _all_tickets(client, "tenant_a")[0]}
    history = client.get(f"/tickets/{victim}/history", query_string={"tenant_id": "tenant_a"}).get_json()
    assert [e["action"] for e in history["history"]] == ["deleted", "created"]
    assert history["history"][0]["reason"]
    # The other tenant's ticket with the same id is untouched.
    assert client.get(f"/tickets/{victim}", query_string={"tenant_id": "tenant_b"}).status_code == 200
    other = client.get(f"/tickets/{victim}/history", query_string={"tenant_id": "tenant_b"}).get_json()
    assert [e["action"] for e in other["history"]] == ["created"]
