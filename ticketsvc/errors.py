"""The service's error family and the one place that turns errors into JSON responses.

Services raise these; the HTTP layer never builds an error body by hand. Anything
unexpected becomes a JSON 500 carrying the request id, with the stack trace in the log
only.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """Base of the errors a caller can act on; ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(self, message: str, **extra: Any):
        super().__init__(message)
        self.message = message
        self.extra = extra


class BadRequest(ServiceError):
    status = 400


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class Unprocessable(ServiceError):
    """Input that parses but breaks a rule; ``field`` names the offending input."""

    status = 422

    def __init__(self, message: str, field: str | None = None, location: str = "query", **extra: Any):
        if field is not None:
            extra.setdefault("errors", {location: {field: [message]}})
        super().__init__(message, **extra)


class Unavailable(ServiceError):
    status = 503


def _status_name(code: int) -> str:
    from werkzeug.http import HTTP_STATUS_CODES

    return HTTP_STATUS_CODES.get(code, "Error")


def error_body(code: int, message: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "status": _status_name(code)}
    if message:
        body["message"] = message
    body.update(extra)
    return body


def handle_http_exception(error: HTTPException):
    """JSON for every werkzeug/webargs HTTP error (404, 405, 413, 422 from schemas, ...)."""
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    extra: dict[str, Any] = {}
    message = data.get("message") or error.description
    errors = data.get("errors") or data.get("messages")
    if errors:
        extra["errors"] = errors
        message = data.get("message") or "Invalid input: see errors for the offending fields"
    response = jsonify(error_body(code, message, **extra))
    response.status_code = code
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    if code == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response


def handle_service_error(error: ServiceError):
    response = jsonify(error_body(error.status, error.message, **error.extra))
    response.status_code = error.status
    if "retry_after" in error.extra:
        response.headers["Retry-After"] = str(int(error.extra["retry_after"]))
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
