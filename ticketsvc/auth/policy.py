"""Who may call what: the one table mapping every endpoint to its access rule.

The guard (``guard.py``) looks up ``request.endpoint`` here before any view runs. An
endpoint missing from the table is admin-only (deny by default), and a test walks every
route of the app and every operation of ``/openapi.json`` and fails on one that is not
listed, so a new endpoint is decided here, on purpose, not forgotten.

Adding an endpoint: add its endpoint name (``"<blueprint>.<MethodView class>"``, or the
function's name for a plain route) with one of the rules below. ``/metrics`` stays
admin-only (the default; a Prometheus scrape config sends the key as a bearer token);
``/dashboard/<tenant_id>`` is an open page shell whose figures come from the
tenant-scoped JSON endpoints.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

OPEN, ANY_KEY, OWN_TENANT, TENANT, ADMIN_ONLY = "open", "any_key", "own_tenant", "tenant", "admin"
# Where a tenant rule finds the tenant a request is about.
QUERY, PATH, BODY, JOB = "query", "path", "body", "job"


@dataclass(frozen=True)
class Rule:
    """One endpoint's access rule.

    ``open``: no key needed. ``any_key``: any valid key (tenant or admin). ``own_tenant``: any
    valid key, and the view narrows its answer to the key's tenant (admins see every
    tenant): for listings that name no tenant. ``tenant``: a key
    of the tenant named at ``source``/``param`` (query string, path, JSON body, or the
    tenant of the ingestion job whose id is the path's ``param``), or an admin key.
    ``admin``: admin keys only.
    """

    kind: str
    source: str | None = None
    param: str | None = None

    def describe(self) -> str:
        """The rule in a sentence, for the OpenAPI document and the README."""
        if self.kind == OPEN:
            return "Open: no API key needed."
        if self.kind == ANY_KEY:
            return "Any valid API key (tenant or admin); it shows no tenant's data."
        if self.kind == OWN_TENANT:
            return "Any valid API key: a tenant key sees only its own tenant, an admin key every tenant."
        if self.kind == ADMIN_ONLY:
            return "Admin API key only."
        where = {
            QUERY: f"the `{self.param}` query parameter",
            PATH: f"the `{self.param}` path parameter",
            BODY: f"the `{self.param}` field of the JSON body",
            JOB: f"the job `{self.param}` (another tenant's job answers 404, like an unknown one)",
        }[self.source or ""]
        return f"A key of the tenant named by {where}, or an admin key."


PUBLIC = Rule(OPEN)
AUTHENTICATED = Rule(ANY_KEY)
OWN_TENANT_ONLY = Rule(OWN_TENANT)
ADMIN = Rule(ADMIN_ONLY)
TENANT_IN_QUERY = Rule(TENANT, QUERY, "tenant_id")
TENANT_IN_PATH = Rule(TENANT, PATH, "tenant_id")
TENANT_IN_BODY = Rule(TENANT, BODY, "tenant_id")
TENANT_OF_JOB = Rule(TENANT, JOB, "job_id")

# The rule of a request that matched no route: a key is needed before the 404 or 405, so
# a caller without one cannot map which paths and methods exist.
UNROUTED = AUTHENTICATED
DEFAULT = ADMIN

POLICY: Mapping[str, Rule] = MappingProxyType({
    # Open: load-balancer health checks, and the API's own documentation (which holds no data).
    "health.Health": PUBLIC,
    "api-docs.openapi_json": PUBLIC,
    "api-docs.openapi_swagger_ui": PUBLIC,
    "swagger_static": PUBLIC,
    # Flask's static folder serves files shipped with the code (page scripts, styles), never
    # data; browsers fetch them without an Authorization header.
    "static": PUBLIC,
    # The dashboard page is a shell holding no tenant data (a browser cannot send a bearer
    # key when it navigates); its script fetches the figures from the tenant-scoped JSON
    # endpoints below with the caller's key, and those decide (see api/dashboard.py).
    "dashboard.page": PUBLIC,

    # A tenant's data: that tenant's keys, or an admin key.
    "ingest.Run": TENANT_IN_QUERY,
    "ingest.Status": TENANT_IN_QUERY,
    "ingest.Logs": TENANT_IN_QUERY,
    "ingest.Progress": TENANT_OF_JOB,
    "ingest.Cancel": TENANT_OF_JOB,
    "tickets.TicketList": TENANT_IN_QUERY,
    "tickets.UrgentTickets": TENANT_IN_QUERY,
    "tickets.TicketDetail": TENANT_IN_QUERY,
    "tickets.TicketHistory": TENANT_IN_QUERY,
    "tickets.TicketExport": TENANT_IN_QUERY,
    "notifications.Notifications": TENANT_IN_QUERY,
    "notifications.NotificationRetry": TENANT_IN_QUERY,
    "notifications.DeadNotificationsRetry": TENANT_IN_QUERY,
    "stats.TenantStatsView": TENANT_IN_PATH,
    "tenants.Tenant": TENANT_IN_PATH,
    # The directory of tenants: a tenant key's listing holds its own tenant only (api/tenants.py).
    "tenants.Tenants": OWN_TENANT_ONLY,

    # No tenant's data, useful to every tenant: why are my alerts late (the shared notify
    # circuit), why was my ticket classified so (the classifier is a pure function).
    "notifications.CircuitStatus": AUTHENTICATED,
    "classify.Classify": AUTHENTICATED,

    # Operations: change shared state or see every tenant. Admin is also the default;
    # listed anyway so the table reads as the whole policy.
    "notifications.CircuitReset": ADMIN,
    "metrics.Metrics": ADMIN,  # every tenant's figures; Prometheus sends a bearer token
    "api_keys.ApiKeys": ADMIN,
    "api_keys.ApiKey": ADMIN,
    "tenants.TenantSync": ADMIN,  # PATCH /tenants/{T}: switch a tenant's periodic sync
})


def rule_for(endpoint: str | None) -> Rule:
    """The rule for a matched endpoint; ``UNROUTED`` when no route matched; admin-only
    for an endpoint the table does not know."""
    if endpoint is None:
        return UNROUTED
    return POLICY.get(endpoint, DEFAULT)
