"""Marshmallow schemas shared by every blueprint: tenant ids, paging, time fields."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

from marshmallow import Schema, ValidationError, fields, validate

from ..domain import TENANT_ID_PATTERN, PageRequest


class FullMatch(validate.Regexp):
    """``validate.Regexp`` that needs the whole value to match. Python's ``$`` also matches
    before a trailing newline, so ``^...$`` alone lets ``"tenant_a\n"`` through as a distinct
    tenant (its own lock, runs, and a row in ``tenants`` re-synced forever). The pattern is
    still published in /openapi.json, where ``$`` has its strict (ECMA 262) meaning."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


TENANT_ID = FullMatch(TENANT_ID_PATTERN, error="must match " + TENANT_ID_PATTERN.replace("{", "{{").replace("}", "}}"))
MAX_PAGE = 1_000_000


def tenant_id_field(**kwargs) -> fields.String:
    return fields.String(required=True, validate=TENANT_ID,
                         metadata={"description": "Tenant id, " + TENANT_ID_PATTERN}, **kwargs)


class TenantQuerySchema(Schema):
    tenant_id = tenant_id_field()


class PageQuerySchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class TenantPageQuerySchema(TenantQuerySchema, PageQuerySchema):
    pass


def page_request(args: dict) -> PageRequest:
    """The page a listing's parsed ``page``/``page_size`` arguments ask for."""
    return PageRequest(page=args["page"], page_size=args["page_size"])


class PageSchema(Schema):
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


class Timestamp(fields.DateTime):
    """ISO 8601 UTC with ``Z`` on output: the API's one time format."""

    def _serialize(self, value, attr, obj, **kwargs):
        from ..clock import isoformat_z

        return isoformat_z(value) if value is not None else None


class CreatedBound(fields.String):
    """An ISO 8601 date or date-time, loaded as an aware UTC datetime at millisecond
    precision (what BSON stores). A time without a zone is UTC. A date alone is that UTC
    day's first millisecond, or with ``end_of_day`` its last, so that an inclusive
    ``to_date=2026-03-01`` covers the whole day."""

    default_error_messages = {"invalid": "Not a valid ISO 8601 date or date-time."}

    def __init__(self, *, end_of_day: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.end_of_day = end_of_day

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            try:
                day = date.fromisoformat(text)
            except ValueError:
                moment = datetime.fromisoformat(text)
            else:
                moment = datetime.combine(day, time.max if self.end_of_day else time.min)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            moment = moment.astimezone(timezone.utc)
        except (ValueError, OverflowError):  # OverflowError: a zone pushing year 1 or 9999 out of range
            raise self.make_error("invalid") from None
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def created_bounds() -> tuple[CreatedBound, CreatedBound]:
    """The inclusive ``created_at`` bounds of a range filter: (from, to) fields."""
    return (
        CreatedBound(metadata={
            "description": "Only tickets created at or after this instant. ISO 8601 date or date-time; "
                           "no zone means UTC; a date alone means the start of that UTC day.",
            "example": "2026-03-01"}),
        CreatedBound(end_of_day=True, metadata={
            "description": "Only tickets created at or before this instant. ISO 8601 date or date-time; "
                           "no zone means UTC; a date alone means the end of that UTC day.",
            "example": "2026-03-31T23:59:59Z"}),
    )


def check_range(data: dict, low: str, high: str) -> None:
    """Refuse a range whose ``low`` bound is after its ``high`` one (both inclusive)."""
    if low in data and high in data and data[low] > data[high]:
        raise ValidationError(f"must not be later than {high}", field_name=low)


class JsonBoolean(fields.Boolean):
    """Only JSON ``true``/``false``: a "yes" or a 1 is more likely a mistake than a wish
    (for an admin key, or to switch a tenant's sync)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value
