"""The platform: JSON errors everywhere, health, OpenAPI."""
import pytest

from support import assert_json_error


def test_health_is_ok_when_mongodb_and_upstream_answer(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["engine"] == "embedded"
    assert body["dependencies"]["mongodb"]["ok"] and body["dependencies"]["external_api"]["ok"]
    assert body["dependencies"]["external_api"]["latency_ms"] is not None
    assert body["notifications"] == {
        "pending": 0, "dead": 0, "oldest_pending_age_s": None, "longest_overdue_s": None, "circuit": "closed"}


def test_health_is_503_degraded_when_upstream_is_down(make_app, mock_upstream):
    app = make_app(external_api_url="http://127.0.0.1:1", health_timeout_s=0.5)
    response = app.test_client().get("/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["dependencies"]["external_api"]["ok"] is False
    assert body["dependencies"]["mongodb"]["ok"] is True


def test_health_never_spends_the_upstream_rate_budget(client, mock_upstream):
    for _ in range(3):
        client.get("/health")
    assert mock_upstream.admin("GET", "/admin/report")["calls"] == 0


def test_unknown_path_is_json_404(client):
    assert_json_error(client.get("/no/such/thing"), 404)


def test_wrong_method_is_json_405(client):
    assert_json_error(client.delete("/health"), 405)


def test_unexpected_error_is_json_500_with_request_id_and_no_trace(app):
    @app.get("/boom-for-test")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom-for-test")
    body = assert_json_error(response, 500)
    assert body["request_id"] and "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_openapi_and_docs_are_served_without_network(client):
    spec = client.get("/openapi.json").get_json()
    assert "/health" in spec["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and b"/docs/static/swagger-ui-bundle.js" in docs.data
    assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200


def test_request_id_is_echoed(client):
    response = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
