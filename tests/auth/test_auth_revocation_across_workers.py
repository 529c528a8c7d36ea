"""Revocation holds at once on every worker: keys are read from MongoDB on every request."""
from __future__ import annotations

from auth.auth_data import ADMIN_KEY, TENANT_A, bearer
from support import assert_json_error


def test_a_key_revoked_through_one_worker_fails_on_the_next_request_to_another(make_keys_app):
    worker_1, worker_2 = make_keys_app().test_client(), make_keys_app().test_client()
    created = worker_1.post("/admin/api-keys", json={"tenant_id": TENANT_A, "name": "roaming"},
                            headers=bearer(ADMIN_KEY)).get_json()
    key = bearer(created["key"])
    assert worker_2.get(f"/tickets?tenant_id={TENANT_A}", headers=key).status_code == 200  # warm: used just now

    revoked = worker_1.delete(f"/admin/api-keys/{created['key_id']}", headers=bearer(ADMIN_KEY))
    assert revoked.status_code == 200

    assert_json_error(worker_2.get(f"/tickets?tenant_id={TENANT_A}", headers=key), 401)
    assert_json_error(worker_1.get(f"/tickets?tenant_id={TENANT_A}", headers=key), 401)


def test_a_key_revoked_by_the_cli_fails_on_the_next_request(make_keys_app, database):
    import argparse
    import io

    from ticketsvc.cli.keys import run_keys

    client = make_keys_app().test_client()
    created = client.post("/admin/api-keys", json={"tenant_id": TENANT_A, "name": "crm"},
                          headers=bearer(ADMIN_KEY)).get_json()
    assert client.get(f"/tickets?tenant_id={TENANT_A}", headers=bearer(created["key"])).status_code == 200
    out, err = io.StringIO(), io.StringIO()
    args = argparse.Namespace(command="keys", keys_command="revoke", key_id=created["key_id"])
    assert run_keys(args, out, err, database=database) == 0
    assert_json_error(client.get(f"/tickets?tenant_id={TENANT_A}", headers=bearer(created["key"])), 401)
