"""Assertion helpers shared by the test modules."""
from __future__ import annotations


def assert_json_error(response, status: int, field: str | None = None) -> dict:
    """The response is a JSON error with ``status``; with ``field``, it names that field."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.is_json, response.get_data(as_text=True)[:200]
    body = response.get_json()
    assert body["code"] == status and body.get("message")
    if field is not None:
        assert field in str(body.get("errors", body)), body
    return body
