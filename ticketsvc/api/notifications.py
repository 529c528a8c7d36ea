"""Alerts and their circuit breaker: read the outbox, retry dead alerts, read or reset a circuit."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from .context import get_runtime
from ..auth.guard import current_actor
from ..errors import NotFound
from ..notifications.breaker import CLOSED, HALF_OPEN, OPEN
from ..domain import OutboxStatus
from .schemas import FullMatch, PageSchema, TenantPageQuerySchema, TenantQuerySchema, Timestamp, page_request

blp = Blueprint("notifications", __name__, description="High-urgency alerts and the notify circuit breaker")


def _runtime():
    return get_runtime()


class NotificationSchema(Schema):
    id = fields.String(required=True, metadata={"description": "The alert's stable id"})
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
    withdrawn_at = Timestamp(allow_none=True)
    withdrawn_reason = fields.String(allow_none=True, metadata={"description": "why it was withdrawn unsent"})
    retried_at = Timestamp(allow_none=True, metadata={"description": "when it was last put back after dying"})
    retried_by = fields.String(allow_none=True, metadata={"description": "the API key id that did"})
    retries = fields.Integer(required=True, metadata={"description": "times it was put back after dying"})


class NotificationPathSchema(Schema):
    notification_id = fields.String(required=True, validate=FullMatch(r"^[0-9a-f]{24}$"))


class RetriedSchema(Schema):
    tenant_id = fields.String(required=True)
    retried = fields.Integer(required=True, metadata={"description": "dead alerts put back to pending"})


class NotificationsQuerySchema(TenantPageQuerySchema):
    status = fields.String(validate=validate.OneOf(OutboxStatus.values()), metadata={"description": " | ".join(OutboxStatus.values())})
    ticket_id = fields.String(validate=validate.Length(min=1, max=128), metadata={
        "description": "Only this ticket's alerts (its external id, as /tickets/{ticket_id} takes it)"})


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
        """The tenant's alerts (the outbox), newest first, optionally by status and by ticket."""
        return _runtime().outbox.list_for_tenant(args["tenant_id"], args.get("status"), page_request(args),
                                                 ticket_id=args.get("ticket_id")).body("notifications")


@blp.route("/notifications/<notification_id>/retry")
class NotificationRetry(MethodView):
    @blp.arguments(TenantQuerySchema, location="query", unknown=RAISE)
    @blp.arguments(NotificationPathSchema, location="path", as_kwargs=True)
    @blp.response(200, NotificationSchema)
    @blp.alt_response(404, description="No such alert of this tenant")
    @blp.alt_response(409, description="The alert is not dead")
    def post(self, args, notification_id):
        """Put a dead alert back to pending: due now, fresh attempts, the same idempotency key.
        Who did it and when are recorded on the alert (``retried_by``, ``retried_at``)."""
        runtime = _runtime()
        return runtime.outbox.retry_dead(args["tenant_id"], notification_id, current_actor(), runtime.clock.now())


@blp.route("/notifications/retry-dead")
class DeadNotificationsRetry(MethodView):
    @blp.arguments(TenantQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, RetriedSchema)
    def post(self, args):
        """Put every dead alert of the tenant back to pending (as the single retry), e.g.
        after an outage of the alert endpoint outlasted the attempts."""
        runtime = _runtime()
        tenant_id = args["tenant_id"]
        retried = runtime.outbox.retry_all_dead(tenant_id, current_actor(), runtime.clock.now())
        return {"tenant_id": tenant_id, "retried": retried}


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
