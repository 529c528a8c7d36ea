"""What a ticket from the upstream must look like before it is stored.

Unknown fields (``deleted``, ``deleted_at``, anything new) are ignored, not invalid; a
ticket missing a field, carrying the wrong type or size, or dated where storage cannot
hold it or no ticket can be (``0001-01-01T00:00:00+01:00`` parses, but lies before year 1
in UTC; year 9999 is no ticket's) is rejected and counted: one invalid ticket, never a
failed run.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from ..domain import TENANT_ID_PATTERN

log = logging.getLogger(__name__)

_TEXT = validate.Length(max=20_000)
DATE_FIELDS = ("created_at", "updated_at")
MAX_DATE_CHARS = 64  # the longest ISO 8601 form is about 35 characters
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)  # no support ticket predates the epoch
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)  # nor is dated two centuries ahead


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
        for key in DATE_FIELDS:  # parse no megabyte-long "date"
            if isinstance(raw.get(key), str) and len(raw[key]) > MAX_DATE_CHARS:
                raise ValidationError(f"{key} is longer than {MAX_DATE_CHARS} characters", key)
        ticket = _SCHEMA.load(raw)
        # BSON dates keep milliseconds: compare and store at that precision, or a microsecond
        # timestamp would look "newer" than its own stored copy on every run.
        for key in DATE_FIELDS:
            ticket[key] = _storable(_to_millis(ticket[key]), key)
    except (ValidationError, OverflowError) as exc:
        log.info("invalid upstream ticket id=%r: %s", str(raw.get("id"))[:128], str(exc)[:300])
        return None
    return ticket


def _storable(dt: datetime, key: str) -> datetime:
    if not EARLIEST <= dt < LATEST:
        raise ValidationError(f"{key} {dt.isoformat()} is outside {EARLIEST.year}..{LATEST.year - 1}", key)
    return dt


def _to_millis(dt: datetime) -> datetime:
    dt = dt.astimezone(timezone.utc)
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)
