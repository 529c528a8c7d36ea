"""The process's one outbound HTTP session: a bounded connection pool, no hidden retries,
and connections that another thread can cut.

A read blocked on a socket wakes only when bytes arrive or its timeout passes, so a
deadline or a cancel cannot land inside it from the reading thread. ``on_the_wire(call)``
tells the socket of each request this thread sends to ``call.sock``; a watcher may then
``cut()`` it (shut it down), and the blocked read returns at once. (The socket, not the
connection: a response that closes its connection reads on after the connection let go.)
"""
from __future__ import annotations

import contextlib
import socket
from contextvars import ContextVar
from typing import Any, Iterator, Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class WatchedCall(Protocol):
    sock: socket.socket | None  # set to the socket the call's request went out on


# The call this thread (or task) is sending right now; a context variable, not shared state.
_current_call: ContextVar[WatchedCall | None] = ContextVar("upstream_call", default=None)


@contextlib.contextmanager
def on_the_wire(call: WatchedCall) -> Iterator[None]:
    """Within the block, the socket each request goes out on is told to ``call``."""
    token = _current_call.set(call)
    try:
        yield
    finally:
        _current_call.reset(token)


def cut(sock: socket.socket | None) -> None:
    """Shut a socket down: a read blocked on it returns at once."""
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _TellsItsCall:
    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)  # type: ignore[misc]  (connects if it must)
        call = _current_call.get()
        if call is not None:
            call.sock = self.sock  # type: ignore[attr-defined]


class _HTTPConnection(_TellsItsCall, HTTPConnection):
    pass


class _HTTPSConnection(_TellsItsCall, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


def build_session(pool_size: int = 32) -> requests.Session:
    """A ``requests.Session`` whose pool is bounded, whose adapter never retries, and whose
    connections a watcher can cut (see ``on_the_wire``).

    Retries are the caller's business (hand-written, with backoff and the rate limit in
    mind); timeouts are passed on every call.
    """
    session = requests.Session()
    adapter = _Adapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0, pool_block=True)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "ticketsvc/1.0"
    return session
