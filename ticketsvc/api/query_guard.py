"""Unknown query parameters are refused on every operation, not ignored.

An operation with a query schema refuses them itself (``unknown=RAISE`` on its
``@blp.arguments``). One that declares no query parameter at all (``/ingest/progress/{id}``,
``/health``, ``POST /classify``, ...) has no schema to do it, so this hook does: a
misspelt or misplaced parameter (``/ingest/progress/j1?tenant=x``) is a 422 naming it,
never silently dropped. Pages for people (the dashboard) are not API operations and may
carry state in their query string.
"""
from __future__ import annotations

from flask import Flask, current_app, request

from ..errors import InvalidInput
from .errors import INVALID_INPUT_MESSAGE


def _declares_query(endpoint: str | None) -> bool | None:
    """Whether the matched API operation declares query parameters; None when the request
    matched no flask-smorest operation."""
    view = current_app.view_functions.get(endpoint or "")
    view_class = getattr(view, "view_class", None)
    method = getattr(view_class, request.method.lower(), None) if view_class is not None else None
    apidoc = getattr(method, "_apidoc", None)
    if apidoc is None:
        return None
    return any(param.get("in") == "query" for param in apidoc.get("arguments", {}).get("parameters", []))


def install_query_guard(app: Flask) -> None:
    """Refuse query parameters on operations that declare none (install after the access
    guard: a caller without a key learns nothing, not even this)."""

    @app.before_request
    def refuse_undeclared_query_parameters():
        if request.args and _declares_query(request.endpoint) is False:
            raise InvalidInput(INVALID_INPUT_MESSAGE, fields={name: ["Unknown field."] for name in request.args})
