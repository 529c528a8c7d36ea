"""The one place errors become HTTP responses: the status table and the JSON bodies.

Services raise ``ticketsvc.errors``; werkzeug and flask-smorest raise HTTP exceptions for
routing and schema validation. Both leave here as ``{"code", "status", "message", ...}``.
Anything unexpected becomes a JSON 500 carrying the request id, with the stack trace in
the log only.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from ..errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError, Unauthorized, Unavailable

log = logging.getLogger(__name__)

# The words of every 422, whether schema validation or a service found the problem.
INVALID_INPUT_MESSAGE = "Invalid input: see errors for the offending fields"

STATUS: dict[type[ServiceError], int] = {
    InvalidInput: 422,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Unavailable: 503,
}


def status_of(error: ServiceError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def error_body(code: int, message: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "status": HTTP_STATUS_CODES.get(code, "Error")}
    if message:
        body["message"] = message
    body.update(extra)
    return body


def _location_of(field: str) -> str:
    """Where this request carried (or should have carried) ``field``."""
    if field in (request.view_args or {}):
        return "path"
    if field in request.args:
        return "query"
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict) and field in body:
        return "json"
    return "json" if request.is_json else "query"


def handle_service_error(error: ServiceError):
    code = status_of(error)
    extra = dict(error.details)
    message = error.message
    if isinstance(error, InvalidInput) and error.fields:
        grouped: dict[str, dict[str, list[str]]] = {}
        for field, messages in error.fields.items():
            grouped.setdefault(_location_of(field), {})[field] = messages
        extra["errors"] = grouped
        message = INVALID_INPUT_MESSAGE  # every 422 reads the same; the specifics are in errors
    response = jsonify(error_body(code, message, **extra))
    response.status_code = code
    if isinstance(error, Unavailable):
        response.headers["Retry-After"] = str(max(1, int(error.retry_after)))
    return response


def handle_http_exception(error: HTTPException):
    """JSON for every werkzeug/webargs HTTP error (404, 405, 413, 422 from schemas, ...)."""
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    extra: dict[str, Any] = {}
    message = data.get("message") or error.description
    errors = data.get("errors") or data.get("messages")
    if errors:
        extra["errors"] = errors
        message = data.get("message") or INVALID_INPUT_MESSAGE
    response = jsonify(error_body(code, message, **extra))
    response.status_code = code
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    if code == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response


def handle_unexpected(error: Exception):
    request_id = getattr(g, "request_id", None)
    log.exception("unhandled error request_id=%s", request_id)
    response = jsonify(error_body(500, "Internal error; quote the request_id when reporting it",
                                  request_id=request_id))
    response.status_code = 500
    return response


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ServiceError, handle_service_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
