"""Every endpoint has a rule, and every endpoint answers every kind of caller as its rule says.

The list of endpoints comes from the app itself (``/openapi.json`` and the URL map), so a
new endpoint fails here until it is given a rule in ``ticketsvc/auth/policy.py``.
"""
from __future__ import annotations

import re

from auth.auth_data import TENANT_A, TENANT_B, bearer
from ticketsvc.auth.policy import ADMIN_ONLY, ANY_KEY, JOB, OPEN, OWN_TENANT, POLICY, TENANT, rule_for

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
# What "let through" looks like: the view ran (a documented conflict counts: e.g. cancelling
# a finished job, or starting a run while one runs).
PASSED = {200, 201, 202, 204, 409}
CALLERS = ("no key", "unknown key", "other tenant's key", "own tenant's key", "stored admin key",
           "ADMIN_API_KEY")


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def _endpoint(app, url: str, method: str) -> str:
    adapter = app.url_map.bind("localhost")
    endpoint, _ = adapter.match(url.split("?")[0], method=method.upper())
    return endpoint


def test_every_openapi_operation_has_a_rule_in_the_policy_table(keys_client, keys_app):
    spec = keys_client.get("/openapi.json").get_json()
    missing = []
    for path, method, _ in _operations(spec):
        url = re.sub(r"\{[^}]+\}", "x", path)
        endpoint = _endpoint(keys_app, url, method)
        if endpoint not in POLICY:
            missing.append(f"{method.upper()} {path} ({endpoint})")
    assert not missing, "give these endpoints a rule in ticketsvc/auth/policy.py: " + ", ".join(missing)


def test_every_route_of_the_app_has_a_rule_and_every_rule_a_route(keys_app):
    endpoints = {rule.endpoint for rule in keys_app.url_map.iter_rules()}
    assert not endpoints - set(POLICY), "routes without a rule in ticketsvc/auth/policy.py"
    assert not set(POLICY) - endpoints, "rules for endpoints that do not exist (renamed?)"


def test_every_operation_that_names_a_tenant_or_a_job_is_tenant_scoped_or_admin(keys_client, keys_app):
    # A check of the table against the spec, not against itself: an endpoint that takes a
    # tenant id or a job id serves a tenant's data, so it must never be open to any key.
    spec = keys_client.get("/openapi.json").get_json()
    wrong = []
    for path, method, operation in _operations(spec):
        names = {p["name"] for p in operation.get("parameters", [])} | set(re.findall(r"\{([^}]+)\}", path))
        if "requestBody" in operation:
            schema = _resolve(spec, operation["requestBody"]["content"]["application/json"]["schema"])
            names |= set(schema.get("properties", {}))
        if names & {"tenant_id", "job_id"}:
            rule = rule_for(_endpoint(keys_app, re.sub(r"\{[^}]+\}", "x", path), method))
            if rule.kind not in (TENANT, ADMIN_ONLY):
                wrong.append(f"{method.upper()} {path}: {rule.kind}")
    assert not wrong, wrong


def test_an_endpoint_missing_from_the_table_is_admin_only():
    assert rule_for("somebody.NewThing").kind == ADMIN_ONLY


