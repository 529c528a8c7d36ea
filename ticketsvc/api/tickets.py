"""Ticket read endpoints: listings with filters, the export, the urgent queue, one ticket,
its history.

Every request names its tenant and every read goes through a ``TicketRepository`` built
for that tenant, so a response can only ever hold that tenant's tickets. Tickets are
addressed by their external id; the same id in two tenants is two different tickets.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Iterable, Iterator
from urllib.parse import urlencode

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from .context import get_runtime
from ..classification import TEMPLATED_SIGNAL, Classifier
from ..errors import NotFound
from ..domain import Page, Sentiment, TicketSource, TicketStatus, Urgency
from ..tickets.queries import MAX_SEARCH_WORDS, TicketFilters
from ..tickets.repository import TicketRepository
from .schemas import (FullMatch, PageQuerySchema, PageSchema, TenantPageQuerySchema, TenantQuerySchema,
                      Timestamp, check_range, created_bounds, page_request)

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
    keywords = fields.List(fields.String(), metadata={
        "description": "The customer's own words that decided the classification, in lower case"})
    signals = fields.List(fields.String(), metadata={
        "description": "The rule categories that stand (e.g. refund, outage); see the signal filter"})
    classification = fields.Nested(TicketClassificationSchema)
    ingested_at = Timestamp(allow_none=True, metadata={"description": "First stored by this service"})
    synced_at = Timestamp(allow_none=True, metadata={"description": "Last seen upstream by an ingestion run"})


class TicketListSchema(PageSchema):
    tickets = fields.List(fields.Nested(TicketSchema), required=True)


class TicketFilteredListSchema(TicketListSchema):
    next = fields.String(required=True, allow_none=True, metadata={
        "description": "The next page: this request's path and query with the page after this one "
                       "(a URL relative to the service's root), or null on the last page"})


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
def _vocabulary(known: tuple[str, ...]) -> str:
    return " | ".join(known) + " (the upstream's documented values), or another value this tenant's tickets hold"


def _search_words(value: str) -> None:
    try:
        TicketFilters(q=value)
    except ValueError:
        raise ValidationError(f"must hold 1 to {MAX_SEARCH_WORDS} words (letters, digits, _)") from None


def signal_names(classifier: Classifier) -> tuple[str, ...]:
    """Every signal the engine can give: its rules' categories, then the templated one."""
    return (*sorted(classifier.rules.categories), TEMPLATED_SIGNAL)


def _known_signal(value: str) -> None:
    # The running engine's names (an operator's rules file may have other categories).
    known = signal_names(get_runtime().classifier)
    if value not in known:
        raise ValidationError(f"unknown signal {value!r}: one of {', '.join(known)}")


class TicketFilterQuerySchema(TenantQuerySchema):
    """The filters of a listing and of an export (``TicketFilters`` says what each means)."""

    status = fields.String(validate=SAFE_TOKEN, metadata={"description": _vocabulary(TicketStatus.values())})
    urgency = fields.String(validate=validate.OneOf(Urgency.values()))
    sentiment = fields.String(validate=validate.OneOf(Sentiment.values()))
    source = fields.String(validate=SAFE_TOKEN, metadata={"description": _vocabulary(TicketSource.values())})
    # Exactly these spellings: "yes", "on", "t" and friends are more likely typos than intent.
    requires_action = fields.Boolean(truthy={"true", "1"}, falsy={"false", "0"},
                                     metadata={"description": "true | false | 1 | 0"})
    customer_id = fields.String(validate=validate.Length(min=1, max=128), metadata={
        "description": "Only this customer's tickets"})
    open = fields.Boolean(truthy={"true", "1"}, falsy={"false", "0"}, metadata={
        "description": "true: the backlog (status neither resolved nor closed); false: the rest"})
    created_from, created_to = created_bounds()
    q = fields.String(validate=[validate.Length(min=1, max=200), _search_words], metadata={
        "description": f"Words that must all appear in the subject or the message (1 to {MAX_SEARCH_WORDS}). "
                       "A word is a run of letters, digits and _; case and accents do not count; no "
                       "stemming (\"refund\" does not find \"refunds\"); other characters separate words."})
    keyword = fields.String(validate=validate.Length(min=1, max=200), metadata={
        "description": "Only tickets with this keyword, compared exactly with the stored ones (as a ticket or "
                       "top_keywords shows them): keywords are stored in lower case and case counts here, "
                       "so \"Refund\" finds nothing where \"refund\" does; a phrase keeps its inner spaces "
                       "(\"not received\")."})
    signal = fields.String(validate=_known_signal, metadata={
        "description": "Only tickets with this signal: one of the classifier's rule categories (access_problem, "
                       "billing_problem, outage, refund, ...: the README lists them) or templated; any other "
                       "name is a 422 listing the known ones."})

    @validates_schema
    def created_in_order(self, data, **kwargs):
        check_range(data, "created_from", "created_to")


