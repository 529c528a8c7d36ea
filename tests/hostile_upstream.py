"""Small hostile upstreams: real HTTP servers on free localhost ports that misbehave at the
HTTP level on purpose (trickle, never end, bomb, flood, redirect, rate-limit oddly).

Each server answers ``GET /external/support-tickets`` through the ``listing`` its test
gives it, a function ``(handler, query) -> None`` that writes the whole answer itself with
the helpers below; the other ticket-API paths answer an empty list. Every loop that sends
is bounded in bytes and seconds, and stops when the client goes away.
"""
from __future__ import annotations

import json
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

MAX_SEND_S = 60.0  # no answer of these servers outlives this


def ticket(tenant_id: str, n: int, **fields) -> dict:
    """A valid upstream ticket (compact: a flood page of them stays under the byte cap)."""
    doc = {"id": f"t{n}", "tenant_id": tenant_id, "source": "email", "customer_id": f"c{n % 7}",
           "subject": f"Ticket {n}", "message": "The export is broken, please fix it urgently",
           "status": "open", "created_at": "2026-11-01T10:00:00Z", "updated_at": "2026-11-01T10:00:00Z"}
    doc.update(fields)
    return doc


def page_body(tickets: list[dict], next_page: int | None = None) -> bytes:
    return json.dumps({"tickets": tickets, "next_page": next_page, "total_count": len(tickets)}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def do_GET(self):  # noqa: N802 (the stdlib's name)
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.server.owner.record(parts.path)
        if parts.path == "/external/support-tickets":
            self.server.owner.listing(self, query)
        elif parts.path == "/external/deleted-tickets":
            self.send_json({"deleted_ids": []})
        else:
            self.send_json({"error": "not found"}, status=404)

    def log_message(self, format, *args):  # noqa: A002 (the stdlib's signature)
        """Quiet: the stdlib would write every request to stderr."""

    # -- what a listing writes ---------------------------------------------------------
    def send_json(self, body: dict | bytes, status: int = 200, headers: dict | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def trickle(self, data: bytes, groups: int, interval_s: float) -> None:
        """A whole, valid answer with its length announced, sent in ``groups`` pieces."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        step = max(1, -(-len(data) // groups))
        for start in range(0, len(data), step):
            if not self._send_piece(data[start:start + step]):
                return
            time.sleep(interval_s)

    def endless(self, piece: bytes, interval_s: float, max_bytes: int) -> None:
        """A 200 whose body never ends (no length; close-delimited), up to ``max_bytes``."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        sent, started = 0, time.monotonic()
        if not self._send_piece(b'{"tickets": ["'):
            return
        while sent < max_bytes and time.monotonic() - started < MAX_SEND_S:
            if not self._send_piece(piece):
                return
            sent += len(piece)
            if interval_s:
                time.sleep(interval_s)

    def gzip_bomb(self, decoded_bytes: int) -> None:
        """A small gzip body that decodes to ``decoded_bytes`` (made chunk by chunk)."""
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        zeros = b"0" * (1 << 20)
        data = b"".join(compressor.compress(zeros) for _ in range(decoded_bytes >> 20)) + compressor.flush()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self._send_piece(data)

    def _send_piece(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
            return True
        except OSError:  # the client hung up: stop sending
            self.close_connection = True
            return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: "HostileUpstream"


class HostileUpstream:
    """One hostile server; ``calls`` lists the paths it was asked for, in order."""

    def __init__(self, listing: Callable[[Handler, dict], None]):
        self.listing = listing
        self.calls: list[str] = []
        self._lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.owner = self
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="hostile-upstream", daemon=True)
        self._thread.start()

    def record(self, path: str) -> None:
        with self._lock:
            self.calls.append(path)

    def listing_calls(self) -> int:
        with self._lock:
            return self.calls.count("/external/support-tickets")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
