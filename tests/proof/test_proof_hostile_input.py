"""Hostile input: a fuzzer driven by the service's own /openapi.json.

For every operation in the document it generates path parameters, query parameters and
JSON bodies from the declared schemas: values that look valid, and absurd ones (huge and
negative numbers, unicode, very long strings, repeated parameters, operator-looking
strings such as ``{"$ne": null}`` or ``tenant_id[$gt]``, wrong types, nested junk). Every
answer must be below 500 (or a 503 the operation documents), and every 4xx must be JSON
that carries a message and names the problem. It runs with AUTH_MODE=off and with keys
(an admin key on every request), so the access guard is fuzzed as well.
"""
from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from auth.auth_data import ADMIN_KEY, bearer
from ticketsvc.api.context import get_runtime

EXAMPLES_PER_OPERATION = 40
METHODS = ("get", "post", "put", "patch", "delete")

SAFE_CHARS = st.characters(blacklist_categories=("Cs",))  # lone surrogates cannot be UTF-8 encoded
HOSTILE_STRINGS = (
    "", " ", "0", "-1", "-0", "+1", "1.5", "1e3", "1e309", "0x1f", str(10 ** 30), str(-10 ** 30), "NaN",
    "Infinity", "null", "true", "[]", "{}", '{"$ne": null}', '{"$gt": ""}', "$gt", "$where", "$regex",
    "this.a == 1", "' OR '1'='1", "tenant_a\n", "tenant_a%00", "tenant_a\x00", "../../etc/passwd",
    "<script>alert(1)</script>", "\u202etenant", "t\u00e9nant", "🎫", "١٢٣", "a" * 65, "x" * 5000,
    "tenant_a,tenant_b", "*", ".*", "\\", "%", "%2e%2e%2f", "2026-02-30", "2026-13-01T00:00:00Z",
    "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "2026-03-01T25:00:00",
)
ABSURD_INTEGERS = (str(10 ** 30), str(-10 ** 30), "-1", "0", "1.0", "1e2", " 3", "3 ", "0x10", "١٢", "", "NaN")


def hostile_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(HOSTILE_STRINGS),
        st.text(SAFE_CHARS, max_size=40),
        st.builds(lambda head, char, n: head + char * n, st.text(SAFE_CHARS, max_size=5), st.sampled_from("x1é🎫%$"),
                  st.integers(300, 3000)),
        st.integers().map(str),
    )


def value_strategy(schema: dict) -> st.SearchStrategy[str]:
    """Query or path values for a parameter schema: valid-looking or absurd."""
    kind = schema.get("type")
    if "enum" in schema:
        valid = st.sampled_from([str(v) for v in schema["enum"]])
    elif kind == "integer":
        valid = st.integers(schema.get("minimum", -10 ** 6), schema.get("maximum", 10 ** 6)).map(str)
    elif kind == "boolean":
        valid = st.sampled_from(["true", "false", "1", "0"])
    elif "pattern" in schema:
        valid = st.from_regex(schema["pattern"], fullmatch=True)
    else:
        valid = st.text(SAFE_CHARS, min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 64))
    absurd = st.one_of(hostile_text(), st.sampled_from(ABSURD_INTEGERS)) if kind == "integer" else hostile_text()
    return st.one_of(valid, valid, absurd)


def json_junk() -> st.SearchStrategy:
    leaves = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10 ** 40, max_value=10 ** 40),
                       st.floats(allow_nan=False, allow_infinity=False), st.text(SAFE_CHARS, max_size=30),
                       st.sampled_from(['{"$ne": null}', "$gt", "x" * 30_000]))
    return st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(SAFE_CHARS, max_size=10), inner,
                                                                        max_size=4)), max_leaves=12)


def property_strategy(schema: dict) -> st.SearchStrategy:
    kind = schema.get("type")
    if kind == "boolean":
        valid = st.booleans()
    elif kind == "integer":
        valid = st.integers(-10, 10 ** 6)
    elif "pattern" in schema:
        valid = st.from_regex(schema["pattern"], fullmatch=True)
    else:
        valid = st.text(SAFE_CHARS, min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 80), 80))
    too_long = st.builds(lambda char, extra: char * (schema.get("maxLength", 100) + extra),
                         st.sampled_from("aé🎫 "), st.integers(1, 50))
    return st.one_of(valid, valid, json_junk(), too_long)


