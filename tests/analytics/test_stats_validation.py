"""Bad input to GET /tenants/{tenant_id}/stats is a JSON 422 naming the field, never a 500;
the schemas that validate it are the ones /openapi.json documents."""
import pytest

from analytics.stats_data import NOW, ticket_doc
from support import assert_json_error


@pytest.mark.parametrize("field, value", [
    ("from_date", "yesterday"),
    ("from_date", ""),
    ("from_date", "2026-02-30"),
    ("to_date", "2026-13-01T00:00:00Z"),
    ("to_date", "2026-03-01T25:00:00Z"),
    ("to_date", "2026-03-01T10:00:00+25:00"),
    # Valid text, but the zone pushes it outside the representable range.
    ("from_date", "0001-01-01T00:00:00+01:00"),
    ("to_date", "9999-12-31T23:00:00-05:00"),
])
def test_unparseable_date_is_422_naming_the_field(stats_client, field, value):
    assert_json_error(stats_client.get("/tenants/acme/stats", query_string={field: value}), 422, field)


def test_from_later_than_to_is_422_naming_from_date(stats_client):
    response = stats_client.get("/tenants/acme/stats?from_date=2026-03-02T00:00:00.001Z&to_date=2026-03-01")
    assert_json_error(response, 422, "from_date")


def test_from_equal_to_to_is_a_valid_range(stats_client, seed_tickets):
    seed_tickets(ticket_doc("acme", "t1", NOW))
    response = stats_client.get("/tenants/acme/stats?from_date=2026-03-01T10:00:00Z&to_date=2026-03-01T10:00:00Z")
    assert response.status_code == 200


@pytest.mark.parametrize("tenant_id", ["bad$tenant", "a" * 65, "x%20y"])
def test_invalid_tenant_id_in_path_is_422(stats_client, tenant_id):
    assert_json_error(stats_client.get(f"/tenants/{tenant_id}/stats"), 422, "tenant_id")


def test_longest_valid_tenant_id_is_accepted(stats_client):
    # Valid, hence looked up: unknown, so 404 (not 422).
    assert stats_client.get(f"/tenants/{'a' * 64}/stats").status_code == 404


@pytest.mark.parametrize("value", ["", "e$mail", "x" * 65, " email"])
def test_malformed_source_is_422_naming_it(stats_client, value):
    assert_json_error(stats_client.get("/tenants/acme/stats", query_string={"source": value}), 422, "source")


def test_unknown_query_parameter_is_422_naming_it(stats_client):
    # A misspelt bound must not silently answer all-time figures.
    assert_json_error(stats_client.get("/tenants/acme/stats?form_date=2026-03-01"), 422, "form_date")


def test_openapi_documents_the_stats_endpoint_with_its_parameters_and_etag(stats_client):
    spec = stats_client.get("/openapi.json").get_json()
    operation = spec["paths"]["/tenants/{tenant_id}/stats"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"tenant_id", "from_date", "to_date"} <= names
    assert {"200", "304", "422"} <= set(operation["responses"])
    assert "ETag" in operation["responses"]["200"]["headers"]
