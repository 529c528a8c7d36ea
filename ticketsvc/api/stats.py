"""Tenant analytics endpoint: ``GET /tenants/{tenant_id}/stats``.

Dashboards poll it, so it is a conditional GET: the ETag names the tenant's rollup state
(which moves when an ingestion run ends, not while it writes pages), the current hour, the
range and the source, and a matching ``If-None-Match`` gets a 304 after one small read,
without running a pipeline.
"""
from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validates_schema
from werkzeug.http import quote_etag

from .context import get_runtime
from ..analytics import StatsQuery
from ..analytics.buckets import AT_RISK_MAX_TICKET_IDS
from ..analytics.stats import SENTIMENTS, SOURCES, STATUSES, URGENCIES
from .schemas import Timestamp, check_range, created_bounds, tenant_id_field
from .tickets import SAFE_TOKEN

blp = Blueprint("stats", __name__, url_prefix="/tenants", description="Tenant analytics")

# Revalidate on every use (the ETag makes that one cheap read); never in shared caches.
CACHE_CONTROL = "private, no-cache"


def _service():
    return get_runtime().stats


class StatsPathSchema(Schema):
    tenant_id = tenant_id_field()


class StatsQuerySchema(Schema):
    from_date, to_date = created_bounds()
    source = fields.String(validate=SAFE_TOKEN, metadata={
        "description": "Only tickets from this channel (e.g. email, chat, web, phone): narrows every figure",
        "example": "email"})

    @validates_schema
    def from_not_after_to(self, data, **kwargs):
        check_range(data, "from_date", "to_date")


class HourCountSchema(Schema):
    hour = Timestamp(required=True, metadata={"description": "Start of the UTC hour"})
    count = fields.Integer(required=True)


class KeywordCountSchema(Schema):
    keyword = fields.String(required=True)
    count = fields.Integer(required=True, metadata={"description": "Tickets that matched it"})


class SignalCountSchema(Schema):
    signal = fields.String(required=True, metadata={"description": "A rule category, e.g. refund, outage"})
    count = fields.Integer(required=True, metadata={"description": "Tickets with it"})


class AtRiskCustomerSchema(Schema):
    customer_id = fields.String(required=True)
    high_urgency_count = fields.Integer(required=True)
    negative_count = fields.Integer(required=True)
    ticket_ids = fields.List(fields.String(), required=True, metadata={
        "description": f"The customer's newest high-urgency or negative tickets in range, "
                       f"at most {AT_RISK_MAX_TICKET_IDS}"})


def _breakdown(known: tuple[str, ...]) -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Integer(), required=True, metadata={
        "description": f"Tickets per value: {', '.join(known)} always present (0 if none), "
                       "then any other value found"})


class RangeSchema(Schema):
    from_ = Timestamp(required=True, allow_none=True, data_key="from", attribute="from", metadata={
        "description": "Start of the range used (inclusive): from_date rounded down to the hour; null: unbounded"})
    to = Timestamp(required=True, allow_none=True, metadata={
        "description": "End of the range used (exclusive): to_date rounded up to the next hour; null: unbounded"})


class OpenBacklogSchema(Schema):
    total = fields.Integer(required=True, metadata={
        "description": "Live tickets in range whose status is neither resolved nor closed"})
    by_urgency = _breakdown(URGENCIES)
    high_urgency_count = fields.Integer(required=True)
    requires_action_count = fields.Integer(required=True)


class RunSchema(Schema):
    job_id = fields.String(required=True)
    ended_at = Timestamp(required=True, allow_none=True)


class TenantStatsSchema(Schema):
    tenant_id = fields.String(required=True)
    total_tickets = fields.Integer(required=True, metadata={"description": "Live tickets created in range"})
    by_status = _breakdown(STATUSES)
    by_urgency = _breakdown(URGENCIES)
    by_sentiment = _breakdown(SENTIMENTS)
    by_source = _breakdown(SOURCES)
    urgency_high_ratio = fields.Float(required=True, metadata={"description": "0..1, 4 decimals; 0 without tickets"})
    negative_sentiment_ratio = fields.Float(required=True, metadata={
        "description": "0..1, 4 decimals; 0 without tickets"})
    requires_action_count = fields.Integer(required=True)
    hourly_trend = fields.List(fields.Nested(HourCountSchema), required=True, metadata={
        "description": "Tickets created per hour over the last 24 hours, oldest first, the last "
                       "being the current hour; ignores from_date/to_date"})
    top_keywords = fields.List(fields.Nested(KeywordCountSchema), required=True, metadata={
        "description": "The 10 keywords (the customers' own words that decided) on most tickets, each "
                       "counted once per ticket; ties by keyword ascending"})
    top_signals = fields.List(fields.Nested(SignalCountSchema), required=True, metadata={
        "description": "The 10 signals (rule categories) on most tickets, each counted once per ticket; "
                       "ties by signal ascending"})
    at_risk_customers = fields.List(fields.Nested(AtRiskCustomerSchema), required=True, metadata={
        "description": "Customers with 2 or more high-urgency or negative tickets in range, top 10, "
                       "worst first: by high_urgency_count + negative_count descending, then "
                       "high_urgency_count descending, then customer_id ascending"})
    open = fields.Nested(OpenBacklogSchema, required=True, metadata={
        "description": "The backlog in range: tickets not resolved or closed"})
    as_of_run = fields.Nested(RunSchema, required=True, allow_none=True, metadata={
        "description": "The tenant's last complete ingestion run these figures include; null before one"})
    source = fields.String(required=True, allow_none=True, metadata={
        "description": "The source every figure is narrowed to; null: every source"})
    range = fields.Nested(RangeSchema, required=True, metadata={
        "description": "The created_at range the figures cover, its edges rounded outward to whole UTC hours"})
    generated_at = Timestamp(required=True)


_HEADERS = {
    "ETag": {"description": "Validator for If-None-Match: moves when an ingestion run ends or the hour turns",
             "schema": {"type": "string"}},
    "Cache-Control": {"description": CACHE_CONTROL, "schema": {"type": "string"}},
}


# Unknown query parameters are refused: a misspelt ``form_date`` would otherwise silently
# answer all-time figures.
@blp.route("/<tenant_id>/stats")
class TenantStatsView(MethodView):
    @blp.arguments(StatsPathSchema, location="path", as_kwargs=True)
    @blp.arguments(StatsQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, TenantStatsSchema, headers=_HEADERS)
    @blp.alt_response(304, description="Unchanged since the ETag in If-None-Match", headers=_HEADERS)
    def get(self, args, tenant_id):
        """A tenant's ticket analytics, over an optional created_at range (inclusive, rounded
        outward to whole hours) and source. 404 for a tenant with no run and no tickets."""
        stats = _service()
        snapshot = stats.snapshot(StatsQuery(tenant_id, args.get("from_date"), args.get("to_date"), args.get("source")))
        headers = {"ETag": quote_etag(snapshot.etag, weak=True), "Cache-Control": CACHE_CONTROL}
        if request.if_none_match.contains_weak(snapshot.etag):
            return current_app.response_class(status=304, headers=headers)
        return stats.compute(snapshot), headers
