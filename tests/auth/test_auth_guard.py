"""The request guard: 401/403/404 answers, their order against validation, and what they
do not give away."""
from __future__ import annotations

import logging

import pytest
from flask import jsonify

from auth.auth_data import ADMIN_KEY, TENANT_A, TENANT_B, bearer
from support import assert_json_error
from ticketsvc.auth import guard
from ticketsvc.auth.policy import TENANT_IN_BODY, rule_for


def test_missing_malformed_unknown_and_revoked_keys_get_one_identical_401_with_a_bearer_challenge(
        keys_client, issue_key, key_store):
    revoked, revoked_id = issue_key(TENANT_A)
    key_store.revoke(revoked_id)
    attempts = [{}, {"Authorization": "Basic dXNlcjpwdw=="}, {"Authorization": "Bearer"},
                {"Authorization": "Bearer a b"}, bearer("tsk_unknown"), bearer("x" * 5000), bearer(revoked)]
    bodies = []
    for headers in attempts:
        response = keys_client.get(f"/tickets?tenant_id={TENANT_A}", headers=headers)
        bodies.append(assert_json_error(response, 401))
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert all(body == bodies[0] for body in bodies)


def test_the_bearer_scheme_name_is_case_insensitive(keys_client):
    response = keys_client.get(f"/tickets?tenant_id={TENANT_A}", headers={"Authorization": f"bearer {ADMIN_KEY}"})
    assert response.status_code == 200


def test_an_unauthenticated_caller_gets_401_before_any_validation(keys_client):
    # Without a key nothing is learnt about parameters: not even that tenant_id is missing.
    assert_json_error(keys_client.get("/tickets"), 401)
    assert_json_error(keys_client.get("/tickets?tenant_id=bad id!&page=0"), 401)
    assert_json_error(keys_client.post("/admin/api-keys", json={"bogus": 1}), 401)


def test_unknown_paths_and_methods_need_a_key_before_they_say_404_or_405(keys_client):
    assert_json_error(keys_client.get("/no/such/thing"), 401)
    assert_json_error(keys_client.delete("/tickets"), 401)
    assert_json_error(keys_client.get("/no/such/thing", headers=bearer(ADMIN_KEY)), 404)
    assert_json_error(keys_client.delete("/tickets", headers=bearer(ADMIN_KEY)), 405)


def test_validation_still_answers_422_naming_the_field_once_the_key_is_accepted(keys_client, issue_key):
    tenant_key, _ = issue_key(TENANT_A)
    assert_json_error(keys_client.get(f"/tickets?tenant_id={TENANT_A}&page=0", headers=bearer(tenant_key)), 422,
                      "page")
    assert_json_error(keys_client.get("/tickets", headers=bearer(tenant_key)), 422, "tenant_id")
    assert_json_error(keys_client.get("/tickets", headers=bearer(ADMIN_KEY)), 422, "tenant_id")
    assert_json_error(keys_client.get("/tickets?tenant_id=bad id!", headers=bearer(ADMIN_KEY)), 422, "tenant_id")


def test_a_tenant_key_missing_the_tenant_id_gets_the_same_422_as_schema_validation(keys_client, issue_key):
    tenant_key, _ = issue_key(TENANT_A)
    from_guard = keys_client.get("/tickets", headers=bearer(tenant_key)).get_json()
    from_schema = keys_client.get("/tickets", headers=bearer(ADMIN_KEY)).get_json()
    assert from_guard == from_schema


def test_another_tenants_id_gets_403_and_the_same_answer_whether_that_tenant_exists_or_not(keys_client, seeded):
    key = bearer(seeded.keys["a"])
    existing = keys_client.get(f"/tickets?tenant_id={TENANT_B}", headers=key)
    unknown = keys_client.get("/tickets?tenant_id=no_such_tenant", headers=key)
    malformed = keys_client.get("/tickets?tenant_id=bad id!", headers=key)
    bodies = [assert_json_error(r, 403) for r in (existing, unknown, malformed)]
    assert bodies[0] == bodies[1] == bodies[2]
    assert TENANT_B not in existing.get_data(as_text=True)
    assert "WWW-Authenticate" not in existing.headers
    assert_json_error(keys_client.get("/tenants/no_such_tenant/stats", headers=key), 403)


def test_a_repeated_tenant_id_must_name_the_keys_tenant_every_time(keys_client, issue_key):
    key = bearer(issue_key(TENANT_A)[0])
    assert_json_error(keys_client.get(f"/tickets?tenant_id={TENANT_A}&tenant_id={TENANT_B}", headers=key), 403)
    assert_json_error(keys_client.get(f"/tickets?tenant_id={TENANT_B}&tenant_id={TENANT_A}", headers=key), 403)


