"""MockUpstreamServer: the mock on a free localhost port, for tests of the service."""
from __future__ import annotations

import threading

import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from .app import create_app
from .clock import FakeClock
from .config import MockConfig

__all__ = ["FakeClock", "MockUpstreamServer"]

# How often the serving loop checks for shutdown: bounds how long stop() takes.
_POLL_INTERVAL_S = 0.01


class _QuietRequestHandler(WSGIRequestHandler):
    """No access log line per request (tests make thousands); errors are still logged."""

    def log_request(self, code="-", size="-") -> None:
        pass


class MockUpstreamServer:
    """Serves ``create_app(config, clock)`` on 127.0.0.1 (a free port) in a daemon thread,
    started on construction. Use as a context manager or call ``stop()``."""

    def __init__(self, config: MockConfig | None = None, clock=None, host: str = "127.0.0.1", port: int = 0):
        self.app = create_app(config, clock)
        self.upstream = self.app.extensions["mock"]
        self._server = make_server(host, port, self.app, threaded=True, request_handler=_QuietRequestHandler)
        self.host = host
        self.port = self._server.port
        self.url = f"http://{host}:{self.port}"
        self._session = requests.Session()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": _POLL_INTERVAL_S},
            name=f"mock-upstream:{self.port}", daemon=True,
        )
        self._thread.start()
        self._stopped = False

    def admin(self, method: str, path: str, json=None, timeout: float = 10.0) -> dict:
        """Call an admin endpoint (``/admin/reset`` or just ``reset``); returns the JSON body,
        raises requests.HTTPError on an error status."""
        if not path.startswith("/"):
            path = "/admin/" + path
        response = self._session.request(method, self.url + path, json=json, timeout=timeout)
        response.raise_for_status()
        return response.json()

    def report(self) -> dict:
        return self.admin("GET", "/admin/report")

    def stop(self) -> None:
        """Stop serving and free the port; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()
        self._session.close()

    def __enter__(self) -> "MockUpstreamServer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
