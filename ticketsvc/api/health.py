"""GET /health: is this instance able to do its job right now?"""
from __future__ import annotations

import time

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from .context import get_runtime

blp = Blueprint("health", __name__, description="Liveness and dependency health")


class DependencySchema(Schema):
    ok = fields.Boolean(required=True)
    latency_ms = fields.Float(allow_none=True)
    error = fields.String(allow_none=True)


class DeliverySchema(Schema):
    pending = fields.Integer(required=True)
    dead = fields.Integer(required=True)
    oldest_pending_age_s = fields.Float(allow_none=True, metadata={"description": "age of the oldest pending alert"})
    longest_overdue_s = fields.Float(allow_none=True, metadata={
        "description": "how long the alert due longest has waited past its due time"})
    circuit = fields.String(required=True, metadata={"description": "the notify circuit: closed | open | half_open"})


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"description": "ok | degraded"})
    engine = fields.String(required=True, metadata={"description": "embedded | mongodb"})
    auth_mode = fields.String(required=True)
    warnings = fields.List(fields.String())
    dependencies = fields.Dict(keys=fields.String(), values=fields.Nested(DependencySchema))
    scheduler = fields.String()
    notifications = fields.Nested(DeliverySchema, metadata={
        "description": "alert delivery (absent when MongoDB does not answer); a stall is explained in warnings"})


def _probe_mongodb(runtime) -> dict:
    try:
        return {"ok": True, "latency_ms": round(runtime.db.ping(), 2), "error": None}
    except Exception as exc:  # any failure means the dependency is down for our purposes
        return {"ok": False, "latency_ms": None, "error": type(exc).__name__}


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="A dependency is down")
    def get(self):
        """Probe MongoDB and the external API; 503 when either fails. Alert delivery is
        reported (and a stall explained in ``warnings``) but does not change the status."""
        runtime = get_runtime()
        # /health of the upstream, never an /external/* call: that would spend the rate budget.
        deps = {"mongodb": _probe_mongodb(runtime), "external_api": runtime.upstream.probe()}
        healthy = all(d["ok"] for d in deps.values())
        warnings = []
        if runtime.settings.auth_mode == "off":
            warnings.append("AUTH_MODE=off: every endpoint is open to anyone who can reach it")
        body = {
            "status": "ok" if healthy else "degraded",
            "engine": runtime.settings.engine,
            "auth_mode": runtime.settings.auth_mode,
            "warnings": warnings,
            "dependencies": deps,
            "scheduler": runtime.scheduler_state(),
        }
        if deps["mongodb"]["ok"]:
            delivery = runtime.delivery_status()
            body["notifications"] = delivery.as_dict()
            warnings.extend(delivery.warnings())
        return body, (200 if healthy else 503)