def test_another_tenants_job_answers_404_exactly_like_an_unknown_job(keys_client, seeded):
    key = bearer(seeded.keys["a"])
    foreign_job = seeded.jobs[TENANT_B]
    for method, url in (("GET", "/ingest/progress/{}"), ("DELETE", "/ingest/{}")):
        foreign = keys_client.open(url.format(foreign_job), method=method, headers=key)
        unknown = keys_client.open(url.format("f" * 32), method=method, headers=key)
        foreign_body, unknown_body = assert_json_error(foreign, 404), assert_json_error(unknown, 404)
        assert foreign_body["message"].replace(foreign_job, "<id>") == unknown_body["message"].replace("f" * 32, "<id>")
        assert {k: v for k, v in foreign_body.items() if k != "message"} == \
               {k: v for k, v in unknown_body.items() if k != "message"}
        # What the service itself answers an admin for an unknown job reads the same.
        admin_unknown = keys_client.open(url.format("f" * 32), method=method, headers=bearer(ADMIN_KEY))
        assert assert_json_error(admin_unknown, 404) == unknown_body
    # The foreign job was not cancelled.
    assert keys_client.get(f"/ingest/progress/{foreign_job}", headers=bearer(seeded.keys["b"])).get_json()[
        "cancel_requested"] is False


@pytest.mark.parametrize("method, url", [
    ("POST", "/circuit/notify/reset"),
    ("GET", "/admin/api-keys"),
    ("POST", "/admin/api-keys"),
    ("DELETE", "/admin/api-keys/key_0123456789abcdef"),
])
def test_operational_endpoints_refuse_tenant_keys_with_403(keys_client, issue_key, method, url):
    key = bearer(issue_key(TENANT_A)[0])
    body = {"tenant_id": TENANT_A, "name": "x"} if method == "POST" else None
    assert_json_error(keys_client.open(url, method=method, json=body, headers=key), 403)


def test_any_key_may_read_the_notify_circuit_and_classify_but_not_without_one(keys_client, issue_key):
    key = bearer(issue_key(TENANT_A)[0])
    assert keys_client.get("/circuit/notify/status", headers=key).status_code == 200
    assert keys_client.post("/classify", json={"subject": "a", "message": "b"}, headers=key).status_code == 200
    assert_json_error(keys_client.get("/circuit/notify/status"), 401)


def test_open_endpoints_need_no_key_and_ignore_a_bad_one(keys_client):
    for url in ("/health", "/openapi.json", "/docs", "/docs/static/swagger-ui-bundle.js"):
        assert keys_client.get(url).status_code == 200, url
        assert keys_client.get(url, headers=bearer("tsk_wrong")).status_code == 200, url


def test_a_tenant_id_in_the_json_body_is_checked_too(keys_app, issue_key, monkeypatch):
    # No endpoint takes its tenant from the body yet; give a throwaway one that rule.
    @keys_app.post("/body-tenant-for-test")
    def body_tenant():
        return jsonify(ok=True)

    monkeypatch.setattr(guard, "rule_for",
                        lambda endpoint: TENANT_IN_BODY if endpoint == "body_tenant" else rule_for(endpoint))
    client, key = keys_app.test_client(), bearer(issue_key(TENANT_A)[0])
    assert client.post("/body-tenant-for-test", json={"tenant_id": TENANT_A}, headers=key).status_code == 200
    assert_json_error(client.post("/body-tenant-for-test", json={"tenant_id": TENANT_B}, headers=key), 403)
    assert_json_error(client.post("/body-tenant-for-test", json={}, headers=key), 422, "tenant_id")
    assert_json_error(client.post("/body-tenant-for-test", data="not json", headers=key), 422, "tenant_id")
    assert_json_error(client.post("/body-tenant-for-test", json={"tenant_id": TENANT_B}), 401)


def test_auth_mode_off_opens_everything_and_warns_at_start_and_in_health(make_app, caplog):
    with caplog.at_level(logging.WARNING, logger="ticketsvc.app"):
        app = make_app(auth_mode="off", admin_api_key=None)
    assert any("AUTH_MODE=off" in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    client = app.test_client()
    assert client.get(f"/tickets?tenant_id={TENANT_A}").status_code == 200
    assert client.get("/admin/api-keys").status_code == 200
    health = client.get("/health").get_json()
    assert health["auth_mode"] == "off" and any("AUTH_MODE=off" in w for w in health["warnings"])


def test_health_reports_keys_mode_without_warnings(keys_client):
    health = keys_client.get("/health").get_json()
    assert health["auth_mode"] == "keys" and health["warnings"] == []
