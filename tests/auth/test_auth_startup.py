"""AUTH_MODE=keys refuses to start without a way in; AUTH_MODE=off starts open, loudly."""
from __future__ import annotations

import pytest
import requests

from auth.auth_data import ADMIN_KEY, TENANT_A, bearer
from ticketsvc.auth import NoAdminKeyError
from ticketsvc.config import ConfigError


def test_keys_mode_without_any_admin_key_refuses_to_start_and_says_how_to_make_one(make_app):
    with pytest.raises(NoAdminKeyError) as refused:
        make_app(auth_mode="keys", admin_api_key=None)
    message = str(refused.value)
    assert "ADMIN_API_KEY" in message
    assert "ticketsvc keys create --admin --name ops" in message
    assert "AUTH_MODE=off" in message and "\n" not in message


def test_keys_mode_starts_with_an_admin_key_stored_in_the_database(make_app, database):
    from ticketsvc.auth import ApiKeyStore
    from ticketsvc.clock import SystemClock

    record, secret = ApiKeyStore(database, SystemClock(), admin_key_configured=False).create(name="ops", admin=True)
    client = make_app(auth_mode="keys", admin_api_key=None).test_client()
    assert client.get(f"/tickets?tenant_id={TENANT_A}", headers=bearer(secret)).status_code == 200


def test_a_revoked_admin_key_does_not_count_as_a_way_in(make_app, database):
    from ticketsvc.auth import ApiKeyStore
    from ticketsvc.clock import SystemClock

    store = ApiKeyStore(database, SystemClock(), admin_key_configured=True)
    record, _ = store.create(name="old ops", admin=True)
    store.create(name="a tenant key is no way in", tenant_id=TENANT_A)
    store.revoke(record["key_id"])
    with pytest.raises(NoAdminKeyError):
        make_app(auth_mode="keys", admin_api_key=None)


def test_keys_mode_starts_with_admin_api_key_configured(make_app):
    client = make_app(auth_mode="keys", admin_api_key=ADMIN_KEY).test_client()
    assert client.get(f"/tickets?tenant_id={TENANT_A}", headers=bearer(ADMIN_KEY)).status_code == 200


def test_a_short_admin_api_key_is_refused_at_start(make_app):
    with pytest.raises(ConfigError, match="ADMIN_API_KEY"):
        make_app(auth_mode="keys", admin_api_key="admin123")


def test_auth_mode_off_starts_without_any_key(make_app):
    assert make_app(auth_mode="off", admin_api_key=None).test_client().get("/health").status_code == 200


@pytest.mark.e2e
@pytest.mark.slow
def test_gunicorn_exits_3_with_one_line_and_no_traceback_when_no_admin_key_exists(gunicorn_service):
    with pytest.raises(RuntimeError) as failed:
        gunicorn_service(AUTH_MODE="keys", ADMIN_API_KEY="")
    output = str(failed.value)
    assert "gunicorn exited early" in output and "Traceback" not in output
    lines = [line for line in output.splitlines() if "no admin API key" in line]
    assert len(lines) == 1 and lines[0].startswith("ticketsvc: cannot start: AUTH_MODE=keys")
    assert "ticketsvc keys create --admin --name ops" in lines[0]


@pytest.mark.e2e
@pytest.mark.slow
def test_gunicorn_service_in_keys_mode_checks_keys_and_never_logs_them(gunicorn_service):
    service = gunicorn_service(AUTH_MODE="keys", ADMIN_API_KEY=ADMIN_KEY)
    assert requests.get(service.url + "/health", timeout=5).status_code == 200
    url = f"{service.url}/tickets?tenant_id={TENANT_A}"
    denied = requests.get(url, timeout=5)
    assert denied.status_code == 401 and denied.headers["WWW-Authenticate"].startswith("Bearer")
    created = requests.post(service.url + "/admin/api-keys", json={"tenant_id": TENANT_A, "name": "e2e"},
                            headers=bearer(ADMIN_KEY), timeout=5).json()
    assert requests.get(url, headers=bearer(created["key"]), timeout=5).status_code == 200
    assert requests.get(f"{service.url}/tickets?tenant_id=tenant_b", headers=bearer(created["key"]),
                        timeout=5).status_code == 403
    assert service.stop() == 0
    output = service.read_output()
    assert "GET /tickets 200" in output and "GET /tickets 403" in output
    assert created["key"] not in output and ADMIN_KEY not in output
