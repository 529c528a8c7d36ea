"""Key management (admin keys only, per the access policy): create, list, revoke API keys."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from .context import get_runtime
from ..auth.guard import current_actor
from ..auth.keys import KEY_ID_PATTERN, NAME_MAX_CHARS
from .schemas import TENANT_ID, FullMatch, JsonBoolean, PageQuerySchema, PageSchema, Timestamp, page_request

blp = Blueprint("api_keys", __name__, url_prefix="/admin/api-keys",
                description="API keys: tenant keys reach one tenant, admin keys everything")


def _store():
    return get_runtime().api_keys


def _printable(value: str) -> None:
    if not value.strip() or not value.isprintable():
        raise ValidationError("must be printable and not blank")


class CreateKeySchema(Schema):
    tenant_id = fields.String(validate=TENANT_ID, metadata={"description": "A key for this tenant only"})
    admin = JsonBoolean(metadata={
        "description": "true: an admin key (every tenant, key management, operations)"})
    name = fields.String(required=True, validate=[validate.Length(min=1, max=NAME_MAX_CHARS), _printable],
                         metadata={"description": "Who or what the key is for"})

    @validates_schema
    def one_scope(self, data, **kwargs):
        if data.get("admin") and "tenant_id" in data:
            raise ValidationError("give either tenant_id or admin: true, not both", field_name="admin")
        if not data.get("admin") and "tenant_id" not in data:
            raise ValidationError("a tenant id, or admin: true", field_name="tenant_id")


class ApiKeySchema(Schema):
    """A key as listings show it: never the secret, never its hash."""

    key_id = fields.String(required=True)
    name = fields.String(required=True)
    tenant_id = fields.String(allow_none=True, metadata={"description": "null for admin keys"})
    admin = fields.Boolean(required=True)
    created_at = Timestamp(required=True)
    last_used_at = Timestamp(allow_none=True, metadata={"description": "Refreshed at most once a minute"})
    revoked_at = Timestamp(allow_none=True)


class CreatedKeySchema(Schema):
    key_id = fields.String(required=True)
    key = fields.String(required=True, metadata={
        "description": "The secret: shown this once, only its SHA-256 hash is stored"})
    tenant_id = fields.String(allow_none=True, metadata={"description": "null for admin keys"})
    admin = fields.Boolean(required=True)
    name = fields.String(required=True)
    created_at = Timestamp(required=True)


class ApiKeyListSchema(PageSchema):
    keys = fields.List(fields.Nested(ApiKeySchema), required=True)


class ApiKeyListQuerySchema(PageQuerySchema):
    tenant_id = fields.String(validate=TENANT_ID, metadata={"description": "Only this tenant's keys"})


class KeyPathSchema(Schema):
    key_id = fields.String(required=True, validate=FullMatch(KEY_ID_PATTERN, error="must be a key id"))


@blp.route("")
class ApiKeys(MethodView):
    @blp.arguments(ApiKeyListQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, ApiKeyListSchema)
    def get(self, args):
        """Every key, revoked ones included (see ``revoked_at``), newest first, paginated."""
        return _store().list(page_request(args), args.get("tenant_id")).body("keys")

    @blp.arguments(CreateKeySchema)
    @blp.response(201, CreatedKeySchema)
    def post(self, body):
        """Create a key; the response is the only time its secret is shown."""
        record, secret = _store().create(name=body["name"], tenant_id=body.get("tenant_id"),
                                         admin=bool(body.get("admin")), actor=current_actor())
        return {**record, "key": secret}


@blp.route("/<key_id>")
class ApiKey(MethodView):
    @blp.arguments(KeyPathSchema, location="path", as_kwargs=True)
    @blp.response(200, ApiKeySchema)
    @blp.alt_response(404, description="Unknown key")
    @blp.alt_response(409, description="The last admin key, and no ADMIN_API_KEY is configured")
    def delete(self, key_id):
        """Revoke a key: refused on the very next request, on every worker. Idempotent."""
        return _store().revoke(key_id, actor=current_actor())
