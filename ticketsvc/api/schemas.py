"""Marshmallow schemas shared by every blueprint: tenant ids, paging, time fields."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..config import TENANT_ID_PATTERN

TENANT_ID = validate.Regexp(TENANT_ID_PATTERN, error="must match " + TENANT_ID_PATTERN.replace("{", "{{").replace("}", "}}"))
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


class PageSchema(Schema):
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


class Timestamp(fields.DateTime):
    """ISO 8601 UTC with ``Z`` on output: the API's one time format."""

    def _serialize(self, value, attr, obj, **kwargs):
        from ..clock import isoformat_z

        return isoformat_z(value) if value is not None else None
