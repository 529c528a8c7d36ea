"""HTTP layer: parse and validate requests, call MockUpstream, shape responses."""
from __future__ import annotations

import re
from functools import wraps

from flask import Blueprint, Response, current_app, jsonify, request

from .clock import parse_iso
from .errors import BadRequest
from .notify import parse_notify_request
from .upstream import MockUpstream

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# Served with status 200 by the malformed_next fault: it starts like a page and stops.
MALFORMED_BODY = '{"tickets": [{"id": "tkt-0000'
_DIGITS = re.compile(r"^[0-9]{1,9}$")

external = Blueprint("external", __name__, url_prefix="/external")
notify = Blueprint("notify", __name__)
admin = Blueprint("admin", __name__, url_prefix="/admin")
health = Blueprint("health", __name__)


def upstream() -> MockUpstream:
    return current_app.extensions["mock"]


# --- /external/* ------------------------------------------------------------------------

def external_call(endpoint: str):
    """Count the call on arrival, apply faults and the limit, then serve it."""

    def decorate(view):
        @wraps(view)
        def wrapper(**kwargs):
            mock = upstream()
            admission = mock.admit_external(endpoint)
            try:
                if admission.delay_s:
                    mock.sleep(admission.delay_s)
                if admission.status == 429:
                    response = jsonify(error="rate limit exceeded", retry_after=float(admission.retry_after))
                    response.status_code = 429
                    response.headers["Retry-After"] = admission.retry_after
                    return response
                if admission.status is not None:
                    return jsonify(error="injected upstream failure"), admission.status
                if admission.malformed:
                    return Response(MALFORMED_BODY, status=200, mimetype="application/json")
                return view(**kwargs)
            finally:
                mock.external_answered()

        return wrapper

    return decorate


@external.get("/support-tickets")
@external_call("/external/support-tickets")
def list_tickets():
    page = _int_arg("page", 1, minimum=1)
    page_size = _int_arg("page_size", DEFAULT_PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE)
    return jsonify(upstream().list_tickets(page, page_size, _tenant_arg(), _bool_arg("include_deleted")))


@external.get("/ticket-changes")
@external_call("/external/ticket-changes")
def ticket_changes():
    tenant_id = _tenant_arg()
    if tenant_id is None:
        raise BadRequest("tenant_id is required")
    raw_since = request.args.get("since")
    if not raw_since:
        raise BadRequest("since is required (ISO 8601)")
    try:
        since_s = parse_iso(raw_since)
    except ValueError:
        raise BadRequest("since must be an ISO 8601 time") from None
    cursor = request.args.get("cursor") or None
    page_size = _int_arg("page_size", DEFAULT_PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE)
    page = upstream().ticket_changes(tenant_id, since_s, cursor, page_size)
    if page is None:
        return jsonify(error="no such endpoint: /external/ticket-changes"), 404
    return jsonify(page)


@external.get("/support-tickets/<ticket_id>")
@external_call("/external/support-tickets/{id}")
def get_ticket(ticket_id: str):
    return jsonify(upstream().get_ticket(ticket_id, _tenant_arg()))


@external.get("/deleted-tickets")
@external_call("/external/deleted-tickets")
def deleted_tickets():
    return jsonify(deleted_ids=upstream().deleted_ids(_tenant_arg()))


@external.route("/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@external_call("/external/*")
def unknown_external(unknown: str):
    if unknown in ("support-tickets", "deleted-tickets") or unknown.startswith("support-tickets/"):
        return jsonify(error=f"method {request.method} not allowed"), 405
    return jsonify(error=f"no such endpoint: /external/{unknown}"), 404


def _int_arg(name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not _DIGITS.match(raw):
        raise BadRequest(f"{name} must be an integer")
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"within {minimum}..{maximum}"
        raise BadRequest(f"{name} must be {bounds}")
    return value


def _tenant_arg() -> str | None:
    tenant_id = request.args.get("tenant_id")
    if tenant_id is not None and not tenant_id:
        raise BadRequest("tenant_id must not be empty")
    return tenant_id


def _bool_arg(name: str) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return False
    value = raw.lower()
    if value not in ("true", "false", "1", "0"):
        raise BadRequest(f"{name} must be true or false")
    return value in ("true", "1")


# --- /notify ----------------------------------------------------------------------------

@notify.post("/notify")
def notify_ticket():
    mock = upstream()
    notify_request = parse_notify_request(request.get_json(silent=True), request.headers.get("Idempotency-Key"))
    outcome = mock.notify(notify_request)
    if outcome.delay_s:
        mock.sleep(outcome.delay_s)
    return jsonify(outcome.body), outcome.status


# --- /admin/* ---------------------------------------------------------------------------

@admin.post("/reset")
def reset():
    return jsonify(upstream().reset(_json_body(optional=True)))


@admin.get("/config")
def get_config():
    return jsonify(upstream().config.to_dict())


@admin.post("/config")
def configure():
    return jsonify(upstream().configure(_json_body()))


@admin.post("/mutate")
def mutate():
    return jsonify(upstream().mutate(_json_body()))


@admin.get("/faults")
def get_faults():
    return jsonify(upstream().faults_report())


@admin.post("/faults")
def set_faults():
    return jsonify(upstream().set_faults(_json_body()))


@admin.delete("/faults")
def clear_faults():
    return jsonify(upstream().clear_faults())


@admin.get("/report")
def report():
    return jsonify(upstream().report())


def _json_body(optional: bool = False):
    if optional and not request.get_data():
        return {}
    body = request.get_json(silent=True)
    if body is None:
        raise BadRequest("body must be JSON")
    return body


# --- /health ----------------------------------------------------------------------------

@health.get("/health")
def health_check():
    return jsonify(status="ok")
