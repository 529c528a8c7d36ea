"""POST /admin/mutate: update, delete, create, restore and corrupt tickets of one tenant."""
import pytest

from mock_api.clock import format_iso

LIST = "/external/support-tickets"


@pytest.fixture
def app(make_app):
    return make_app(rate_limit_calls=10_000)


def ticket(get_json, ticket_id, tenant_id="tenant_a"):
    return get_json(f"{LIST}/{ticket_id}", tenant_id=tenant_id)


def test_update_changes_fields_and_bumps_updated_at_to_now(admin, get_json, later):
    result = admin("POST", "mutate", {"tenant_id": "tenant_a", "update": [
        {"id": "tkt-000002", "fields": {"status": "closed", "subject": "New subject"}}]})
    assert result["updated"] == ["tkt-000002"]
    _, body = ticket(get_json, "tkt-000002")
    assert (body["status"], body["subject"], body["updated_at"]) == ("closed", "New subject", later)


def test_update_keeps_an_explicit_older_updated_at(admin, get_json, later):
    admin("POST", "mutate", {"tenant_id": "tenant_a", "update": [
        {"id": "tkt-000002", "fields": {"message": "edited"}, "updated_at": "2020-01-01T00:00:00Z"}]})
    _, body = ticket(get_json, "tkt-000002")
    assert (body["message"], body["updated_at"]) == ("edited", "2020-01-01T00:00:00Z")


def test_two_updates_in_one_second_still_move_updated_at_forward(admin, get_json, later):
    stamps = []
    for _ in range(2):
        admin("POST", "mutate", {"tenant_id": "tenant_a", "update": [{"id": "tkt-000002"}]})
        stamps.append(ticket(get_json, "tkt-000002")[1]["updated_at"])
    assert stamps[0] == later and stamps[1] > stamps[0]


def test_update_by_count_picks_seeded_tickets_and_changes_their_status(make_app, clock):
    clients = [make_app(rate_limit_calls=10_000).test_client() for _ in range(2)]
    clock.advance(3600)
    chosen = []
    for client in clients:
        query = {"tenant_id": "tenant_a", "page_size": 100}
        before = {t["id"]: t for t in client.get(LIST, query_string=query).get_json()["tickets"]}
        ids = client.post("/admin/mutate", json={"tenant_id": "tenant_a", "update": 3}).get_json()["updated"]
        for ticket_id in ids:
            after = client.get(f"{LIST}/{ticket_id}", query_string={"tenant_id": "tenant_a"}).get_json()
            assert after["status"] != before[ticket_id]["status"]
            assert after["updated_at"] == format_iso(clock.now())
        chosen.append(ids)
    assert len(chosen[0]) == 3 and chosen[0] == chosen[1]


def test_delete_hides_a_ticket_and_lists_it_as_deleted(admin, get_json, later):
    _, before = get_json(LIST, tenant_id="tenant_a", page_size=100)
    assert admin("POST", "mutate", {"tenant_id": "tenant_a", "delete": ["tkt-000003"]})["deleted"] == ["tkt-000003"]
    assert ticket(get_json, "tkt-000003")[0] == 404
    _, after = get_json(LIST, tenant_id="tenant_a", page_size=100)
    assert after["total_count"] == before["total_count"] - 1
    assert "tkt-000003" not in [t["id"] for t in after["tickets"]]
    assert get_json("/external/deleted-tickets", tenant_id="tenant_a")[1] == {"deleted_ids": ["tkt-000003"]}
    assert get_json("/external/deleted-tickets", tenant_id="tenant_b")[1] == {"deleted_ids": []}
    assert ticket(get_json, "tkt-000003", "tenant_b")[0] == 200  # same id, other tenant


def test_include_deleted_lists_deleted_tickets_with_deletion_fields(admin, get_json, later):
    admin("POST", "mutate", {"tenant_id": "tenant_a", "delete": ["tkt-000003"]})
    _, body = get_json(LIST, tenant_id="tenant_a", page_size=5, include_deleted="true")
    deleted = body["tickets"][2]
    assert (deleted["id"], deleted["deleted"], deleted["deleted_at"]) == ("tkt-000003", True, later)
    assert "deleted" not in body["tickets"][0]


