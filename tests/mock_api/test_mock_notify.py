"""POST /notify: slow, each ticket's first attempts fail, outages after failure runs."""
import pytest

from mock_api import NotifyConfig


def payload(ticket_id="tkt-000001", tenant_id="tenant_a", key=None):
    key = key or f"{tenant_id}:{ticket_id}:high"
    return {"ticket_id": ticket_id, "tenant_id": tenant_id, "urgency": "high",
            "reason": "legal threat", "idempotency_key": key}


@pytest.fixture
def notify(client):
    """POST /notify with a valid body and matching header; returns the response."""

    def send(ticket_id="tkt-000001", tenant_id="tenant_a", key=None):
        body = payload(ticket_id, tenant_id, key)
        return client.post("/notify", json=body, headers={"Idempotency-Key": body["idempotency_key"]})

    return send


def test_first_two_attempts_fail_with_5xx_and_the_third_is_delivered(notify):
    statuses = [notify().status_code for _ in range(3)]
    assert statuses == [500, 502, 200]


def test_success_reports_delivered_and_a_repeat_is_a_duplicate(notify):
    notify(), notify()
    assert notify().get_json() == {"status": "delivered", "duplicate": False}
    assert notify().get_json() == {"status": "delivered", "duplicate": True}


def test_a_new_idempotency_key_for_a_delivered_ticket_is_not_a_duplicate(notify):
    notify(), notify(), notify()
    assert notify(key="another").get_json() == {"status": "delivered", "duplicate": False}


def test_failures_are_counted_per_tenant_and_ticket(notify):
    notify(tenant_id="tenant_a"), notify(tenant_id="tenant_a")
    assert notify(tenant_id="tenant_a").status_code == 200
    assert notify(tenant_id="tenant_b").status_code == 500


def test_ten_consecutive_failures_start_a_thirty_second_outage(notify, clock, mock):
    for n in range(5):
        notify(f"tkt-{n}"), notify(f"tkt-{n}")  # 10 failures in a row
    assert mock.report()["notify"]["in_outage"]
    assert notify("tkt-0").status_code == 503  # its failures are spent, yet the outage answers
    clock.advance(29.9)
    assert notify("tkt-1").status_code == 503
    clock.advance(0.1)
    assert not mock.report()["notify"]["in_outage"]
    assert notify("tkt-2").status_code == 200


def test_a_success_breaks_the_run_of_consecutive_failures(notify, mock):
    for n in range(4):
        notify(f"tkt-{n}"), notify(f"tkt-{n}")
    notify("tkt-9")
    assert notify("tkt-0").status_code == 200  # 9 failures, then a success
    notify("tkt-9")
    notify("tkt-8")  # 2 more: not 10 in a row
    assert not mock.report()["notify"]["in_outage"]


def test_outage_after_failures_zero_disables_outages(make_app):
    client = make_app(notify=NotifyConfig(latency_ms=(0, 0), outage_after_failures=0)).test_client()
    for n in range(20):
        body = payload(f"tkt-{n}")
        client.post("/notify", json=body, headers={"Idempotency-Key": body["idempotency_key"]})
    assert client.get("/admin/report").get_json()["notify"]["in_outage"] is False


def test_fail_first_attempts_is_configurable(admin, notify):
    admin("POST", "config", {"notify": {"fail_first_attempts": 0}})
    assert notify().status_code == 200


def test_fail_share_picks_a_stable_share_of_tickets(make_app):
    def first_attempt_failures(seed):
        app = make_app(seed=seed, notify=NotifyConfig(latency_ms=(0, 0), fail_share=0.3, outage_after_failures=0))
        client = app.test_client()
        failed = set()
        for n in range(200):
            body = payload(f"tkt-{n}")
            response = client.post("/notify", json=body, headers={"Idempotency-Key": body["idempotency_key"]})
            if response.status_code != 200:
                failed.add(n)
        return failed

    failed = first_attempt_failures(seed=1)
    assert 40 <= len(failed) <= 80
    assert first_attempt_failures(seed=1) == failed
    assert first_attempt_failures(seed=2) != failed


def test_fail_share_zero_delivers_every_first_attempt(admin, notify):
    admin("POST", "config", {"notify": {"fail_share": 0.0}})
    assert notify().status_code == 200


def test_latency_is_uniform_within_the_configured_range(make_app, clock):
    client = make_app(notify=NotifyConfig(latency_ms=(100, 500), fail_first_attempts=0)).test_client()
    waits = []
    for n in range(30):
        before = clock.now()
        body = payload(f"tkt-{n}")
        client.post("/notify", json=body, headers={"Idempotency-Key": body["idempotency_key"]})
        waits.append(clock.now() - before)
    assert all(0.1 - 1e-6 <= w <= 0.5 + 1e-6 for w in waits)
    assert max(waits) - min(waits) > 0.2


def test_a_forced_outage_answers_503_for_its_duration(admin, notify, clock):
    admin("POST", "config", {"notify": {"fail_first_attempts": 0}})
    faults = admin("POST", "faults", {"notify_outage_s": 5})
    assert faults["notify_in_outage"] is True
    assert notify().status_code == 503
    clock.advance(5)
    assert notify().status_code == 200


def test_report_counts_attempts_successes_and_unique_deliveries(notify, mock):
    for _ in range(4):
        notify("tkt-000001")
    notify("tkt-000002")
    report = mock.report()["notify"]
    assert report["attempts"] == {"tenant_a:tkt-000001": 4, "tenant_a:tkt-000002": 1}
    assert report["successes"] == {"tenant_a:tkt-000001": 2}
    assert (report["total_attempts"], report["total_successes"], report["unique_delivered"]) == (5, 2, 1)
    assert report["arrivals"] == ["tenant_a:tkt-000001"] * 4 + ["tenant_a:tkt-000002"]


@pytest.mark.parametrize("change", [
    {"ticket_id": None}, {"tenant_id": ""}, {"urgency": "extreme"}, {"reason": None},
    {"idempotency_key": None},
])
def test_a_missing_or_invalid_field_is_400(client, mock, change):
    body = {**payload(), **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = client.post("/notify", json=body, headers={"Idempotency-Key": "tenant_a:tkt-000001:high"})
    assert response.status_code == 400 and "error" in response.get_json()
    assert mock.report()["notify"]["total_attempts"] == 0


def test_the_idempotency_key_header_is_required_and_must_match(client):
    assert client.post("/notify", json=payload()).status_code == 400
    assert client.post("/notify", json=payload(), headers={"Idempotency-Key": "other"}).status_code == 400


def test_a_body_that_is_not_json_is_400(client):
    response = client.post("/notify", data="nope", headers={"Idempotency-Key": "k"})
    assert response.status_code == 400
