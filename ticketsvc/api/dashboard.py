"""GET /dashboard/<tenant_id>: a tenant's analytics as a page for people.

The page is a shell: the server renders no tenant data into it. Its script fetches the
figures from the JSON API (``/tenants/{T}/stats``, ``/ingest/logs``, ``/notifications``,
``/tickets/{id}``) with the caller's API key as a bearer token, so the access rules of
those endpoints (the tenant's own key, or an admin key) are what protect the data, and a
tenant key can only ever show its own tenant. The shell itself is open (``auth/policy.py``):
a browser cannot send a bearer key when it navigates to a page, and the shell holds
nothing but the tenant id the caller typed.

The key reaches the script from the URL fragment (``#key=...``: browsers never send the
fragment to the server, so it is in no access log) or from a form on the page, and is kept
in ``sessionStorage`` (this tab only, gone when it closes). A strict Content-Security-Policy
keeps any script but the service's own from running on the page.
"""
from __future__ import annotations

from flask import Blueprint, make_response, render_template, request
from marshmallow import Schema, ValidationError

from ..errors import InvalidInput, NotFound
from ..tenants import TenantDirectory, unknown_tenant_message
from .context import get_runtime
from .errors import INVALID_INPUT_MESSAGE
from .schemas import tenant_id_field

bp = Blueprint("dashboard", __name__)

CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# Seconds between the page's refreshes; each is a conditional GET of the stats (ETag).
REFRESH_S = 60


class DashboardPathSchema(Schema):
    tenant_id = tenant_id_field()


@bp.get("/dashboard/<tenant_id>")
def page(tenant_id: str):
    """The dashboard shell for ``tenant_id``; 422 (JSON, naming the field) for an invalid id,
    404 for a tenant never ingested: a page that says so for a browser, JSON for others."""
    try:
        args = DashboardPathSchema().load({"tenant_id": tenant_id})
    except ValidationError as exc:
        raise InvalidInput(INVALID_INPUT_MESSAGE, fields=exc.messages) from None
    runtime = get_runtime()
    if TenantDirectory(runtime.db, runtime.settings).exists(args["tenant_id"]):
        response = make_response(render_template("dashboard.html", tenant_id=args["tenant_id"], refresh_s=REFRESH_S))
    elif request.accept_mimetypes.best == "text/html":  # a browser: a page that says so
        response = make_response(render_template("unknown_tenant.html", tenant_id=args["tenant_id"]), 404)
    else:  # anything else gets the JSON error every other 4xx is
        raise NotFound(unknown_tenant_message(args["tenant_id"]))
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-cache"
    return response