def test_delete_by_count_removes_that_many_live_tickets(admin, get_json):
    _, before = get_json(LIST, tenant_id="tenant_b")
    result = admin("POST", "mutate", {"tenant_id": "tenant_b", "delete": 4})
    assert len(result["deleted"]) == 4
    assert get_json(LIST, tenant_id="tenant_b")[1]["total_count"] == before["total_count"] - 4


def test_create_appends_tickets_last_with_the_next_ids(admin, get_json, mock, all_tickets, later):
    last_id = all_tickets(mock, "tenant_a")[-1]["id"]
    result = admin("POST", "mutate", {"tenant_id": "tenant_a", "create": [{"subject": "Site not loading"}, {}]})
    next_number = int(last_id.split("-")[1]) + 1
    assert result["created"] == [f"tkt-{next_number:06d}", f"tkt-{next_number + 1:06d}"]
    tickets = all_tickets(mock)
    assert [t["id"] for t in tickets[-2:]] == result["created"]
    created = tickets[-2]
    assert created["subject"] == "Site not loading"
    assert created["created_at"] == created["updated_at"] == later
    assert created["status"] == "open" and created["tenant_id"] == "tenant_a"
    assert set(created) >= {"source", "customer_id", "message"}


def test_create_by_count(admin, get_json):
    before = get_json(LIST, tenant_id="tenant_c")[1]["total_count"]
    assert len(admin("POST", "mutate", {"tenant_id": "tenant_c", "create": 3})["created"]) == 3
    assert get_json(LIST, tenant_id="tenant_c")[1]["total_count"] == before + 3


def test_restore_undoes_a_delete_in_place(admin, get_json, mock, all_tickets):
    before = all_tickets(mock, "tenant_a")
    admin("POST", "mutate", {"tenant_id": "tenant_a", "delete": ["tkt-000003"]})
    assert admin("POST", "mutate", {"tenant_id": "tenant_a", "restore": ["tkt-000003"]})["restored"] == ["tkt-000003"]
    assert all_tickets(mock, "tenant_a") == before
    assert get_json("/external/deleted-tickets", tenant_id="tenant_a")[1] == {"deleted_ids": []}


def test_corrupt_stores_raw_values_and_null_removes_a_field(admin, get_json):
    admin("POST", "mutate", {"tenant_id": "tenant_a", "corrupt": [
        {"id": "tkt-000001", "fields": {"created_at": "yesterday", "customer_id": None, "status": 7}}]})
    _, body = ticket(get_json, "tkt-000001")
    assert body["created_at"] == "yesterday" and body["status"] == 7
    assert "customer_id" not in body


def test_an_unknown_id_is_404_and_changes_nothing(client, mock, all_tickets):
    before = all_tickets(mock, "tenant_a")
    response = client.post("/admin/mutate", json={"tenant_id": "tenant_a", "delete": ["tkt-000001", "tkt-999999"]})
    assert response.status_code == 404 and "tkt-999999" in response.get_json()["error"]
    assert all_tickets(mock, "tenant_a") == before


def test_an_unknown_tenant_is_404(client):
    assert client.post("/admin/mutate", json={"tenant_id": "nobody", "create": 1}).status_code == 404


@pytest.mark.parametrize("body", [
    {}, {"update": 1}, {"tenant_id": "tenant_a", "update": "all"},
    {"tenant_id": "tenant_a", "update": [{"id": "tkt-000001", "fields": {"status": "weird"}}]},
    {"tenant_id": "tenant_a", "update": [{"id": "tkt-000001", "fields": {"created_at": "x"}}]},
    {"tenant_id": "tenant_a", "update": [{"id": "tkt-000001", "updated_at": "not a time"}]},
    {"tenant_id": "tenant_a", "create": [{"id": "tkt-5"}]},
    {"tenant_id": "tenant_a", "delete": -1}, {"tenant_id": "tenant_a", "restore": 2},
    {"tenant_id": "tenant_a", "explode": True},
])
def test_an_invalid_body_is_400(client, body):
    response = client.post("/admin/mutate", json=body)
    assert response.status_code == 400 and response.get_json()["error"]
