"""The listing, single-ticket and deleted-tickets endpoints as the contract states them."""
import pytest

LIST = "/external/support-tickets"


@pytest.fixture
def app(make_app):
    # A limit tests never reach here; rate limiting has its own tests.
    return make_app(rate_limit_calls=10_000)


def test_default_page_is_the_first_twenty_tickets(get_json, mock, all_tickets):
    status, body = get_json(LIST)
    assert status == 200
    assert body["tickets"] == all_tickets(mock)[:20]
    assert body["next_page"] == 2
    assert body["total_count"] == 200


def test_page_size_up_to_one_hundred(get_json):
    status, body = get_json(LIST, page=2, page_size=100)
    assert status == 200
    assert len(body["tickets"]) == 100
    assert body["next_page"] is None


def test_following_next_page_visits_every_ticket_once(get_json, mock, all_tickets):
    seen, page = [], 1
    while page is not None:
        _, body = get_json(LIST, page=page, page_size=7)
        assert body["total_count"] == 200
        seen += [t["id"] + "@" + t["tenant_id"] for t in body["tickets"]]
        page = body["next_page"]
    assert seen == [t["id"] + "@" + t["tenant_id"] for t in all_tickets(mock)]


def test_a_page_past_the_end_is_empty_with_no_next_page(get_json):
    status, body = get_json(LIST, page=99, page_size=50)
    assert status == 200
    assert body == {"tickets": [], "next_page": None, "total_count": 200}


def test_tenant_filter_returns_only_that_tenants_tickets(get_json, mock, all_tickets):
    _, body = get_json(LIST, tenant_id="tenant_b", page_size=100)
    expected = all_tickets(mock, "tenant_b")
    assert body["total_count"] == len(expected) < 200
    assert body["tickets"] == expected[:100]
    assert {t["tenant_id"] for t in body["tickets"]} == {"tenant_b"}


def test_an_unknown_tenant_has_no_tickets(get_json):
    assert get_json(LIST, tenant_id="nobody") == (200, {"tickets": [], "next_page": None, "total_count": 0})


@pytest.mark.parametrize("params", [
    {"page": 0}, {"page": -1}, {"page": "x"}, {"page": "1.5"}, {"page": ""},
    {"page_size": 0}, {"page_size": 101}, {"page_size": "ten"},
    {"include_deleted": "maybe"}, {"tenant_id": ""},
])
def test_invalid_parameters_get_400_with_a_json_error(get_json, params):
    status, body = get_json(LIST, **params)
    assert status == 400
    assert isinstance(body["error"], str) and body["error"]


def test_the_same_id_names_a_different_ticket_in_each_tenant(get_json):
    _, in_a = get_json(LIST + "/tkt-000001", tenant_id="tenant_a")
    _, in_c = get_json(LIST + "/tkt-000001", tenant_id="tenant_c")
    assert (in_a["tenant_id"], in_c["tenant_id"]) == ("tenant_a", "tenant_c")
    assert in_a["id"] == in_c["id"] == "tkt-000001"
    assert in_a != in_c


def test_single_ticket_without_tenant_returns_the_first_match(get_json):
    _, body = get_json(LIST + "/tkt-000001")
    assert body["tenant_id"] == "tenant_a"


def test_unknown_ticket_is_404_json(get_json):
    status, body = get_json(LIST + "/tkt-999999", tenant_id="tenant_a")
    assert status == 404 and "error" in body


def test_deleted_tickets_is_empty_before_any_delete(get_json):
    assert get_json("/external/deleted-tickets", tenant_id="tenant_a") == (200, {"deleted_ids": []})


def test_unknown_external_paths_answer_json_and_count_as_calls(client, mock):
    assert client.get("/external/nope").status_code == 404
    assert client.post(LIST).status_code == 405
    assert mock.report()["calls"] == 2


def test_health_answers_ok_and_is_not_counted(client, mock):
    response = client.get("/health")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    assert mock.report()["calls"] == 0
