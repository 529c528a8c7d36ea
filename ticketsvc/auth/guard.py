"""The one place requests are checked: a ``before_request`` hook driven by the policy table.

It runs after routing and before any view, so a caller without a valid key learns nothing
(not even which parameters an endpoint takes: 401 comes before 422); a caller with a key
gets 403 for another tenant before validation, and 422 for bad input after it.
"""
from __future__ import annotations

from flask import Flask, g, request

from ..api.context import get_runtime
from .access import AccessControl
from .keys import Principal
from .policy import ADMIN_ONLY, BODY, JOB, OPEN, PATH, QUERY, TENANT, Rule, rule_for

WWW_AUTHENTICATE = 'Bearer realm="ticketsvc"'


def install_access_guard(app: Flask) -> None:
    """Check every request against the policy table (with ``AUTH_MODE=keys``; with ``off``
    nothing is installed and every endpoint is open)."""
    access: AccessControl = get_runtime(app).access
    if not access.enabled:
        return

    @app.before_request
    def enforce_access_policy():
        rule = rule_for(request.endpoint)
        if rule.kind == OPEN:
            return None
        principal = access.authenticate(request.headers.get("Authorization"))
        g.principal = principal
        _enforce(access, rule, principal)
        return None

    @app.after_request
    def challenge_unauthenticated(response):
        # RFC 7235: a 401 names the scheme the client should use.
        if response.status_code == 401:
            response.headers.setdefault("WWW-Authenticate", WWW_AUTHENTICATE)
        return response


def current_principal() -> Principal | None:
    """The key the current request authenticated with (None on open endpoints or AUTH_MODE=off)."""
    return g.get("principal")


def current_actor() -> str:
    """Who the current request acts as, for audit records: its key's id."""
    principal = current_principal()
    return principal.key_id if principal is not None else "anonymous (AUTH_MODE=off)"


def _enforce(access: AccessControl, rule: Rule, principal: Principal) -> None:
    if rule.kind == ADMIN_ONLY:
        access.require_admin(principal)
    elif rule.kind == TENANT:
        if rule.source == JOB:
            access.require_job(principal, (request.view_args or {}).get(rule.param))
        else:
            access.require_tenants(principal, _named_tenants(rule), field=rule.param)


def _named_tenants(rule: Rule) -> list:
    """Every value the request gives for the rule's tenant parameter (a repeated query
    parameter counts each time: all must be the caller's)."""
    if rule.source == QUERY:
        return request.args.getlist(rule.param)
    if rule.source == PATH:
        value = (request.view_args or {}).get(rule.param)
        return [] if value is None else [value]
    if rule.source == BODY:
        body = request.get_json(silent=True)
        value = body.get(rule.param) if isinstance(body, dict) else None
        return [] if value is None else [value]
    raise ValueError(f"unknown tenant source {rule.source!r}")  # a policy-table bug, caught by the tests