class TicketListQuerySchema(TicketFilterQuerySchema, PageQuerySchema):
    pass


EXPORT_FORMATS = {"ndjson": "application/x-ndjson", "csv": "text/csv"}


class TicketExportQuerySchema(TicketFilterQuerySchema):
    format = fields.String(load_default="ndjson", validate=validate.OneOf(list(EXPORT_FORMATS)),
                           metadata={"description": "ndjson (one ticket per line, as the listing shows it) | csv"})


def _filters(args: dict) -> TicketFilters:
    return TicketFilters(**{name: args.get(name) for name in TicketFilters.__dataclass_fields__})


def _next_url(page: Page) -> str | None:
    """This request's URL with the next page, or None on the last page."""
    if not page.has_next:
        return None
    query = [(name, value) for name, value in request.args.items(multi=True) if name != "page"]
    return f"{request.path}?{urlencode(query + [('page', str(page.page + 1))])}"


class TicketPathSchema(Schema):
    ticket_id = fields.String(required=True, validate=TICKET_ID)


# Unknown query parameters are refused, not ignored: a misspelt filter (``urgncy=high``)
# would otherwise silently widen the listing to every ticket.
@blp.route("")
class TicketList(MethodView):
    @blp.arguments(TicketListQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, TicketFilteredListSchema)
    def get(self, args):
        """The tenant's live tickets, newest first (external id breaking ties), filtered and paginated."""
        page = _repository(args["tenant_id"]).list_live(_filters(args), page_request(args))
        return page.body("tickets", next=_next_url(page))


@blp.route("/export")
class TicketExport(MethodView):
    @blp.arguments(TicketExportQuerySchema, location="query", unknown=RAISE)
    @blp.doc(responses={"200": {
        "description": "Every matching live ticket, in the listing's order, streamed",
        "content": {mimetype: {"schema": {"type": "string"}} for mimetype in EXPORT_FORMATS.values()}}})
    def get(self, args):
        """Every live ticket matching the filters (the listing's), streamed as NDJSON or CSV.

        Read from storage a batch at a time and written as it is read, so memory does not
        grow with the number of tickets."""
        tickets = _repository(args["tenant_id"]).iter_live(_filters(args))
        export_format = args["format"]
        lines = _ndjson(tickets) if export_format == "ndjson" else _csv(tickets)
        # A plain generator: it needs no request context (the repository and the filters are
        # built above), so the context is not held open while a slow client reads.
        return Response(_in_chunks(lines), mimetype=EXPORT_FORMATS[export_format], headers={
            "Content-Disposition": f'attachment; filename="tickets-{args["tenant_id"]}.{export_format}"',
            "Cache-Control": "no-store"})


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


# -- export formats ------------------------------------------------------------------------
CSV_COLUMNS = ("id", "tenant_id", "source", "customer_id", "subject", "message", "status", "created_at",
               "updated_at", "urgency", "sentiment", "requires_action", "keywords", "signals",
               "classification_version", "ingested_at", "synced_at")
# A cell opening with one of these is a formula to a spreadsheet (CSV injection): the
# customer wrote the subject and message, so such a cell is prefixed with a quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# Bytes handed to the server at a time: one write per ticket would be 100,000 writes.
EXPORT_CHUNK_CHARS = 64 * 1024


def _in_chunks(lines: Iterable[str]) -> Iterator[str]:
    """``lines`` joined into pieces of about ``EXPORT_CHUNK_CHARS`` (whole lines only)."""
    pending: list[str] = []
    size = 0
    for line in lines:
        pending.append(line)
        size += len(line)
        if size >= EXPORT_CHUNK_CHARS:
            yield "".join(pending)
            pending, size = [], 0
    if pending:
        yield "".join(pending)


def _ndjson(tickets: Iterable[dict]) -> Iterator[str]:
    schema = TicketSchema()
    for ticket in tickets:
        yield json.dumps(schema.dump(ticket), ensure_ascii=False) + "\n"


def _csv_cell(value) -> str:
    text = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv(tickets: Iterable[dict]) -> Iterator[str]:
    """RFC 4180 rows: a header, then one row per ticket; keywords and signals joined with "; "."""
    schema = TicketSchema()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def row(values) -> str:
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield row(CSV_COLUMNS)
    for ticket in tickets:
        shown = schema.dump(ticket)
        for name in ("keywords", "signals"):
            shown[name] = "; ".join(shown.get(name) or [])
        shown["classification_version"] = (shown.get("classification") or {}).get("version")
        yield row(_csv_cell(shown.get(column)) for column in CSV_COLUMNS)
