"""What a ticket from the upstream must look like before it is stored.

Unknown fields (``deleted``, ``deleted_at``, anything new) are ignored, not invalid; a
ticket missing a field or carrying the wrong type is rejected and counted.
"""
from __future__ import annotations

from datetime import datetime, timezone

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from ..domain import TENANT_ID_PATTERN

_TEXT = validate.Length(max=20_000)


class UpstreamTicketSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    tenant_id = fields.String(required=True, validate=validate.Regexp(TENANT_ID_PATTERN))
    source = fields.String(required=True, validate=validate.Length(min=1, max=64))
    customer_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    subject = fields.String(required=True, validate=_TEXT)
    message = fields.String(required=True, validate=_TEXT)
    status = fields.String(required=True, validate=validate.Length(min=1, max=64))
    created_at = fields.AwareDateTime(required=True, default_timezone=timezone.utc)
    updated_at = fields.AwareDateTime(required=True, default_timezone=timezone.utc)


_SCHEMA = UpstreamTicketSchema()


def parse_ticket(raw: object) -> dict | None:
    """The validated ticket (times as aware datetimes), or None if it is not a valid ticket."""
    if not isinstance(raw, dict):
        return None
    # Identifiers may arrive as JSON numbers from an upstream that counts its ids: the
    # same id either way, so read them as text (a bool is not an id).
    for key in ("id", "customer_id"):
        value = raw.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            raw = {**raw, key: str(value)}
    try:
        ticket = _SCHEMA.load(raw)
    except ValidationError:
        return None
    # BSON dates keep milliseconds: compare and store at that precision, or a microsecond
    # timestamp would look "newer" than its own stored copy on every run.
    ticket["created_at"] = _to_millis(ticket["created_at"])
    ticket["updated_at"] = _to_millis(ticket["updated_at"])
    return ticket


def _to_millis(dt: datetime) -> datetime:
    dt = dt.astimezone(timezone.utc)
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)
