"""Ingestion endpoints: start a run, watch it, cancel it, read the audit trail."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from .context import get_runtime
from ..ingestion.job import JobStatus, StopReason, Trigger, progress
from ..ingestion.modes import SyncMode
from .schemas import FullMatch, PageSchema, TenantPageQuerySchema, TenantQuerySchema, Timestamp, page_request

blp = Blueprint("ingest", __name__, url_prefix="/ingest", description="Ingestion runs")

JOB_ID = FullMatch(r"^[A-Za-z0-9_-]{1,64}$", error="must be a job id")


def _service():
    return get_runtime().ingestion


class CountsSchema(Schema):
    fetched = fields.Integer()
    new = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    deleted = fields.Integer()
    restored = fields.Integer()
    foreign_tenant = fields.Integer()
    invalid = fields.Integer()
    notifications_queued = fields.Integer()


class HttpFiguresSchema(Schema):
    calls = fields.Integer()
    retries = fields.Integer()
    rate_limited = fields.Integer()
    waited_s = fields.Float()


class WaitingSchema(Schema):
    reason = fields.String(metadata={"description": "rate_limit | backoff"})
    until = Timestamp()


MODES = " | ".join(m.value for m in SyncMode)


class FeedSchema(Schema):
    available = fields.Boolean(allow_none=True, metadata={"description": "whether the upstream's change feed served"})
    since = fields.String(allow_none=True, metadata={"description": "a feed walk's start (upstream time)"})
    as_of = fields.String(allow_none=True, metadata={"description": "the feed's as_of on its latest page"})
    position = fields.String(allow_none=True, metadata={"description": "the latest change a feed walk read"})


class JobSchema(Schema):
    """An ingestion run: the job and its audit record in one."""

    job_id = fields.String(required=True)
    tenant_id = fields.String(required=True)
    trigger = fields.String(metadata={"description": " | ".join(t.value for t in Trigger)})
    status = fields.String(required=True, metadata={
        "description": " | ".join(s.value for s in JobStatus)})
    cancel_requested = fields.Boolean()
    stop_reason = fields.String(allow_none=True, metadata={
        "description": "why the run stopped early: " + " | ".join(r.value for r in StopReason) + " (else null)"})
    stopped_early = fields.String(allow_none=True, metadata={
        "description": "why a run that ended did not see every page (page loop | page limit), else null; "
                       "such a run deletes nothing"})
    waiting = fields.Nested(WaitingSchema, allow_none=True, metadata={
        "description": "while the run waits on the upstream's rate limit or a backoff: why and until when"})
    mode = fields.String(allow_none=True, metadata={"description": MODES})
    mode_reason = fields.String(allow_none=True, metadata={"description": "why this mode (a fall back says so)"})
    feed = fields.Nested(FeedSchema, allow_none=True)
    progress = fields.Integer(metadata={
        "description": "0-100; a feed walk (total_pages null) measures its position between since and as_of"})
    total_pages = fields.Integer(allow_none=True)
    processed_pages = fields.Integer()
    counts = fields.Nested(CountsSchema)
    http = fields.Nested(HttpFiguresSchema)
    started_at = Timestamp(allow_none=True)
    heartbeat_at = Timestamp(allow_none=True)
    ended_at = Timestamp(allow_none=True)
    duration_s = fields.Float(allow_none=True)
    error = fields.String(allow_none=True)


def job_view(record: dict | None) -> dict | None:
    """A record as the API shows it, with ``progress`` derived from the page counts."""
    if record is None:
        return None
    return {**record, "progress": progress(record)}


class StartedSchema(Schema):
    job_id = fields.String(required=True)
    tenant_id = fields.String(required=True)
    status = fields.String(required=True)


class ConflictSchema(Schema):
    code = fields.Integer()
    status = fields.String()
    message = fields.String()
    job_id = fields.String(metadata={"description": "the job holding the tenant's lock"})
    tenant_id = fields.String()


class SyncStateSchema(Schema):
    """How the tenant is synced: the next run's mode, the last complete run, the feed's cursor."""

    next_run_mode = fields.String(metadata={"description": MODES})
    next_run_reason = fields.String()
    last_run_mode = fields.String(allow_none=True)
    last_complete_run_at = Timestamp(allow_none=True)
    last_complete_run_mode = fields.String(allow_none=True)
    last_complete_job_id = fields.String(allow_none=True)
    last_full_sync_at = Timestamp(allow_none=True)
    next_full_sync_at = Timestamp(allow_none=True)
    feed_available = fields.Boolean(allow_none=True)
    feed_as_of = Timestamp(allow_none=True, metadata={"description": "the change feed's cursor (upstream time)"})
    next_sync_at = Timestamp(allow_none=True)


class StatusSchema(Schema):
    tenant_id = fields.String(required=True)
    running = fields.Boolean(required=True)
    job = fields.Nested(JobSchema, allow_none=True)
    sync = fields.Nested(SyncStateSchema)


class JobPathSchema(Schema):
    job_id = fields.String(required=True, validate=JOB_ID)


class CancelSchema(Schema):
    job_id = fields.String(required=True)
    status = fields.String(required=True)


class LogsSchema(PageSchema):
    logs = fields.List(fields.Nested(JobSchema), required=True)


class RunQuerySchema(TenantQuerySchema):
    trigger = fields.String(load_default="api", validate=validate.OneOf([Trigger.API.value, Trigger.CLI.value]),
                            metadata={"description": "who asked: api (default) or cli"})


@blp.route("/run")
class Run(MethodView):
    @blp.arguments(RunQuerySchema, location="query", unknown=RAISE)
    @blp.response(202, StartedSchema)
    @blp.alt_response(409, schema=ConflictSchema, description="A job holds the tenant's lock")
    @blp.alt_response(503, description="This worker's ingestion pool is full")
    def post(self, args):
        """Start ingesting a tenant's tickets; 409 with the running job's id if one runs."""
        record = _service().start(args["tenant_id"], trigger=args["trigger"])
        return {"job_id": record["job_id"], "tenant_id": record["tenant_id"], "status": record["status"]}


@blp.route("/status")
class Status(MethodView):
    @blp.arguments(TenantQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, StatusSchema)
    def get(self, args):
        """Is a job running for the tenant? The running job, or the last one."""
        status = _service().status(args["tenant_id"])
        status["job"] = job_view(status["job"])
        return status


@blp.route("/progress/<job_id>")
class Progress(MethodView):
    @blp.arguments(JobPathSchema, location="path", as_kwargs=True)
    @blp.response(200, JobSchema)
    def get(self, job_id):
        """A job's status and progress (0-100); 404 if unknown."""
        return job_view(_service().get(job_id))


@blp.route("/<job_id>")
class Cancel(MethodView):
    @blp.arguments(JobPathSchema, location="path", as_kwargs=True)
    @blp.response(202, CancelSchema)
    @blp.alt_response(404, description="Unknown job")
    @blp.alt_response(409, description="The job already ended")
    def delete(self, job_id):
        """Ask a running job to stop; it keeps what it stored and ends ``cancelled``."""
        return _service().cancel(job_id)


@blp.route("/logs")
class Logs(MethodView):
    @blp.arguments(TenantPageQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, LogsSchema)
    def get(self, args):
        """The tenant's ingestion runs (audit records), newest first."""
        page = _service().logs(args["tenant_id"], page_request(args))
        return page.body("logs", [job_view(r) for r in page.items])

