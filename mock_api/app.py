"""The mock upstream's app factory."""
from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from .config import ConfigError, MockConfig
from .errors import MockApiError
from .routes import admin, external, health, notify
from .upstream import MockUpstream


def create_app(config: MockConfig | None = None, clock=None) -> Flask:
    """A Flask app playing the external ticket API, its state in ``app.extensions["mock"]``.

    ``clock`` has ``now()`` (epoch seconds or an aware datetime) and optionally
    ``sleep(seconds)``; the default is the system clock. Raises ConfigError for bad config.
    """
    app = Flask(__name__)
    app.json.sort_keys = False
    app.extensions["mock"] = MockUpstream(config or MockConfig(), clock)
    for blueprint in (external, notify, admin, health):
        app.register_blueprint(blueprint)
    _register_error_handlers(app)
    return app


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(MockApiError)
    def mock_error(exc: MockApiError):
        return jsonify(error=exc.message), exc.status

    @app.errorhandler(ConfigError)
    def config_error(exc: ConfigError):
        return jsonify(error=str(exc)), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify(error=exc.description or exc.name), exc.code
