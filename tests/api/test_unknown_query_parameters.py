"""Every operation of the API refuses a query parameter it does not know with a 422
naming it: a misspelt filter (``statsu=dead``) must not silently widen an answer, and a
parameter sent to an operation that takes none must not be silently dropped."""
import re

import pytest

from support import assert_json_error, register_tenants


# A well-formed value for path parameters that have a format (others take "x1").
PATH_SAMPLES = {"notification_id": "5f0c0ffee0ddba11c0ffee00"}


def _operations(client):
    spec = client.get("/openapi.json").get_json()
    for path, item in spec["paths"].items():
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                yield method.upper(), path


def test_every_operation_refuses_an_unknown_query_parameter_naming_it(client):
    operations = list(_operations(client))
    assert len(operations) >= 15
    for method, path in operations:
        url = re.sub(r"\{([^}]+)\}", lambda m: PATH_SAMPLES.get(m.group(1), "x1"), path)
        url += "?tenant_id=acme&zzz_unknown=1"
        response = client.open(url, method=method, json={} if method in ("POST", "PATCH") else None)
        assert_json_error(response, 422, "zzz_unknown")


@pytest.mark.parametrize("url", ["/notifications?tenant_id=acme&statsu=dead", "/ingest/status?tenant_id=acme&x=1",
                                 "/ingest/logs?tenant_id=acme&pgae=2", "/ingest/progress/j1?tenant=acme",
                                 "/health?verbose=1"])
def test_the_reported_cases_are_422s(client, url):
    name = url.rsplit("&", 1)[-1].split("?")[-1].split("=")[0]
    assert_json_error(client.get(url), 422, name)


def test_a_run_with_an_unknown_parameter_starts_nothing(client, runtime):
    assert_json_error(client.post("/ingest/run?tenant_id=acme&force=1"), 422, "force")
    assert runtime.db.ingestion_logs.count_documents({}) == 0


def test_the_dashboard_page_is_not_an_api_operation_and_keeps_its_query_string(client, database):
    register_tenants(database, "acme")
    assert client.get("/dashboard/acme?view=tickets").status_code == 200
