"""GET /metrics: the Prometheus scrape endpoint (operational: admin keys only, see auth/policy.py)."""
from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from .context import get_runtime

blp = Blueprint("metrics", __name__, description="Prometheus metrics")

_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.response(200, {"type": "string"}, content_type=_CONTENT_TYPE, description=(
        "Prometheus text format (OpenMetrics when the Accept header asks for it), aggregated over "
        "every gunicorn worker; breaker and outbox figures are read from MongoDB at scrape time."))
    def get(self):
        """Metrics of the whole server, for Prometheus to scrape."""
        body, content_type = get_runtime().metrics.render(request.headers.get("Accept"))
        # No caching anywhere: every scrape must see current figures.
        return current_app.response_class(body, status=200, content_type=content_type,
                                          headers={"Cache-Control": "no-store"})