def body_strategy(schema: dict) -> st.SearchStrategy:
    """A JSON body: an object shaped like the schema (each property kept, dropped or
    broken, plus unknown keys), or junk of any type."""
    properties = schema.get("properties", {})
    shaped = st.fixed_dictionaries({}, optional={name: property_strategy(prop) for name, prop in properties.items()})
    extra = st.dictionaries(st.sampled_from(["$where", "$ne", "extra", "__proto__", "tenant_id"]), json_junk(), max_size=2)
    return st.one_of(st.builds(lambda a, b: {**b, **a}, shaped, extra), shaped, json_junk())


def resolve(spec: dict, schema: dict) -> dict:
    ref = schema.get("$ref")
    if ref:
        return spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def operations(spec: dict) -> list[dict]:
    """Every operation of the document: method, path, parameters (path-level merged in),
    and the JSON body schema if it takes one."""
    found = []
    for path, item in spec["paths"].items():
        shared = {(p["in"], p["name"]): p for p in item.get("parameters", [])}
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            params = {**shared, **{(p["in"], p["name"]): p for p in op.get("parameters", [])}}
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            found.append({"method": method, "path": path, "parameters": list(params.values()),
                          "body": resolve(spec, body) if body else None,
                          "responses": set(op.get("responses", {}))})
    return found


def request_strategy(op: dict) -> st.SearchStrategy[dict]:
    """One request for ``op``: a URL (path parameters filled, query string built by hand
    so parameters can repeat or carry operator-looking names) and maybe a body."""
    # Each strategy is built once per operation, not once per draw: building (and
    # validating) them again for every example was most of the fuzzer's time, and the
    # same strategies draw the same examples.
    path_params = [(p, value_strategy(p["schema"])) for p in op["parameters"] if p["in"] == "path"]
    query_params = [(p, value_strategy(p["schema"])) for p in op["parameters"] if p["in"] == "query"]
    required_modes = st.sampled_from(["once", "once", "once", "omit", "repeat"])
    optional_modes = st.sampled_from(["omit", "omit", "once", "repeat"])
    extra_names = st.sampled_from(["tenant_id[$ne]", "page[$gt]", "$where", "unknown", "tenant_id",
                                   "page_size", "__proto__[x]"])
    extra_values = hostile_text()
    body = body_strategy(op["body"]) if op["body"] is not None else None

    @st.composite
    def build(draw):
        path = op["path"]
        for param, values in path_params:
            value = draw(values)
            path = path.replace("{" + param["name"] + "}", quote(value, safe="") or "%20")
        pairs = []
        for param, values in query_params:
            mode = draw(required_modes if param.get("required") else optional_modes)
            if mode == "omit":
                continue
            for _ in range(1 if mode == "once" else draw(st.integers(2, 3))):
                pairs.append((param["name"], draw(values)))
        if draw(st.booleans()) and draw(st.booleans()):
            name = draw(extra_names)
            pairs.append((name, draw(extra_values)))
        query = "&".join(f"{quote(k, safe='[]$')}={quote(v, safe='')}" for k, v in pairs)
        request = {"method": op["method"], "url": path + ("?" + query if query else ""), "body": None,
                   "content_type": None}
        if op["body"] is not None:
            kind = draw(st.sampled_from(["json", "json", "json", "text", "empty", "wrong_type"]))
            if kind == "json":
                request["body"], request["content_type"] = json.dumps(draw(body)), "application/json"
            elif kind == "text":
                request["body"] = draw(st.sampled_from(["{", "{'a': 1}", "[1, 2", "\x00\x01", "nan", '{"a": NaN}',
                                                        "\ufeff{}", '{"subject": "a", "message": "b",}']))
                request["content_type"] = "application/json"
            elif kind == "wrong_type":
                request["body"], request["content_type"] = "subject=a&message=b", "application/x-www-form-urlencoded"
            else:
                request["content_type"] = "application/json"
        return request

    return build()