def test_openapi_declares_the_bearer_scheme_globally_and_marks_open_operations(keys_client, keys_app):
    spec = keys_client.get("/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        **spec["components"]["securitySchemes"]["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert spec["security"] == [{"bearerAuth": []}]
    for path, method, operation in _operations(spec):
        rule = rule_for(_endpoint(keys_app, re.sub(r"\{[^}]+\}", "x", path), method))
        if rule.kind == OPEN:
            assert operation["security"] == [], path
        else:
            assert "security" not in operation and "401" in operation["responses"], path
        assert "**Access:**" in operation["description"], path


# -- the walk -------------------------------------------------------------------------------
def _samples(seeded) -> dict[str, dict[str, str]]:
    """Real values for every parameter an endpoint needs, all naming tenant A's data."""
    return {
        "path": {"tenant_id": TENANT_A, "job_id": seeded.jobs[TENANT_A], "ticket_id": seeded.tickets[TENANT_A],
                 "name": "notify", "key_id": seeded.spare_key_id, "notification_id": seeded.alerts[TENANT_A]},
        "query": {"tenant_id": TENANT_A},
        "body": {"tenant_id": TENANT_A, "name": "walk", "subject": "Refund please", "message": "I was charged twice",
                 "sync_enabled": True},
    }


def _resolve(spec, schema):
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _build_request(spec, path, method, operation, samples, problems):
    url = path
    for name in re.findall(r"\{([^}]+)\}", path):
        if name not in samples["path"]:
            problems.append(f"{method.upper()} {path}: add a sample for path parameter {name!r}")
            continue
        url = url.replace("{" + name + "}", samples["path"][name])
    query = {}
    for param in operation.get("parameters", []):
        if param["in"] == "query" and param.get("required"):
            if param["name"] not in samples["query"]:
                problems.append(f"{method.upper()} {path}: add a sample for query parameter {param['name']!r}")
            else:
                query[param["name"]] = samples["query"][param["name"]]
    body = None
    if "requestBody" in operation:
        schema = _resolve(spec, operation["requestBody"]["content"]["application/json"]["schema"])
        wanted = set(schema.get("required", [])) | ({"tenant_id"} & set(schema.get("properties", {})))
        body = {}
        for name in sorted(wanted):
            if name not in samples["body"]:
                problems.append(f"{method.upper()} {path}: add a sample for body field {name!r}")
            else:
                body[name] = samples["body"][name]
    return url, query, body


def _expected(rule, caller: str) -> str:
    """"pass", or the status the guard must answer."""
    if rule.kind == OPEN:
        return "pass"
    if caller in ("no key", "unknown key"):
        return "401"
    if caller in ("stored admin key", "ADMIN_API_KEY") or rule.kind in (ANY_KEY, OWN_TENANT):
        return "pass"
    if rule.kind == ADMIN_ONLY:
        return "403"
    assert rule.kind == TENANT
    if caller == "own tenant's key":
        return "pass"
    return "404" if rule.source == JOB else "403"


def test_every_operation_answers_every_kind_of_caller_as_its_rule_says(keys_app, keys_client, seeded):
    spec = keys_client.get("/openapi.json").get_json()
    samples = _samples(seeded)
    headers = {
        "no key": {},
        "unknown key": bearer("tsk_" + "x" * 43),
        "other tenant's key": bearer(seeded.keys["b"]),
        "own tenant's key": bearer(seeded.keys["a"]),
        "stored admin key": bearer(seeded.keys["admin"]),
        "ADMIN_API_KEY": bearer(seeded.keys["config_admin"]),
    }
    problems, failures, walked = [], [], []
    for path, method, operation in _operations(spec):
        url, query, body = _build_request(spec, path, method, operation, samples, problems)
        rule = rule_for(_endpoint(keys_app, url, method))
        walked.append(f"{method.upper()} {path}")
        for caller in CALLERS:
            response = keys_client.open(url, method=method.upper(), query_string=query, json=body,
                                        headers=headers[caller])
            expected, status = _expected(rule, caller), response.status_code
            label = f"{method.upper()} {path} [{rule.kind}] with {caller}: got {status}, expected {expected}"
            if expected == "pass":
                if status not in PASSED:
                    failures.append(f"{label}: {response.get_data(as_text=True)[:200]}")
                continue
            if status != int(expected) or not response.is_json or response.get_json().get("code") != status:
                failures.append(f"{label}: {response.get_data(as_text=True)[:200]}")
            elif status == 401 and not response.headers.get("WWW-Authenticate", "").startswith("Bearer"):
                failures.append(f"{label}: 401 without WWW-Authenticate: Bearer")
    assert not problems, problems
    assert not failures, "\n".join(failures)
    # The walk covered the endpoints of every area (a guard against walking an empty spec).
    for expected in ("POST /ingest/run", "DELETE /ingest/{job_id}", "GET /ingest/progress/{job_id}",
                     "GET /tickets/{ticket_id}", "GET /tenants/{tenant_id}/stats", "GET /notifications",
                     "POST /circuit/{name}/reset", "POST /admin/api-keys", "DELETE /admin/api-keys/{key_id}",
                     "GET /health", "GET /tenants", "GET /tenants/{tenant_id}", "PATCH /tenants/{tenant_id}",
                     "GET /tickets/export", "POST /notifications/{notification_id}/retry",
                     "POST /notifications/retry-dead"):
        assert expected in walked, expected


def test_a_tenant_key_reaches_its_own_tenant_wherever_the_tenant_id_appears(keys_client, seeded):
    own, other = bearer(seeded.keys["a"]), bearer(seeded.keys["b"])
    for url in (f"/tickets?tenant_id={TENANT_A}", f"/tenants/{TENANT_A}/stats",
                f"/ingest/progress/{seeded.jobs[TENANT_A]}", f"/tickets/{seeded.tickets[TENANT_A]}?tenant_id={TENANT_A}"):
        assert keys_client.get(url, headers=own).status_code == 200, url
        assert keys_client.get(url, headers=other).status_code in (403, 404), url
    # ...and B's key reaches B's.
    assert keys_client.get(f"/ingest/progress/{seeded.jobs[TENANT_B]}", headers=other).status_code == 200
    assert keys_client.get(f"/tenants/{TENANT_B}/stats", headers=other).status_code == 200
