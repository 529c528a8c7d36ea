"""The known tenants: ``GET /tenants``, ``GET /tenants/{T}``, ``PATCH /tenants/{T}``.

A tenant key sees only its own tenant (in the listing too); switching a tenant's periodic
sync is for admins (``auth/policy.py``). ``/tenants/{T}/stats`` is the stats blueprint's.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields

from ..auth.guard import current_principal
from ..tenants import TenantDirectory
from .context import get_runtime
from .schemas import JsonBoolean, PageQuerySchema, PageSchema, Timestamp, page_request, tenant_id_field

blp = Blueprint("tenants", __name__, url_prefix="/tenants", description="Known tenants and their sync")


def _directory() -> TenantDirectory:
    runtime = get_runtime()
    return TenantDirectory(runtime.db, runtime.settings)


class LastRunSchema(Schema):
    job_id = fields.String(required=True)
    status = fields.String(required=True, metadata={
        "description": "running | completed | failed | cancelled | abandoned"})
    trigger = fields.String(metadata={"description": "api | schedule | cli"})
    mode = fields.String(allow_none=True, metadata={
        "description": "full | incremental (null when the run did not record one)"})
    started_at = Timestamp()
    ended_at = Timestamp(allow_none=True)


class TenantSchema(Schema):
    tenant_id = fields.String(required=True)
    sync_enabled = fields.Boolean(required=True, metadata={
        "description": "false: the periodic sync skips this tenant (runs can still be started by hand)"})
    live_tickets = fields.Integer(required=True, metadata={"description": "Stored tickets not soft-deleted"})
    last_run = fields.Nested(LastRunSchema, required=True, allow_none=True, metadata={
        "description": "The newest run, whatever its outcome; null before any"})
    last_complete_run_at = Timestamp(required=True, allow_none=True, metadata={
        "description": "When the newest completed run ended; null before one"})
    next_sync_at = Timestamp(required=True, allow_none=True, metadata={
        "description": "When the periodic sync is next due; null when sync is off for this tenant "
                       "or periodic sync is off (SYNC_INTERVAL_S=0)"})
    first_seen_at = Timestamp(allow_none=True)


class TenantListSchema(PageSchema):
    tenants = fields.List(fields.Nested(TenantSchema), required=True)


class TenantPathSchema(Schema):
    tenant_id = tenant_id_field()


class TenantPatchSchema(Schema):
    sync_enabled = JsonBoolean(required=True, metadata={"description": "JSON true or false"})


@blp.route("")
class Tenants(MethodView):
    @blp.arguments(PageQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, TenantListSchema)
    def get(self, args):
        """Every known tenant (a tenant key: its own only), by id, with its sync state and last run."""
        principal = current_principal()
        only = principal.tenant_id if principal is not None and not principal.admin else None
        return _directory().list(page_request(args), only=only).body("tenants")


@blp.route("/<tenant_id>")
class Tenant(MethodView):
    @blp.arguments(TenantPathSchema, location="path", as_kwargs=True)
    @blp.response(200, TenantSchema)
    @blp.alt_response(404, description="No ingestion run has ever started for this tenant")
    def get(self, tenant_id):
        """One known tenant, with its sync state and last run."""
        return _directory().describe(tenant_id)


# Its own view (and endpoint) on the same URL: the access policy is per endpoint, and
# reading a tenant is for its keys while switching its sync is for admins.
@blp.route("/<tenant_id>")
class TenantSync(MethodView):
    @blp.arguments(TenantPathSchema, location="path", as_kwargs=True)
    @blp.arguments(TenantPatchSchema)
    @blp.response(200, TenantSchema)
    @blp.alt_response(404, description="No ingestion run has ever started for this tenant")
    def patch(self, body, tenant_id):
        """Switch a tenant's periodic sync on or off (e.g. off for a tenant a typo created)."""
        return _directory().set_sync_enabled(tenant_id, body["sync_enabled"])
