"""A key appears in exactly one place: the response (or CLI output) that created it."""
from __future__ import annotations

import argparse
import io
import logging

from auth.auth_data import ADMIN_KEY, TENANT_A, TENANT_B, bearer
from ticketsvc.cli.keys import run_keys


def test_keys_never_appear_in_logs_or_in_any_response_but_their_creation(make_keys_app, database, caplog):
    app = make_keys_app(log_level="debug")
    client = app.test_client()
    caplog.set_level(logging.DEBUG)  # after the app is built: it sets the root level itself
    bodies: list[str] = []

    def call(method, url, **kwargs):
        response = client.open(url, method=method, **kwargs)
        bodies.append(" ".join(f"{k}: {v}" for k, v in response.headers.items()) + response.get_data(as_text=True))
        return response

    created = call("POST", "/admin/api-keys", json={"tenant_id": TENANT_A, "name": "secret keeper"},
                   headers=bearer(ADMIN_KEY))
    creation_body = bodies.pop()
    key, key_id = created.get_json()["key"], created.get_json()["key_id"]
    assert key in creation_body

    call("GET", f"/tickets?tenant_id={TENANT_A}", headers=bearer(key))  # 200
    call("GET", f"/tickets?tenant_id={TENANT_B}", headers=bearer(key))  # 403
    call("GET", "/admin/api-keys", headers=bearer(key))  # 403
    call("GET", f"/tickets?tenant_id={TENANT_A}", headers=bearer(key[:-1] + "x"))  # 401, near miss
    call("GET", "/no/such/thing", headers=bearer(key))  # 404
    call("GET", "/admin/api-keys", headers=bearer(ADMIN_KEY))
    call("GET", "/openapi.json")
    call("GET", "/health")
    call("DELETE", f"/admin/api-keys/{key_id}", headers=bearer(ADMIN_KEY))
    call("GET", f"/tickets?tenant_id={TENANT_A}", headers=bearer(key))  # 401, revoked
    out, err = io.StringIO(), io.StringIO()
    run_keys(argparse.Namespace(command="keys", keys_command="list"), out, err, database=database)

    secrets_ = (key, key[:-1] + "x", ADMIN_KEY)
    for text in bodies + [out.getvalue(), err.getvalue()]:
        assert not any(s in text for s in secrets_), text[:300]
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    assert caplog.records, "expected the requests to be logged"
    assert not any(s in logged for s in secrets_)
    assert key_id in logged  # keys are named in logs by their id


def test_the_access_log_line_carries_method_path_and_status_only(keys_client, caplog):
    caplog.set_level(logging.INFO, logger="ticketsvc.access")
    keys_client.get(f"/tickets?tenant_id={TENANT_A}", headers=bearer(ADMIN_KEY))
    lines = [r.getMessage() for r in caplog.records if r.name == "ticketsvc.access"]
    assert lines and lines[-1].startswith("GET /tickets 200 ")
