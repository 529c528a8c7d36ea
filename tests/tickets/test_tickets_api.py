"""GET /tickets, /tickets/urgent, /tickets/{id}, /tickets/{id}/history: shapes, order,
deletions, tenant isolation and input validation."""
from datetime import datetime, timedelta, timezone

import pytest

from support import assert_json_error

T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
TICKET_KEYS = {
    "id", "tenant_id", "source", "customer_id", "subject", "message", "status", "created_at", "updated_at",
    "urgency", "sentiment", "requires_action", "keywords", "signals", "classification", "ingested_at", "synced_at",
}


def _ids(response):
    assert response.status_code == 200, response.get_json()
    return [t["id"] for t in response.get_json()["tickets"]]


# -- shapes ---------------------------------------------------------------------------------
def test_ticket_is_shown_by_external_id_with_z_times_and_no_storage_internals(client, seed):
    seed.ticket("acme", "tkt-1", urgency="high", sentiment="negative", requires_action=True,
                keywords=["site down"], signals=["outage"],
                classification={"reasons": ["urgency: outage"], "version": "v3", "format": 2})
    body = client.get("/tickets/tkt-1?tenant_id=acme").get_json()
    assert set(body) == TICKET_KEYS
    assert body["id"] == "tkt-1" and body["tenant_id"] == "acme"
    assert body["created_at"] == "2026-03-01T12:00:00Z" and body["updated_at"] == "2026-03-01T12:05:00Z"
    assert body["ingested_at"] == body["synced_at"] == "2026-03-01T12:10:00Z"
    assert (body["urgency"], body["sentiment"], body["requires_action"]) == ("high", "negative", True)
    assert (body["keywords"], body["signals"]) == (["site down"], ["outage"])
    assert body["classification"] == {"reasons": ["urgency: outage"], "version": "v3"}


def test_listing_answers_tickets_page_page_size_total_next(client, seed):
    seed.ticket("acme", "tkt-1")
    body = client.get("/tickets?tenant_id=acme").get_json()
    assert set(body) == {"tickets", "page", "page_size", "total", "next"}
    assert (body["page"], body["page_size"], body["total"], body["next"]) == (1, 20, 1, None)
    assert set(body["tickets"][0]) == TICKET_KEYS


def test_listing_is_newest_first(client, seed):
    for n, hours in enumerate((3, 1, 2)):
        seed.ticket("acme", f"tkt-{n}", created_at=T0 + timedelta(hours=hours))
    assert _ids(client.get("/tickets?tenant_id=acme")) == ["tkt-0", "tkt-2", "tkt-1"]


def test_listing_pages_with_page_and_page_size(client, seed):
    for n in range(5):
        seed.ticket("acme", f"tkt-{n}", created_at=T0 + timedelta(minutes=n))
    response = client.get("/tickets?tenant_id=acme&page=2&page_size=2")
    assert _ids(response) == ["tkt-2", "tkt-1"]
    assert response.get_json()["total"] == 5


@pytest.mark.parametrize("query,expected", [
    ("status=closed", ["closed"]),
    ("urgency=high", ["high"]),
    ("sentiment=negative", ["negative"]),
    ("source=chat", ["chat"]),
    ("requires_action=true", ["action"]),
    ("requires_action=1", ["action"]),
    ("requires_action=false", ["closed", "high", "negative", "chat", "plain"]),
])
def test_each_filter_narrows_the_listing(client, seed, query, expected):
    variants = [("closed", {"status": "closed"}), ("high", {"urgency": "high"}),
                ("negative", {"sentiment": "negative"}), ("chat", {"source": "chat"}),
                ("action", {"requires_action": True}), ("plain", {})]
    for n, (name, fields) in enumerate(variants):
        seed.ticket("acme", name, created_at=T0 - timedelta(minutes=n), **fields)
    assert _ids(client.get(f"/tickets?tenant_id=acme&{query}")) == expected


def test_urgent_lists_live_high_urgency_newest_first(client, seed):
    seed.ticket("acme", "old-high", urgency="high", created_at=T0)
    seed.ticket("acme", "new-high", urgency="high", created_at=T0 + timedelta(hours=1))
    seed.ticket("acme", "low", urgency="low")
    seed.ticket("acme", "deleted-high", urgency="high", deleted_at=T0)
    response = client.get("/tickets/urgent?tenant_id=acme&page_size=5")
    assert _ids(response) == ["new-high", "old-high"]
    assert response.get_json()["total"] == 2 and response.get_json()["page_size"] == 5


# -- soft deletion ----------------------------------------------------------------------------
def test_soft_deleted_ticket_is_neither_listed_nor_served_but_its_history_is(client, seed):
    seed.ticket("acme", "gone", urgency="high", deleted_at=T0 + timedelta(hours=1))
    seed.history("acme", "gone", "created", T0)
    seed.history("acme", "gone", "deleted", T0 + timedelta(hours=1), reason="gone upstream",
                 changes={"deleted_at": {"old": None, "new": "2026-03-01T13:00:00Z"}}, job_id="job-9")
    assert _ids(client.get("/tickets?tenant_id=acme")) == []
    assert _ids(client.get("/tickets/urgent?tenant_id=acme")) == []
    assert_json_error(client.get("/tickets/gone?tenant_id=acme"), 404)
    body = client.get("/tickets/gone/history?tenant_id=acme").get_json()
    assert body["ticket_id"] == "gone" and body["total"] == 2
    assert body["history"][0] == {
        "action": "deleted", "changes": {"deleted_at": {"old": None, "new": "2026-03-01T13:00:00Z"}},
        "job_id": "job-9", "recorded_at": "2026-03-01T13:00:00Z", "reason": "gone upstream",
    }
    assert "reason" not in body["history"][1]