def assert_well_behaved(op: dict, request: dict, response) -> None:
    status = response.status_code
    where = f"{request['method'].upper()} {request['url'][:300]} body={str(request['body'])[:200]!r}"
    documented_unavailable = status == 503 and "503" in op["responses"]
    assert status < 500 or documented_unavailable, f"{status} for {where}: {response.get_data(as_text=True)[:300]}"
    if status >= 400:
        assert response.is_json, f"{status} not JSON for {where}"
        body = response.get_json()
        assert body["code"] == status, (where, body)
        assert isinstance(body.get("message"), str) and body["message"].strip(), (where, body)
        if status == 422:  # names the offending input: where it was and which field
            assert isinstance(body.get("errors"), dict) and body["errors"], (where, body)
            location, problems = next(iter(body["errors"].items()))
            assert location in ("query", "path", "json", "headers") and problems, (where, body)


def send(client, request: dict, headers: dict):
    return client.open(request["url"], method=request["method"].upper(), data=request["body"],
                       content_type=request["content_type"], headers=headers)


def undocumented_routes(app, documented: list[dict]) -> list[dict]:
    """Routes of the app that the document does not describe (an HTML page, a scrape
    endpoint...): fuzzed too, with path parameters as free strings and no declared query."""
    known = {(op["method"], re.sub(r"\{[^}]+\}", "<>", op["path"])) for op in documented}
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "swagger_static") or rule.endpoint.startswith("api-docs."):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (method.lower(), re.sub(r"<[^>]+>", "<>", rule.rule)) in known:
                continue
            found.append({"method": method.lower(), "path": path, "body": None, "responses": set(),
                          "parameters": [{"in": "path", "name": n, "required": True, "schema": {"type": "string"}}
                                         for n in rule.arguments]})
    return found


def fuzz_every_operation(client, headers: dict) -> list[str]:
    spec = client.get("/openapi.json", headers=headers).get_json()
    documented = operations(spec)
    fuzzed = []
    for op in documented + undocumented_routes(client.application, documented):
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.filter_too_much, HealthCheck.large_base_example])
        @given(request=request_strategy(op))
        def fuzz(request):
            assert_well_behaved(op, request, send(client, request, headers))

        fuzz()
        fuzzed.append(f"{op['method'].upper()} {op['path']}")
    return fuzzed


@pytest.fixture
def keys_client(make_app):
    return make_app(auth_mode="keys", admin_api_key=ADMIN_KEY).test_client()


def test_every_openapi_operation_survives_hostile_input_with_auth_off(client):
    fuzzed = fuzz_every_operation(client, {})
    assert {"GET /tickets", "POST /classify", "GET /tenants/{tenant_id}/stats", "POST /ingest/run",
            "POST /admin/api-keys"} <= set(fuzzed)


def test_every_openapi_operation_survives_hostile_input_with_an_admin_key(keys_client):
    fuzzed = fuzz_every_operation(keys_client, bearer(ADMIN_KEY))
    assert len(fuzzed) >= 17


@settings(max_examples=150, deadline=None, database=None, derandomize=True)
@given(header=st.one_of(st.text(SAFE_CHARS, max_size=200).map(lambda t: "Bearer " + t),
                        st.sampled_from(["Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "bearer " + ADMIN_KEY + "x",
                                         "Bearer " + ADMIN_KEY[:-1], "Bearer tsk_" + "0" * 40, "Bearer \x00",
                                         "Bearer " + "k" * 10_000, ADMIN_KEY]),
                        st.text(SAFE_CHARS, max_size=100)))
