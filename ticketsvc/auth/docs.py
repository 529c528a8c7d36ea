"""The access policy in ``/openapi.json``: the bearer scheme, required everywhere, except
on the open endpoints (``security: []``); each operation says who may call it and
documents its 401/403. Driven by the same table as the guard, so the two cannot disagree.
"""
from __future__ import annotations

from typing import Any

from apispec import BasePlugin

from .policy import ADMIN_ONLY, JOB, OPEN, TENANT, rule_for

SCHEME = "bearerAuth"
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_RESPONSES = {
    401: "Missing, unknown or revoked API key (`WWW-Authenticate: Bearer`)",
    403: "The key may not do this: another tenant's, or a tenant key on an admin endpoint",
}


class AccessDocsPlugin(BasePlugin):
    """apispec plugin: pass it to flask-smorest as ``spec_kwargs={"extra_plugins": [...]}``."""

    def init_spec(self, spec) -> None:
        super().init_spec(spec)
        spec.components.security_scheme(SCHEME, {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key: `Authorization: Bearer tsk_...`. Tenant keys reach their own "
                           "tenant; admin keys every tenant and the operational endpoints. Not checked "
                           "when the service runs with AUTH_MODE=off.",
        })
        spec.options.setdefault("security", [{SCHEME: []}])

    def operation_helper(self, path: str | None = None, operations: dict | None = None, **kwargs: Any) -> None:
        rule_obj = kwargs.get("rule")  # the werkzeug Rule flask-smorest documents
        if rule_obj is None or not operations:
            return  # no endpoint to look up: the global requirement (admin by default) stands
        rule = rule_for(rule_obj.endpoint)
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            access = rule.describe()
            operation["description"] = (operation.get("description", "") + "\n\n**Access:** " + access).strip()
            operation["x-access"] = rule.kind if rule.kind != TENANT else f"tenant:{rule.source}:{rule.param}"
            if rule.kind == OPEN:
                operation["security"] = []
                continue
            responses = operation.setdefault("responses", {})
            _add_response(responses, 401, _RESPONSES[401])
            if rule.kind in (ADMIN_ONLY, TENANT):
                _add_response(responses, 403, _RESPONSES[403])
            if rule.kind == TENANT and rule.source == JOB:
                _add_response(responses, 404, "Unknown job, or another tenant's (one answer for both)")


def _add_response(responses: dict, code: int, description: str) -> None:
    if code in responses or str(code) in responses:
        return  # the view documents it itself
    responses[code] = {"description": description, "content": _ERROR}
