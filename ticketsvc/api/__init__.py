"""HTTP layer: one blueprint per area of the API."""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def register_blueprints(api: Api) -> None:
    from . import api_keys, classify, health, ingest, metrics, notifications, stats, tenants, tickets

    for module in (health, ingest, tickets, classify, notifications, tenants, stats, api_keys, metrics):
        api.register_blueprint(module.blp)


def register_pages(app: Flask) -> None:
    """Pages for people (HTML): plain Flask blueprints, not operations of the OpenAPI document."""
    from . import dashboard

    app.register_blueprint(dashboard.bp)