def test_history_is_newest_first_and_paginated(client, seed):
    seed.ticket("acme", "tkt-1")
    for n, action in enumerate(("created", "updated", "updated")):
        seed.history("acme", "tkt-1", action, T0 + timedelta(hours=n),
                     changes={"status": {"old": "open", "new": f"s{n}"}})
    body = client.get("/tickets/tkt-1/history?tenant_id=acme&page=1&page_size=2").get_json()
    assert [e["changes"]["status"]["new"] for e in body["history"]] == ["s2", "s1"]
    assert (body["page"], body["page_size"], body["total"]) == (1, 2, 3)


# -- isolation --------------------------------------------------------------------------------
def test_same_external_id_in_two_tenants_is_two_tickets(client, seed):
    seed.ticket("acme", "tkt-1", status="open")
    seed.ticket("globex", "tkt-1", status="closed")
    assert client.get("/tickets/tkt-1?tenant_id=acme").get_json()["subject"] == "acme/tkt-1"
    assert client.get("/tickets/tkt-1?tenant_id=globex").get_json()["subject"] == "globex/tkt-1"
    assert _ids(client.get("/tickets?tenant_id=acme&status=closed")) == []


def test_another_tenants_ticket_and_a_deleted_one_get_the_same_404(client, seed):
    seed.ticket("globex", "theirs")
    seed.ticket("acme", "deleted", deleted_at=T0)
    foreign = client.get("/tickets/theirs?tenant_id=acme")
    deleted = client.get("/tickets/deleted?tenant_id=acme")
    assert_json_error(foreign, 404)
    assert foreign.get_json() == deleted.get_json()


def test_history_of_another_tenants_ticket_is_404(client, seed):
    seed.ticket("globex", "theirs")
    seed.history("globex", "theirs", "created", T0)
    assert_json_error(client.get("/tickets/theirs/history?tenant_id=acme"), 404)


def test_unknown_ticket_is_json_404(client):
    assert_json_error(client.get("/tickets/nope?tenant_id=acme"), 404)
    assert_json_error(client.get("/tickets/nope/history?tenant_id=acme"), 404)


# -- validation -------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/tickets", "/tickets/urgent", "/tickets/tkt-1", "/tickets/tkt-1/history"])
def test_missing_tenant_id_is_422_naming_it(client, path):
    assert_json_error(client.get(path), 422, "tenant_id")


@pytest.mark.parametrize("path", ["/tickets", "/tickets/urgent", "/tickets/tkt-1", "/tickets/tkt-1/history"])
def test_tenant_id_with_bad_characters_is_422_naming_it(client, path):
    assert_json_error(client.get(path + "?tenant_id=acme%2F..%24ne"), 422, "tenant_id")


@pytest.mark.parametrize("query,field", [
    ("page=0", "page"),
    ("page=-1", "page"),
    ("page=abc", "page"),
    ("page_size=0", "page_size"),
    ("page_size=101", "page_size"),
    ("urgency=extreme", "urgency"),
    ("sentiment=angry", "sentiment"),
    ("requires_action=maybe", "requires_action"),
    ("requires_action=yes", "requires_action"),
    ("status=" + "x" * 65, "status"),
    ("status=%24ne", "status"),
    ("source=a%00b", "source"),
    ("source=", "source"),
    ("urgncy=high", "urgncy"),
])
def test_bad_listing_query_is_422_naming_the_field(client, query, field):
    assert_json_error(client.get(f"/tickets?tenant_id=acme&{query}"), 422, field)


@pytest.mark.parametrize("query,field", [("page=0", "page"), ("page_size=101", "page_size"),
                                         ("urgency=low", "urgency")])
def test_bad_urgent_query_is_422_naming_the_field(client, query, field):
    assert_json_error(client.get(f"/tickets/urgent?tenant_id=acme&{query}"), 422, field)


def test_bad_history_page_is_422_naming_the_field(client, seed):
    seed.ticket("acme", "tkt-1")
    assert_json_error(client.get("/tickets/tkt-1/history?tenant_id=acme&page_size=101"), 422, "page_size")


def test_overlong_ticket_id_is_422_naming_it(client):
    assert_json_error(client.get("/tickets/" + "x" * 129 + "?tenant_id=acme"), 422, "ticket_id")


def test_status_with_inner_space_is_a_valid_filter(client, seed):
    seed.ticket("acme", "held", status="on hold")
    assert _ids(client.get("/tickets?tenant_id=acme&status=on%20hold")) == ["held"]


def test_openapi_documents_every_ticket_endpoint_and_its_filters(client):
    spec = client.get("/openapi.json").get_json()
    for path in ("/tickets", "/tickets/urgent", "/tickets/{ticket_id}", "/tickets/{ticket_id}/history"):
        assert "get" in spec["paths"][path], path
    params = {p["name"] for p in spec["paths"]["/tickets"]["get"]["parameters"]}
    assert {"tenant_id", "status", "urgency", "sentiment", "source", "requires_action", "page", "page_size"} <= params
    assert "Ticket" in spec["components"]["schemas"]
