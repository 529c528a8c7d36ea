"""Alerts and their circuit breaker: read the outbox, read or reset a circuit."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from .context import get_runtime
from ..errors import NotFound
from ..notifications.breaker import CLOSED, HALF_OPEN, OPEN
from ..domain import OutboxStatus
from .schemas import FullMatch, PageSchema, TenantPageQuerySchema, Timestamp, page_request

blp = Blueprint("notifications", __name__, description="High-urgency alerts and the notify circuit breaker")


def _runtime():
    return get_runtime()


class NotificationSchema(Schema):
    tenant_id = fields.String(required=True)
    ticket_id = fields.String(required=True)
    urgency = fields.String(required=True)
    reason = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": " | ".join(OutboxStatus.values())})
    attempts = fields.Integer(required=True)
    next_attempt_at = Timestamp(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = Timestamp(required=True)
    delivered_at = Timestamp(allow_none=True)


class NotificationsQuerySchema(TenantPageQuerySchema):
    status = fields.String(validate=validate.OneOf(OutboxStatus.values()), metadata={"description": " | ".join(OutboxStatus.values())})


class NotificationsSchema(PageSchema):
    notifications = fields.List(fields.Nested(NotificationSchema), required=True)


class CircuitPathSchema(Schema):
    name = fields.String(required=True, validate=FullMatch(r"^[a-z0-9_-]{1,32}$"))


class CircuitSchema(Schema):
    name = fields.String(required=True)
    state = fields.String(required=True, metadata={"description": f"{CLOSED} | {OPEN} | {HALF_OPEN}"})
    failure_count = fields.Integer(required=True, metadata={"description": "failures in the window"})
    window = fields.List(fields.String(), required=True,
                         metadata={"description": "outcomes of the last calls, oldest first"})
    opened_at = Timestamp(allow_none=True)
    retry_at = Timestamp(allow_none=True, metadata={"description": "when an open circuit lets a probe through"})


def _breaker(name: str):
    breaker = _runtime().circuit_breakers.get(name)
    if breaker is None:
        raise NotFound(f"unknown circuit {name}")
    return breaker


@blp.route("/notifications")
class Notifications(MethodView):
    @blp.arguments(NotificationsQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, NotificationsSchema)
    def get(self, args):
        """The tenant's alerts (the outbox), newest first, optionally by status."""
        return _runtime().outbox.list_for_tenant(args["tenant_id"], args.get("status"),
                                                 page_request(args)).body("notifications")


@blp.route("/circuit/<name>/status")
class CircuitStatus(MethodView):
    @blp.arguments(CircuitPathSchema, location="path", as_kwargs=True)
    @blp.response(200, CircuitSchema)
    @blp.alt_response(404, description="Unknown circuit")
    def get(self, name):
        """A circuit's state as every worker sees it (``notify`` guards the alert endpoint)."""
        runtime = _runtime()
        return _breaker(name).status(runtime.clock.now())


@blp.route("/circuit/<name>/reset")
class CircuitReset(MethodView):
    @blp.arguments(CircuitPathSchema, location="path", as_kwargs=True)
    @blp.response(200, CircuitSchema)
    @blp.alt_response(404, description="Unknown circuit")
    def post(self, name):
        """Close the circuit and clear its window, on every worker at once; returns its status."""
        runtime = _runtime()
        breaker = _breaker(name)
        breaker.reset()
        return breaker.status(runtime.clock.now())
