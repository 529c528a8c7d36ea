"""POST/GET/DELETE /admin/api-keys, and how keys are stored and used."""
from __future__ import annotations

import hashlib
import re

import pytest

from auth.auth_data import ADMIN_KEY, TENANT_A, TENANT_B, bearer
from support import assert_json_error
from ticketsvc.clock import FakeClock
from ticketsvc.api.context import get_runtime

ADMIN = bearer(ADMIN_KEY)


def create(client, headers=ADMIN, **body):
    return client.post("/admin/api-keys", json=body, headers=headers)


def test_creating_a_tenant_key_answers_201_with_the_key_shown_once(keys_client):
    response = create(keys_client, tenant_id=TENANT_A, name="crm sync")
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"key_id", "key", "tenant_id", "admin", "name", "created_at"}
    assert body["tenant_id"] == TENANT_A and body["admin"] is False and body["name"] == "crm sync"
    assert re.fullmatch(r"tsk_[A-Za-z0-9_-]{43}", body["key"])  # 32 random bytes, URL-safe base64
    assert re.fullmatch(r"key_[0-9a-f]{16}", body["key_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["created_at"])
    assert keys_client.get(f"/tickets?tenant_id={TENANT_A}", headers=bearer(body["key"])).status_code == 200


def test_an_admin_key_created_over_http_reaches_every_tenant_and_the_operations(keys_client):
    body = create(keys_client, admin=True, name="ops").get_json()
    assert body["admin"] is True and body["tenant_id"] is None
    key = bearer(body["key"])
    for tenant in (TENANT_A, TENANT_B):
        assert keys_client.get(f"/tickets?tenant_id={tenant}", headers=key).status_code == 200
    assert keys_client.get("/admin/api-keys", headers=key).status_code == 200


def test_every_key_is_different(keys_client):
    keys = {create(keys_client, tenant_id=TENANT_A, name=f"k{i}").get_json()["key"] for i in range(20)}
    assert len(keys) == 20


def test_only_the_sha256_of_a_key_is_stored(keys_client, keys_app):
    body = create(keys_client, tenant_id=TENANT_A, name="stored").get_json()
    document = get_runtime(keys_app).db.api_keys.find_one({"key_id": body["key_id"]})
    assert document["key_hash"] == hashlib.sha256(body["key"].encode()).hexdigest()
    assert body["key"] not in repr(document)
    assert {"key_id", "name", "tenant_id", "admin", "created_at", "last_used_at", "revoked_at"} <= set(document)


@pytest.mark.parametrize("body, field", [
    ({"name": "x"}, "tenant_id"),
    ({"tenant_id": TENANT_A, "admin": True, "name": "x"}, "admin"),
    ({"tenant_id": "bad id!", "name": "x"}, "tenant_id"),
    ({"tenant_id": TENANT_A}, "name"),
    ({"tenant_id": TENANT_A, "name": "   "}, "name"),
    ({"tenant_id": TENANT_A, "name": "x" * 101}, "name"),
    ({"admin": 1, "name": "x"}, "admin"),
    ({"admin": "true", "name": "x"}, "admin"),
    ({"tenant_id": TENANT_A, "name": "x", "scope": "all"}, "scope"),
])
def test_bad_creation_input_is_422_naming_the_field(keys_client, body, field):
    assert_json_error(create(keys_client, **body), 422, field)


def test_the_listing_is_paginated_newest_first_and_never_shows_secrets_or_hashes(keys_client, make_keys_app):
    clock = FakeClock()
    client = make_keys_app(clock=clock).test_client()
    created = []
    for i in range(5):
        created.append(create(client, tenant_id=TENANT_A if i % 2 else TENANT_B, name=f"k{i}").get_json())
        clock.advance(1)
    response = client.get("/admin/api-keys?page=1&page_size=2", headers=ADMIN)
    body = response.get_json()
    assert (body["page"], body["page_size"], body["total"]) == (1, 2, 5)
    assert [k["key_id"] for k in body["keys"]] == [created[4]["key_id"], created[3]["key_id"]]
    assert set(body["keys"][0]) == {"key_id", "name", "tenant_id", "admin", "created_at", "last_used_at",
                                    "revoked_at"}
    text = client.get("/admin/api-keys?page_size=100", headers=ADMIN).get_data(as_text=True)
    assert not any(k["key"] in text for k in created)
    assert "hash" not in text and not re.search(r"[0-9a-f]{64}", text)
    only_a = client.get(f"/admin/api-keys?tenant_id={TENANT_A}", headers=ADMIN).get_json()
    assert only_a["total"] == 2 and all(k["tenant_id"] == TENANT_A for k in only_a["keys"])
    assert_json_error(client.get("/admin/api-keys?page_size=101", headers=ADMIN), 422, "page_size")
    assert_json_error(client.get("/admin/api-keys?tenant_id=bad id!", headers=ADMIN), 422, "tenant_id")


def test_revoking_answers_200_with_the_revoked_record_and_the_key_stops_working(keys_client):
    body = create(keys_client, tenant_id=TENANT_A, name="leaked").get_json()
    response = keys_client.delete(f"/admin/api-keys/{body['key_id']}", headers=ADMIN)
    assert response.status_code == 200
    record = response.get_json()
    assert record["key_id"] == body["key_id"] and record["revoked_at"] is not None and "key" not in record
    assert_json_error(keys_client.get(f"/tickets?tenant_id={TENANT_A}", headers=bearer(body["key"])), 401)
    again = keys_client.delete(f"/admin/api-keys/{body['key_id']}", headers=ADMIN)
    assert again.status_code == 200 and again.get_json()["revoked_at"] == record["revoked_at"]


def test_revoking_an_unknown_key_is_404_and_a_malformed_id_422(keys_client):
    assert_json_error(keys_client.delete("/admin/api-keys/key_0123456789abcdef", headers=ADMIN), 404)
    assert_json_error(keys_client.delete("/admin/api-keys/nope", headers=ADMIN), 422, "key_id")


def test_the_last_admin_key_cannot_be_revoked_without_an_admin_api_key(make_keys_app, key_store):
    record, secret = key_store.create(name="only admin", admin=True)
    client = make_keys_app(admin_api_key=None).test_client()
    response = client.delete(f"/admin/api-keys/{record['key_id']}", headers=bearer(secret))
    assert_json_error(response, 409)
    second, _ = key_store.create(name="second admin", admin=True)
    assert client.delete(f"/admin/api-keys/{record['key_id']}", headers=bearer(secret)).status_code == 200


def test_with_an_admin_api_key_configured_every_stored_admin_key_may_be_revoked(keys_client, key_store):
    record, _ = key_store.create(name="only stored admin", admin=True)
    assert keys_client.delete(f"/admin/api-keys/{record['key_id']}", headers=ADMIN).status_code == 200


def test_last_used_at_is_written_at_most_once_a_minute(make_keys_app, key_store):
    clock = FakeClock()
    app = make_keys_app(clock=clock)
    client, collection = app.test_client(), get_runtime(app).db.api_keys
    record, secret = key_store.create(name="busy", tenant_id=TENANT_A)

    def last_used():
        return collection.find_one({"key_id": record["key_id"]})["last_used_at"]

    assert last_used() is None
    client.get(f"/tickets?tenant_id={TENANT_A}", headers=bearer(secret))
    first = last_used()
    assert first is not None
    clock.advance(30)
    client.get(f"/tickets?tenant_id={TENANT_A}", headers=bearer(secret))
    assert last_used() == first
    clock.advance(31)
    client.get(f"/tickets?tenant_id={TENANT_A}", headers=bearer(secret))
    assert last_used() > first
