"""The application factory: settings in, a wired Flask app out. No work at import time."""
from __future__ import annotations

import logging
import re
import time
import uuid

import swagger_ui_bundle
from flask import Flask, g, request, send_from_directory
from flask_smorest import Api
from werkzeug.exceptions import RequestEntityTooLarge

from .api.context import attach_runtime, get_runtime
from .api.errors import register_error_handlers
from .api.query_guard import install_query_guard
from .auth.docs import AccessDocsPlugin
from .auth.guard import install_access_guard
from .classification import Classifier
from .clock import Clock
from .config import ConfigError, Settings
from .storage import Database
from .storage.bounded import end_read_limit, limit_reads
from .logcontext import bind_log_context, unbind_log_context
from .logging_setup import configure_logging
from .runtime import Runtime

log = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def create_app(settings: Settings | None = None, *, database: Database | None = None,
               clock: Clock | None = None, classifier: Classifier | None = None) -> Flask:
    """Build the app. ``database`` lets tests share one store between several apps
    (several "workers"); ``clock`` lets them move time by hand; ``classifier`` (built from
    the settings' rules) lets them share one instead of loading it per app, which takes
    about a second (it is immutable and thread-safe). Background services are
    not started here: gunicorn's ``post_worker_init`` (or a test) calls
    ``get_runtime(app).start_background()``.
    """
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    app = Flask(__name__)
    app.json.sort_keys = False  # keep the documented field order in responses
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        JSON_SORT_KEYS=False,
        API_TITLE="ticketsvc",
        API_VERSION="1.0.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="/docs/static/",
    )
    runtime = Runtime(settings, database=database, clock=clock, classifier=classifier)
    try:
        runtime.prepare()  # the start-up I/O: storage, and the admin-key check
    except ConfigError:
        runtime.stop()
        raise
    attach_runtime(app, runtime)

    api = Api(app, spec_kwargs={"info": {"description": "Multi-tenant support-ticket service"},
                                "extra_plugins": [AccessDocsPlugin()]})
    register_error_handlers(app)
    _register_request_hooks(app)
    install_access_guard(app)  # after the request id is assigned, before any view
    install_query_guard(app)  # after the access guard: 401/403 come before 422

    from .api import register_blueprints, register_pages

    register_blueprints(api)
    register_pages(app)

    @app.get("/docs/static/<path:filename>")
    def swagger_static(filename: str):
        # Swagger UI is served by the service itself: /docs works with no network.
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=3600)

    log.info("app created engine=%s auth_mode=%s external_api=%s",
             settings.engine, settings.auth_mode, settings.external_api_url)
    if settings.auth_mode == "off":
        log.warning("AUTH_MODE=off: every endpoint is open; use only for local demos and tests")
    return app


def _register_request_hooks(app: Flask) -> None:
    access = logging.getLogger("ticketsvc.access")
    metrics = get_runtime(app).metrics
    max_time_ms = get_runtime(app).settings.mongo_max_time_ms

    @app.before_request
    def assign_request_id():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex[:16]
        # Every line logged while serving it names the request (also from services, which
        # never see Flask); work it hands to other threads carries it with capture_log_context().
        g.log_context_token = bind_log_context(request_id=g.request_id)
        g.started = time.perf_counter()
        metrics.request_started()
        g.counted_in_progress = True

    @app.before_request
    def bound_database_reads():
        # Every read this request makes (the key lookup included) carries maxTimeMS; one
        # that exceeds it is a 503 with Retry-After (storage/bounded.py), never a 500.
        g.read_limit = limit_reads(max_time_ms)

    @app.before_request
    def refuse_oversized_body():
        # Flask enforces MAX_CONTENT_LENGTH only when a view reads the body: an endpoint
        # that ignores its body (POST /ingest/run, any GET) would accept, and the server
        # drain, a body of any declared size. Refuse it before anything else runs.
        if request.content_length is not None and request.content_length > app.config["MAX_CONTENT_LENGTH"]:
            raise RequestEntityTooLarge()

    @app.after_request
    def log_request(response):
        response.headers["X-Request-ID"] = g.get("request_id", "-")
        elapsed_s = time.perf_counter() - g.get("started", time.perf_counter())
        access.info("%s %s %s %.1fms", request.method, request.path, response.status_code, elapsed_s * 1000.0,
                    extra={"fields": {"method": request.method, "path": request.path,
                                      "status": response.status_code, "duration_ms": round(elapsed_s * 1000.0, 1)}})
        # Labelled by the route template, never the raw path: ids in paths would make
        # every ticket a new time series.
        metrics.observe_request(request.method, request.url_rule.rule if request.url_rule else None,
                                request.endpoint, response.status_code, elapsed_s)
        return response

    @app.teardown_request
    def release_read_limit(_error):
        token = g.pop("read_limit", None)
        if token is not None:
            end_read_limit(token)

    @app.teardown_request
    def finish_in_progress(_error):
        # teardown runs for every request that began, also when a hook or a view raised.
        if g.pop("counted_in_progress", False):
            metrics.request_finished()
        token = g.pop("log_context_token", None)
        if token is not None:
            unbind_log_context(token)
