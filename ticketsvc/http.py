"""The process's one outbound HTTP session: a bounded connection pool, no hidden retries."""
from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter


def build_session(pool_size: int = 32) -> requests.Session:
    """A ``requests.Session`` whose pool is bounded and whose adapter never retries.

    Retries are the caller's business (hand-written, with backoff and the rate limit in
    mind); timeouts are passed on every call.
    """
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0, pool_block=True)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "ticketsvc/1.0"
    return session
