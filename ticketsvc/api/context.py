"""Where a Flask app keeps its ``Runtime``: one typed accessor instead of a string key."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:
    from ..runtime import Runtime

_EXTENSION = "ticketsvc"


def attach_runtime(app: Flask, runtime: "Runtime") -> None:
    app.extensions[_EXTENSION] = runtime


def get_runtime(app: Flask | None = None) -> "Runtime":
    """The runtime of ``app`` (default: the app handling the current request)."""
    return (app if app is not None else current_app).extensions[_EXTENSION]


def has_runtime(app: object) -> bool:
    """True when ``app`` is a Flask app with a runtime attached (gunicorn's worker hooks
    also run for a worker that failed before the app was built)."""
    return _EXTENSION in getattr(app, "extensions", {})
