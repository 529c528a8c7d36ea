"""The dashboard's pages for people: a tenant's overview and the views behind it.

- ``/dashboard/<T>``: the overview (``static/dashboard.js``);
- ``/dashboard/<T>/tickets?<filters>``: the ticket list, its query the ``GET /tickets`` filters;
- ``/dashboard/<T>/tickets/<ticket_id>``: one ticket (``<path:>``: ids may hold ``/``);
- ``/dashboard/<T>/customers/<customer_id>``: one customer's tickets.

Each is the same shell with ``<body data-view="overview|tickets|ticket|customer">``: the
server renders no tenant data into it. Its scripts (``static/api.js``, ``views.js``,
``dashboard.js``) fetch everything from the JSON API with the caller's API key as a
bearer token, so the access rules of those endpoints (the tenant's own key, or an admin
key) are what protect the data, and a tenant key can only ever show its own tenant. The
shell itself is open (``auth/policy.py``): a browser cannot send a bearer key when it
navigates to a page, and the shell holds nothing but the ids the caller typed.

The key reaches the script from the URL fragment (``#key=...``: browsers never send the
fragment to the server, so it is in no access log) or from a form on the page, and is kept
in ``sessionStorage`` (this tab only, gone when it closes). A strict Content-Security-Policy
keeps any script but the service's own from running on the page.
"""
from __future__ import annotations

from flask import Blueprint, make_response, render_template, request
from marshmallow import Schema, ValidationError, fields

from ..domain import Sentiment, TicketSource, TicketStatus, Urgency
from ..errors import InvalidInput, NotFound
from ..tenants import TenantDirectory, unknown_tenant_message
from .context import get_runtime
from .errors import INVALID_INPUT_MESSAGE
from .schemas import tenant_id_field
from .tickets import TICKET_ID

bp = Blueprint("dashboard", __name__)

CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# Seconds between the page's refreshes; each is a conditional GET of the stats (ETag).
REFRESH_S = 60


# The filter list's documented values (the same for every tenant: no tenant data).
VOCABULARY = {"urgencies": Urgency.values(), "sentiments": Sentiment.values(),
              "statuses": TicketStatus.values(), "sources": TicketSource.values()}


class DashboardPathSchema(Schema):
    tenant_id = tenant_id_field()
    ticket_id = fields.String(validate=TICKET_ID)     # the ids the tickets API accepts
    customer_id = fields.String(validate=TICKET_ID)


@bp.get("/dashboard/<tenant_id>", defaults={"view": "overview"})
@bp.get("/dashboard/<tenant_id>/tickets", defaults={"view": "tickets"})
@bp.get("/dashboard/<tenant_id>/tickets/<path:ticket_id>", defaults={"view": "ticket"})
@bp.get("/dashboard/<tenant_id>/customers/<path:customer_id>", defaults={"view": "customer"})
def page(tenant_id: str, view: str, **ids: str):
    """The dashboard shell for one of ``tenant_id``'s views; 422 (JSON, naming the field)
    for an invalid tenant, ticket or customer id, 404 for a tenant never ingested: a page
    that says so for a browser, JSON for others. The query string is the view's own (the
    ticket list hands it to ``GET /tickets`` as it is, and the API judges it)."""
    try:
        args = DashboardPathSchema().load({"tenant_id": tenant_id, **ids})
    except ValidationError as exc:
        raise InvalidInput(INVALID_INPUT_MESSAGE, fields=exc.messages) from None
    runtime = get_runtime()
    if TenantDirectory(runtime.db, runtime.settings).exists(args["tenant_id"]):
        response = make_response(render_template("dashboard.html", view=view, refresh_s=REFRESH_S, **VOCABULARY, **args))
    elif request.accept_mimetypes.best == "text/html":  # a browser: a page that says so
        response = make_response(render_template("unknown_tenant.html", tenant_id=args["tenant_id"]), 404)
    else:  # anything else gets the JSON error every other 4xx is
        raise NotFound(unknown_tenant_message(args["tenant_id"]))
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-cache"
    return response
