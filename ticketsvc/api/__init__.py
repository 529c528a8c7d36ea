"""HTTP layer: one blueprint per area of the API."""
from __future__ import annotations

from flask_smorest import Api


def register_blueprints(api: Api) -> None:
    from . import health, ingest

    for module in (health, ingest):
        api.register_blueprint(module.blp)
