"""POST/DELETE /admin/faults: injected misbehaviour of /external/*, consumed in arrival order."""
import json

import pytest

LIST = "/external/support-tickets"


@pytest.fixture
def app(make_app):
    return make_app(rate_limit_calls=10_000)


def statuses(client, n, path=LIST):
    return [client.get(path).status_code for _ in range(n)]


def test_fail_next_fails_that_many_calls_then_recovers(client, admin, mock):
    admin("POST", "faults", {"fail_next": 2})
    assert statuses(client, 3) == [500, 500, 200]
    assert mock.report()["calls"] == 3


def test_fail_status_chooses_the_error(client, admin):
    admin("POST", "faults", {"fail_next": 1, "fail_status": 503})
    response = client.get(LIST)
    assert response.status_code == 503 and "error" in response.get_json()


def test_error_rate_fails_a_seeded_share_of_calls(make_app):
    def run():
        client = make_app(rate_limit_calls=10_000).test_client()
        client.post("/admin/faults", json={"error_rate": 0.5})
        return statuses(client, 40)

    first = run()
    assert 8 <= first.count(500) <= 32
    assert run() == first


def test_error_rate_one_fails_everything(client, admin):
    admin("POST", "faults", {"error_rate": 1.0})
    assert statuses(client, 5) == [500] * 5


def test_malformed_next_answers_200_with_a_body_that_is_not_json(client, admin):
    admin("POST", "faults", {"malformed_next": 1})
    response = client.get(LIST)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.get_data(as_text=True))
    assert client.get(LIST).get_json()["tickets"]


def test_rate_limit_storm_answers_429_with_its_retry_after(client, admin, mock):
    admin("POST", "faults", {"rate_limit_storm": {"count": 2, "retry_after": 7}})
    responses = [client.get(LIST) for _ in range(3)]
    assert [r.status_code for r in responses] == [429, 429, 200]
    assert responses[0].headers["Retry-After"] == "7"
    report = mock.report()
    assert (report["calls"], report["rate_limited"]) == (3, 2)


def test_a_fractional_storm_retry_after_is_kept(client, admin):
    admin("POST", "faults", {"rate_limit_storm": {"count": 1, "retry_after": 0.25}})
    assert client.get(LIST).headers["Retry-After"] == "0.25"


def test_latency_next_delays_that_many_calls(client, admin, clock):
    admin("POST", "faults", {"latency_s": 2.5, "latency_next": 2})
    waits = []
    for _ in range(3):
        before = clock.now()
        client.get(LIST)
        waits.append(clock.now() - before)
    assert waits == [2.5, 2.5, 0.0]


def test_latency_without_a_count_delays_every_call(client, admin, clock):
    admin("POST", "faults", {"latency_s": 1})
    before = clock.now()
    statuses(client, 4)
    assert clock.now() - before == 4


def test_foreign_tickets_slip_another_tenants_ticket_into_tenant_pages(client, admin):
    admin("POST", "faults", {"foreign_tickets": True})
    body = client.get(LIST, query_string={"tenant_id": "tenant_a", "page_size": 10}).get_json()
    tenants = [t["tenant_id"] for t in body["tickets"]]
    assert tenants.count("tenant_a") == 10 and len(tenants) == 11
    past_end = client.get(LIST, query_string={"tenant_id": "tenant_a", "page": 999}).get_json()
    assert past_end["tickets"] == []


def test_foreign_tickets_are_off_by_default(client):
    body = client.get(LIST, query_string={"tenant_id": "tenant_a", "page_size": 10}).get_json()
    assert {t["tenant_id"] for t in body["tickets"]} == {"tenant_a"}


def test_mutate_after_calls_shifts_pages_mid_run(client, admin):
    admin("POST", "faults", {"mutate_after_calls": {
        "calls": 1, "mutation": {"tenant_id": "tenant_a", "delete": ["tkt-000001"]}}})
    query = {"tenant_id": "tenant_a", "page_size": 5}
    first = client.get(LIST, query_string=query).get_json()["tickets"]
    second = client.get(LIST, query_string={**query, "page": 2}).get_json()["tickets"]
    assert first[0]["id"] == "tkt-000001"
    assert second[0]["id"] == "tkt-000007"  # tkt-000006 moved onto page 1 after it was read
    report = admin("GET", "report")
    assert report["faults"]["last_scheduled_mutation"]["deleted"] == ["tkt-000001"]


def test_mutate_after_calls_waits_for_the_kth_call(client, admin):
    admin("POST", "faults", {"mutate_after_calls": {
        "calls": 3, "mutation": {"tenant_id": "tenant_a", "create": 1}}})
    totals = [client.get(LIST, query_string={"tenant_id": "tenant_a"}).get_json()["total_count"] for _ in range(4)]
    assert totals[0] == totals[1] == totals[2] == totals[3] - 1


def test_faults_do_not_touch_health_or_notify(client, admin):
    admin("POST", "faults", {"fail_next": 5, "malformed_next": 5, "rate_limit_storm": {"count": 5}})
    assert client.get("/health").status_code == 200
    body = {"ticket_id": "t", "tenant_id": "a", "urgency": "high", "reason": "", "idempotency_key": "k"}
    assert client.post("/notify", json=body, headers={"Idempotency-Key": "k"}).status_code == 500  # its own first failure
    assert admin("GET", "faults")["fail_next"] == 5


def test_delete_clears_every_fault(client, admin):
    admin("POST", "faults", {"fail_next": 3, "latency_s": 1, "foreign_tickets": True, "notify_outage_s": 60})
    cleared = admin("DELETE", "faults")
    assert cleared["fail_next"] == 0 and cleared["latency_s"] == 0 and cleared["foreign_tickets"] is False
    assert cleared["notify_in_outage"] is False
    assert client.get(LIST).status_code == 200


def test_faults_merge_partial_updates(admin):
    admin("POST", "faults", {"fail_next": 3})
    merged = admin("POST", "faults", {"malformed_next": 1})
    assert (merged["fail_next"], merged["malformed_next"]) == (3, 1)


@pytest.mark.parametrize("body", [
    {"fail_next": -1}, {"fail_status": 200}, {"error_rate": 1.5}, {"latency_s": "slow"},
    {"rate_limit_storm": 3}, {"foreign_tickets": "yes"}, {"mutate_after_calls": {"calls": 0, "mutation": {}}},
    {"mutate_after_calls": {"calls": 1, "mutation": {"tenant_id": "tenant_a", "delete": "x"}}}, {"bogus": 1},
])
def test_an_invalid_fault_is_400_and_sets_nothing(client, admin, body):
    response = client.post("/admin/faults", json=body)
    assert response.status_code == 400
    assert admin("GET", "faults")["fail_next"] == 0
