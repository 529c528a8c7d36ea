"""Ticket read endpoints: listings with filters, the urgent queue, one ticket, its history.

Every request names its tenant and every read goes through a ``TicketRepository`` built
for that tenant, so a response can only ever hold that tenant's tickets. Tickets are
addressed by their external id; the same id in two tenants is two different tickets.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from .context import get_runtime
from ..errors import NotFound
from ..domain import Sentiment, Urgency
from ..tickets.queries import TicketFilters
from ..tickets.repository import TicketRepository
from .schemas import FullMatch, PageSchema, TenantPageQuerySchema, TenantQuerySchema, Timestamp, page_request

blp = Blueprint("tickets", __name__, url_prefix="/tickets", description="A tenant's tickets (read-only)")

# Free-text filters (status, source) are matched exactly against stored values; the
# charset keeps them printable and unambiguous in a URL (inner spaces allowed, e.g. "on hold").
SAFE_TOKEN_PATTERN = r"^[A-Za-z0-9_.:-](?:[A-Za-z0-9 _.:-]{0,62}[A-Za-z0-9_.:-])?$"
SAFE_TOKEN = FullMatch(SAFE_TOKEN_PATTERN, error="must be 1-64 characters of letters, digits, space, _ . : -")
# The upstream's own bound on ticket ids (ingestion rejects longer ones).
TICKET_ID = validate.Length(min=1, max=128)


def _repository(tenant_id: str) -> TicketRepository:
    return TicketRepository(get_runtime().db, tenant_id)


# -- response schemas (TicketSchema is the one shape of a ticket; reuse it) ---------------
class TicketClassificationSchema(Schema):
    reasons = fields.List(fields.String(), metadata={"description": "Why the rules decided as they did"})
    version = fields.String(metadata={"description": "Version of the rules that classified the ticket"})


class TicketSchema(Schema):
    """A stored ticket as the API shows it: the external id as ``id``, times in UTC with ``Z``,
    the classification; never storage internals."""

    id = fields.String(required=True, attribute="external_id", metadata={"description": "The upstream's ticket id"})
    tenant_id = fields.String(required=True)
    source = fields.String()
    customer_id = fields.String()
    subject = fields.String()
    message = fields.String()
    status = fields.String()
    created_at = Timestamp()
    updated_at = Timestamp()
    urgency = fields.String(metadata={"description": " | ".join(Urgency.values())})
    sentiment = fields.String(metadata={"description": " | ".join(Sentiment.values())})
    requires_action = fields.Boolean()
    keywords = fields.List(fields.String(), metadata={"description": "Terms the classifier matched"})
    classification = fields.Nested(TicketClassificationSchema)
    ingested_at = Timestamp(allow_none=True, metadata={"description": "First stored by this service"})
    synced_at = Timestamp(allow_none=True, metadata={"description": "Last seen upstream by an ingestion run"})


class TicketListSchema(PageSchema):
    tickets = fields.List(fields.Nested(TicketSchema), required=True)


class FieldChangeSchema(Schema):
    old = fields.Raw(allow_none=True)
    new = fields.Raw(allow_none=True)


class HistoryEntrySchema(Schema):
    action = fields.String(required=True, metadata={"description": "created | updated | deleted | restored"})
    changes = fields.Dict(keys=fields.String(), values=fields.Nested(FieldChangeSchema),
                          metadata={"description": "Changed fields: {field: {old, new}}"})
    job_id = fields.String(allow_none=True, metadata={"description": "The ingestion run that recorded it"})
    recorded_at = Timestamp()
    reason = fields.String(metadata={"description": "Why the ticket was deleted (deletions only)"})


class TicketHistorySchema(PageSchema):
    ticket_id = fields.String(required=True)
    history = fields.List(fields.Nested(HistoryEntrySchema), required=True)


# -- request schemas ----------------------------------------------------------------------
class TicketListQuerySchema(TenantPageQuerySchema):
    status = fields.String(validate=SAFE_TOKEN)
    urgency = fields.String(validate=validate.OneOf(Urgency.values()))
    sentiment = fields.String(validate=validate.OneOf(Sentiment.values()))
    source = fields.String(validate=SAFE_TOKEN)
    # Exactly these spellings: "yes", "on", "t" and friends are more likely typos than intent.
    requires_action = fields.Boolean(truthy={"true", "1"}, falsy={"false", "0"},
                                     metadata={"description": "true | false | 1 | 0"})


class TicketPathSchema(Schema):
    ticket_id = fields.String(required=True, validate=TICKET_ID)


# Unknown query parameters are refused, not ignored: a misspelt filter (``urgncy=high``)
# would otherwise silently widen the listing to every ticket.
@blp.route("")
class TicketList(MethodView):
    @blp.arguments(TicketListQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, TicketListSchema)
    def get(self, args):
        """The tenant's live tickets, newest first, filtered and paginated."""
        filters = TicketFilters(status=args.get("status"), urgency=args.get("urgency"),
                                sentiment=args.get("sentiment"), source=args.get("source"),
                                requires_action=args.get("requires_action"))
        page = _repository(args["tenant_id"]).list_live(filters, page_request(args))
        return page.body("tickets")


@blp.route("/urgent")
class UrgentTickets(MethodView):
    @blp.arguments(TenantPageQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, TicketListSchema)
    def get(self, args):
        """The tenant's live high-urgency tickets, newest first, paginated."""
        page = _repository(args["tenant_id"]).list_urgent(page_request(args))
        return page.body("tickets")


@blp.route("/<path:ticket_id>")
class TicketDetail(MethodView):
    @blp.arguments(TenantQuerySchema, location="query", unknown=RAISE)
    @blp.arguments(TicketPathSchema, location="path", as_kwargs=True)
    @blp.response(200, TicketSchema)
    @blp.alt_response(404, description="No live ticket with this id for this tenant")
    def get(self, args, ticket_id):
        """One live ticket by its external id."""
        ticket = _repository(args["tenant_id"]).get_live(ticket_id)
        if ticket is None:
            # One answer for "another tenant's", "deleted" and "never existed": no hint which.
            raise NotFound("Ticket not found")
        return ticket


@blp.route("/<path:ticket_id>/history")
class TicketHistory(MethodView):
    @blp.arguments(TenantPageQuerySchema, location="query", unknown=RAISE)
    @blp.arguments(TicketPathSchema, location="path", as_kwargs=True)
    @blp.response(200, TicketHistorySchema)
    @blp.alt_response(404, description="This tenant never had a ticket with this id")
    def get(self, args, ticket_id):
        """A ticket's history, newest first; also served for a deleted ticket (it says why)."""
        page = _repository(args["tenant_id"]).history(ticket_id, page_request(args))
        if page is None:
            raise NotFound("Ticket not found")
        return {"ticket_id": ticket_id, **page.body("history")}
