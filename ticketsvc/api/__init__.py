"""HTTP layer: one blueprint per area of the API."""
from __future__ import annotations

from flask_smorest import Api


def register_blueprints(api: Api) -> None:
    from . import api_keys, classify, health, ingest, notifications, stats, tickets

    for module in (health, ingest, tickets, classify, notifications, stats, api_keys):
        api.register_blueprint(module.blp)