def test_hostile_authorization_headers_get_a_json_401(make_app_once, header):
    client = make_app_once
    try:
        response = client.get("/tickets?tenant_id=tenant_a", headers={"Authorization": header})
    except ValueError:
        return  # the test client itself refuses a header with a newline: no server sees it
    assert response.status_code == 401, (header[:80], response.status_code)
    assert response.is_json and response.get_json()["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture(scope="module")
def make_app_once():
    """One keys-mode app for the header fuzzer (hypothesis reruns the test body, not fixtures)."""
    from conftest import base_settings
    from ticketsvc import create_app

    settings = base_settings(auth_mode="keys", admin_api_key=ADMIN_KEY, external_api_url="http://127.0.0.1:9")
    app = create_app(settings)
    yield app.test_client()
    runtime = get_runtime(app)
    if not settings.embedded:
        runtime.db._client.drop_database(settings.mongo_db)
    runtime.stop()


def _operations_of(client, headers: dict) -> list[dict]:
    return operations(client.get("/openapi.json", headers=headers).get_json())


@pytest.mark.parametrize("value", [str(10 ** 30), "-1", "0", "1.5", "abc", ""])
def test_absurd_paging_values_are_refused_with_422_naming_the_field_on_every_listing(client, value):
    listings = [op for op in _operations_of(client, {})
                if any(p["name"] == "page" and p["in"] == "query" for p in op["parameters"])]
    assert len(listings) >= 6
    for op in listings:
        path = op["path"].replace("{ticket_id}", "tkt-000001")
        for name in ("page", "page_size"):
            url = f"{path}?tenant_id=tenant_a&{name}={quote(value)}" if "tenant_id" in str(op["parameters"]) \
                else f"{path}?{name}={quote(value)}"
            response = client.get(url)
            assert response.status_code == 422, (url, response.status_code)
            assert name in response.get_json()["errors"]["query"], (url, response.get_json())


@pytest.mark.parametrize("query", [
    "tenant_id=%7B%22%24ne%22%3A%20null%7D",  # {"$ne": null}
    "tenant_id[$ne]=x",
    "tenant_id=%24gt",
    "tenant_id=tenant_a%0A",  # Python's $ matches before a trailing newline: must not pass
    "tenant_id=tenant_a&status=open%0A",
    "tenant_id=tenant_a&source[$regex]=.*",
])
def test_operator_looking_or_newline_suffixed_query_values_are_422_naming_the_field(client, query):
    response = client.get("/tickets?" + query)
    assert response.status_code == 422, (query, response.get_data(as_text=True))
    assert response.get_json()["errors"]["query"]


@pytest.mark.parametrize("path", ["/tenants/tenant_a%0A/stats", "/ingest/progress/abc%0A", "/ingest/abc%0A",
                                  "/circuit/notify%0A/status", "/admin/api-keys/key_0123456789abcdef%0A"])
def test_a_newline_suffixed_path_id_is_422_naming_it(client, path):
    method = client.delete if path.startswith(("/ingest/abc", "/admin")) else client.get
    response = method(path)
    assert response.status_code == 422, (path, response.status_code, response.get_data(as_text=True))
    assert response.get_json()["errors"]["path"]


def test_a_newline_suffixed_tenant_cannot_start_an_ingestion(client, database):
    response = client.post("/ingest/run?tenant_id=tenant_a%0A")
    assert response.status_code == 422
    assert database.tenants.count_documents({}) == 0 and database.locks.count_documents({}) == 0


@pytest.mark.parametrize("auth", ["off", "keys"])
def test_a_body_over_max_request_bytes_is_a_json_413_on_every_operation_that_takes_one(make_app, auth):
    app = make_app(auth_mode=auth, admin_api_key=ADMIN_KEY if auth == "keys" else None)
    client = app.test_client()
    headers = bearer(ADMIN_KEY) if auth == "keys" else {}
    limit = get_runtime(app).settings.max_request_bytes
    with_body = [op for op in _operations_of(client, headers) if op["body"] is not None]
    assert {op["path"] for op in with_body} >= {"/classify", "/admin/api-keys"}
    oversized = json.dumps({"subject": "s", "message": "m" * limit, "name": "n" * limit})
    assert len(oversized) > limit
    for op in with_body:
        response = client.open(op["path"], method=op["method"].upper(), data=oversized,
                               content_type="application/json", headers=headers)
        assert response.status_code == 413, (op["path"], response.status_code)
        assert response.is_json and response.get_json()["code"] == 413 and response.get_json()["message"]
    just_under = json.dumps({"subject": "s", "message": "m" * 19_000})
    assert client.post("/classify", data=just_under, content_type="application/json",
                       headers=headers).status_code == 200


@pytest.mark.parametrize("method, path", [("post", "/ingest/run?tenant_id=tenant_a"), ("get", "/tickets?tenant_id=tenant_a"),
                                          ("get", "/health"), ("delete", "/ingest/" + "0" * 32)])
def test_a_body_over_max_request_bytes_is_a_json_413_also_where_the_body_is_never_read(client, database, method, path):
    limit = get_runtime(client.application).settings.max_request_bytes
    response = client.open(path, method=method.upper(), data=b"x" * (limit + 1), content_type="application/octet-stream")
    assert response.status_code == 413, (path, response.status_code)
    assert response.is_json and response.get_json()["code"] == 413 and response.get_json()["message"]
    assert database.ingestion_logs.count_documents({}) == 0  # refused before any work
