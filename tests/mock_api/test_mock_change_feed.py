"""GET /external/ticket-changes: a tenant's changes in (change time, id) order behind an
opaque cursor, deletions carried in the feed, changes during a walk never lost, and a
switch that makes the upstream one without the feed (404)."""
import pytest

FEED = "/external/ticket-changes"


@pytest.fixture
def app(make_app):
    return make_app(rate_limit_calls=10_000)


def walk(get_json, tenant_id, since, page_size=100):
    """Every page of one feed walk: (tickets in order, pages, as_of of the last page)."""
    tickets, pages, cursor = [], 0, None
    while True:
        params = {"tenant_id": tenant_id, "since": since, "page_size": page_size}
        if cursor:
            params["cursor"] = cursor
        status, body = get_json(FEED, **params)
        assert status == 200, body
        pages += 1
        tickets += body["tickets"]
        cursor = body["next_cursor"]
        if cursor is None:
            return tickets, pages, body["as_of"]


def test_feed_from_the_epoch_lists_every_ticket_of_the_tenant_once(get_json, all_tickets, mock):
    tickets, pages, _ = walk(get_json, "tenant_a", "1970-01-01T00:00:00Z", page_size=7)
    expected = {t["id"] for t in all_tickets(mock, "tenant_a")}
    assert [t["id"] for t in tickets if t["id"] in expected] == [t["id"] for t in tickets]
    assert sorted(t["id"] for t in tickets) == sorted(expected)
    assert pages == -(-len(expected) // 7)
    assert all(t["tenant_id"] == "tenant_a" for t in tickets)


def test_feed_is_ordered_by_change_time_then_id(admin, get_json, later):
    admin("POST", "mutate", {"tenant_id": "tenant_a", "update": [{"id": "tkt-000009", "fields": {"status": "closed"}}]})
    admin("POST", "mutate", {"tenant_id": "tenant_a", "update": [{"id": "tkt-000003", "fields": {"status": "closed"}}]})
    tickets, _, _ = walk(get_json, "tenant_a", later, page_size=1)
    assert [t["id"] for t in tickets] == ["tkt-000009", "tkt-000003"]


def test_unchanged_tenant_answers_one_empty_page_with_as_of(get_json, later):
    status, body = get_json(FEED, tenant_id="tenant_a", since=later)
    assert status == 200
    assert body == {"tickets": [], "next_cursor": None, "as_of": later}


def test_changes_deletions_creations_and_restores_appear(admin, get_json, later, clock):
    result = admin("POST", "mutate", {"tenant_id": "tenant_b", "update": 2, "delete": 2, "create": 1})
    admin("POST", "mutate", {"tenant_id": "tenant_b", "restore": [result["deleted"][0]]})
    tickets, _, _ = walk(get_json, "tenant_b", later)
    by_id = {t["id"]: t for t in tickets}
    assert set(by_id) == set(result["updated"] + result["deleted"] + result["created"])
    restored, gone = result["deleted"]
    assert by_id[gone]["deleted"] is True and by_id[gone]["deleted_at"] == later
    assert "deleted" not in by_id[restored]
    assert [t["id"] for t in tickets][-1] == restored  # its restore is its latest change


def test_a_change_made_during_a_walk_appears_later_in_the_same_walk(admin, get_json, later):
    admin("POST", "mutate", {"tenant_id": "tenant_a", "update": [
        {"id": f"tkt-00000{i}", "fields": {"status": "closed"}} for i in range(1, 5)]})
    first = get_json(FEED, tenant_id="tenant_a", since=later, page_size=2)[1]
    # The walk has passed tkt-000001; change it again before the next page.
    admin("POST", "mutate", {"tenant_id": "tenant_a", "update": [{"id": "tkt-000001", "fields": {"status": "open"}}]})
    rest = []
    cursor = first["next_cursor"]
    while cursor:
        body = get_json(FEED, tenant_id="tenant_a", since=later, page_size=2, cursor=cursor)[1]
        rest += body["tickets"]
        cursor = body["next_cursor"]
    assert [t["id"] for t in first["tickets"]] == ["tkt-000001", "tkt-000002"]
    assert [t["id"] for t in rest] == ["tkt-000003", "tkt-000004", "tkt-000001"]
    assert rest[-1]["status"] == "open"


def test_a_change_after_a_walk_is_stamped_at_or_after_its_as_of(admin, get_json, later):
    _, _, as_of = walk(get_json, "tenant_a", later)
    admin("POST", "mutate", {"tenant_id": "tenant_a", "update": [{"id": "tkt-000005", "fields": {"status": "closed"}}]})
    tickets, _, _ = walk(get_json, "tenant_a", as_of)
    assert [t["id"] for t in tickets] == ["tkt-000005"]


def test_bad_cursor_and_another_tenants_cursor_are_400(admin, get_json, later):
    admin("POST", "mutate", {"tenant_id": "tenant_a", "update": 3})
    cursor = get_json(FEED, tenant_id="tenant_a", since=later, page_size=1)[1]["next_cursor"]
    assert get_json(FEED, tenant_id="tenant_a", since=later, cursor="garbage")[0] == 400
    assert get_json(FEED, tenant_id="tenant_b", since=later, cursor=cursor)[0] == 400


@pytest.mark.parametrize("params", [{"since": "2027-01-01T00:00:00Z"}, {"tenant_id": "tenant_a"},
                                    {"tenant_id": "tenant_a", "since": "yesterday"},
                                    {"tenant_id": "tenant_a", "since": "2027-01-01T00:00:00Z", "page_size": "101"}])
def test_missing_or_invalid_parameters_are_400(get_json, params):
    status, body = get_json(FEED, **params)
    assert status == 400 and body["error"]


def test_switched_off_feed_answers_404_and_still_counts_the_call(admin, get_json, later, mock):
    admin("POST", "config", {"change_feed": False})
    before = mock.report()["calls"]
    status, _ = get_json(FEED, tenant_id="tenant_a", since=later)
    assert status == 404
    assert mock.report()["calls"] == before + 1
    admin("POST", "config", {"change_feed": True})
    assert get_json(FEED, tenant_id="tenant_a", since=later)[0] == 200
