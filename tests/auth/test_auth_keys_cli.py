"""``ticketsvc keys create|list|revoke`` against the test database."""
from __future__ import annotations

import io
import re

import pytest

from auth.auth_data import TENANT_A, bearer
from support import assert_json_error
from ticketsvc import cli
from ticketsvc.cli.keys import EMBEDDED_REFUSAL, run_keys


@pytest.fixture
def keys_cli(database):
    """Run ``keys ...`` through the real parser against the shared test database."""

    def run(*argv: str, **kwargs) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        args = cli.build_parser().parse_args(["keys", *argv])
        code = run_keys(args, out, err, database=database, **kwargs)
        return code, out.getvalue(), err.getvalue()

    return run


def test_create_prints_only_the_key_on_stdout_and_what_it_made_on_stderr(keys_cli):
    code, out, err = keys_cli("create", "--tenant", TENANT_A, "--name", "crm sync")
    assert code == 0
    key = out.strip()
    assert re.fullmatch(r"tsk_[A-Za-z0-9_-]{43}", key)
    assert "tenant tenant_a" in err and "crm sync" in err and "only time" in err and key not in err


def test_an_admin_key_made_by_the_cli_lets_a_keys_mode_service_start_and_works(keys_cli, make_app):
    code, out, _ = keys_cli("create", "--admin", "--name", "ops")
    assert code == 0
    client = make_app(auth_mode="keys", admin_api_key=None).test_client()
    assert client.get("/admin/api-keys", headers=bearer(out.strip())).status_code == 200


def test_list_shows_every_key_without_secrets(keys_cli):
    _, admin_key, _ = keys_cli("create", "--admin", "--name", "ops")
    _, tenant_key, _ = keys_cli("create", "--tenant", TENANT_A, "--name", "crm")
    code, out, err = keys_cli("list")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split() == ["KEY_ID", "SCOPE", "NAME", "CREATED_AT", "LAST_USED_AT", "REVOKED_AT"]
    assert len(lines) == 3 and "2 key(s)" in err
    assert any("admin" in line and "ops" in line for line in lines[1:])
    assert any("tenant tenant_a" in line and "crm" in line for line in lines[1:])
    assert admin_key.strip() not in out and tenant_key.strip() not in out


def test_revoke_takes_effect_on_the_running_service(keys_cli, make_app):
    _, key, _ = keys_cli("create", "--tenant", TENANT_A, "--name", "crm")
    client = make_app(auth_mode="keys", admin_api_key="x" * 40).test_client()
    assert client.get(f"/tickets?tenant_id={TENANT_A}", headers=bearer(key.strip())).status_code == 200
    key_id = re.search(r"key_[0-9a-f]{16}", keys_cli("list")[1]).group(0)
    code, out, _ = keys_cli("revoke", key_id)
    assert code == 0 and f"revoked {key_id}" in out
    assert_json_error(client.get(f"/tickets?tenant_id={TENANT_A}", headers=bearer(key.strip())), 401)
    assert re.search(rf"{key_id}.*\d{{4}}-\d\d-\d\dT\S+Z\s*$", keys_cli("list")[1], re.M)  # revoked_at shown


def test_revoking_an_unknown_key_fails_with_exit_1(keys_cli):
    code, _, err = keys_cli("revoke", "key_0123456789abcdef")
    assert code == cli.EXIT_FAILED and "unknown API key" in err


def test_revoking_the_last_admin_key_is_refused_unless_admin_api_key_is_set(keys_cli, database):
    keys_cli("create", "--admin", "--name", "ops")
    key_id = re.search(r"key_[0-9a-f]{16}", keys_cli("list")[1]).group(0)
    code, _, err = keys_cli("revoke", key_id)
    assert code == cli.EXIT_CONFLICT and "last unrevoked admin key" in err
    code, _, _ = keys_cli("revoke", key_id, settings=database.settings.with_overrides(admin_api_key="y" * 40))
    assert code == 0


def test_bad_input_is_a_usage_error(keys_cli):
    code, out, err = keys_cli("create", "--tenant", "bad id!", "--name", "x")
    assert code == cli.EXIT_USAGE and out == "" and "tenant id" in err


def test_with_the_embedded_engine_the_cli_refuses_since_its_keys_would_work_nowhere(monkeypatch):
    for name in ("MONGO_URL", "MONGO_DB", "ADMIN_API_KEY", "TICKETSVC_URL"):
        monkeypatch.delenv(name, raising=False)
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["keys", "create", "--admin", "--name", "ops"], out, err) == cli.EXIT_USAGE
    assert out.getvalue() == ""
    assert EMBEDDED_REFUSAL in err.getvalue() and "POST /admin/api-keys" in err.getvalue()


def test_an_unreachable_mongodb_exits_4_without_a_traceback(monkeypatch):
    monkeypatch.setenv("MONGO_URL", "mongodb://user:pw@127.0.0.1:1")
    monkeypatch.setenv("MONGO_SERVER_SELECTION_TIMEOUT_MS", "200")
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["keys", "list"], out, err) == cli.EXIT_UNREACHABLE
    assert "127.0.0.1:1" in err.getvalue() and "pw" not in err.getvalue()


def test_an_invalid_configuration_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("MONGO_URL", "postgres://nope")
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["keys", "list"], out, err) == cli.EXIT_USAGE
    assert "MONGO_URL" in err.getvalue()
