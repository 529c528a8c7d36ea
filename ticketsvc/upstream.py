"""UpstreamClient: the one client of the upstream host, owning its HTTP session.

It serves the three things this service asks of that host:

- the ticket API (``/external/*``): every call claims a slot of the shared rate budget
  first and is retried by hand: a 429 pauses every caller for its ``Retry-After`` and is
  tried again; 5xx, timeouts, connection errors and unreadable bodies back off with full
  jitter for a handful of attempts, then ``UpstreamError`` ends the run. Waits go through
  the caller (``Caller.wait``), so a job keeps its lease and sees its cancel flag while it
  waits;
- ``POST /notify``: one attempt, classified (delivered, worth retrying, never deliverable);
  retrying is the outbox's business;
- ``GET /health``: the health check's probe, never an ``/external/*`` call (it would spend
  the budget).

Every request leaves through ``_send``: explicit timeouts, no redirects followed (a 3xx
would reach another host or spend budget uncounted), no retries hidden in the adapter.
What the client did is told to one ``UpstreamObserver`` (the metrics), never checked for.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

import requests

from .clock import Clock
from .config import Settings
from .http import build_session
from .retry import Backoff, parse_retry_after

if TYPE_CHECKING:
    from .ingestion.ratelimit import SlidingWindowLimiter

log = logging.getLogger(__name__)

MAX_RATE_LIMITED_RETRIES = 30
MAX_RETRY_AFTER_S = 300.0
PERMANENT_EXEMPT = (408, 429)  # 4xx statuses that say "try again later", not "never"


class UpstreamError(Exception):
    """The upstream could not give an answer after the allowed attempts."""


@dataclass
class CallStats:
    """HTTP figures of one run (``http`` in the audit record)."""

    calls: int = 0
    retries: int = 0
    rate_limited: int = 0
    waited_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "retries": self.retries, "rate_limited": self.rate_limited,
                "waited_s": round(self.waited_s, 3)}


class Caller(Protocol):
    """What a caller of the ticket API lends the client for its calls."""

    stats: CallStats  # where the calls, retries and waits are counted

    def wait(self, seconds: float) -> None:
        """Block for ``seconds``; may raise to abandon the call (a cancel, a lost lease)."""


class UpstreamObserver(Protocol):
    """Told what the client did (the service's metrics implement it)."""

    def upstream_call(self, path: str, status_code: int | None, usable: bool) -> None: ...

    def upstream_waited(self, reason: str, seconds: float) -> None: ...


class Unobserved:
    """The observer of a client nobody watches."""

    def upstream_call(self, path: str, status_code: int | None, usable: bool) -> None:
        pass

    def upstream_waited(self, reason: str, seconds: float) -> None:
        pass


@dataclass(frozen=True)
class TicketPage:
    tickets: list[Any]
    next_page: int | None
    total_count: int | None


@dataclass(frozen=True)
class ChangePage:
    """One page of the change feed; ``as_of`` is the upstream's time (raw ISO text)."""

    tickets: list[Any]
    next_cursor: str | None
    as_of: str | None


class FeedUnavailable(Exception):
    """The change feed cannot serve this walk: the upstream has none (404), refused the
    request or cursor (400), or answered something that is not a feed page. The caller
    walks the pages instead."""

    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class NotifyResult:
    """One ``/notify`` attempt, classified."""

    delivered: bool
    retryable: bool = False  # a failure worth retrying; it counts against the circuit
    error: str | None = None
    retry_after_s: float | None = None


class UpstreamClient:
    def __init__(self, settings: Settings, limiter: "SlidingWindowLimiter", clock: Clock, *,
                 observer: UpstreamObserver | None = None, session: requests.Session | None = None,
                 backoff: Backoff | None = None):
        self.settings = settings
        self.limiter = limiter
        self.clock = clock
        self.observer = observer or Unobserved()
        # One pooled session for the host: enough connections for every ingestion and
        # delivery thread of this process at once, and a few for health checks.
        self.session = session or build_session(
            pool_size=max(8, settings.ingest_workers + settings.notify_concurrency + 4))
        self.backoff = backoff or Backoff(settings.http_backoff_base_s, settings.http_backoff_max_s)

    def close(self) -> None:
        self.session.close()

    # -- the ticket API ---------------------------------------------------------------
    def fetch_page(self, tenant_id: str, page: int, caller: Caller) -> TicketPage:
        body = self._get_json("/external/support-tickets",
                              {"page": page, "page_size": self.settings.external_page_size, "tenant_id": tenant_id},
                              caller)
        if not isinstance(body, dict) or not isinstance(body.get("tickets"), list):
            raise UpstreamError(f"page {page}: body has no 'tickets' list")
        total = _whole_number(body.get("total_count"))
        return TicketPage(tickets=body["tickets"], next_page=_whole_number(body.get("next_page")), total_count=total)

    def fetch_changes(self, tenant_id: str, since: str, cursor: str | None, caller: Caller, *,
                      page_size: int | None = None) -> ChangePage:
        """One page of the change feed since ``since`` (ISO 8601), continuing ``cursor``.

        Raises ``FeedUnavailable`` on a 404 or 400 (no feed, unknown cursor; not retried)
        and on a body that is not a feed page (a cursor misread could end a walk early).
        """
        params = {"tenant_id": tenant_id, "since": since, "page_size": page_size or self.settings.external_page_size}
        if cursor is not None:
            params["cursor"] = cursor
        body = self._get_json("/external/ticket-changes", params, caller, none_on=FEED_UNAVAILABLE)
        if isinstance(body, _Absent):
            raise FeedUnavailable(f"change feed answered HTTP {body.status}", body.status)
        if not isinstance(body, dict) or not isinstance(body.get("tickets"), list):
            raise FeedUnavailable("change feed answered a body without a 'tickets' list")
        next_cursor = body.get("next_cursor")
        if isinstance(next_cursor, int) and not isinstance(next_cursor, bool):
            next_cursor = str(next_cursor)
        if next_cursor is not None and not isinstance(next_cursor, str):
            raise FeedUnavailable(f"change feed answered a next_cursor that is not one: {next_cursor!r:.50}")
        as_of = body.get("as_of")
        return ChangePage(tickets=body["tickets"], next_cursor=next_cursor, as_of=as_of if isinstance(as_of, str) else None)

    def deleted_ids(self, tenant_id: str, caller: Caller) -> set[str]:
        body = self._get_json("/external/deleted-tickets", {"tenant_id": tenant_id}, caller)
        ids = body.get("deleted_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list):
            raise UpstreamError("deleted-tickets: body has no 'deleted_ids' list")
        return {str(i) for i in ids if isinstance(i, (str, int))}

    def fetch_ticket(self, tenant_id: str, ticket_id: str, caller: Caller) -> dict | None:
        """The ticket, or None when the upstream answers 404 (it is gone)."""
        body = self._get_json(f"/external/support-tickets/{quote(ticket_id, safe='')}", {"tenant_id": tenant_id},
                              caller, none_on=(404,))
        if isinstance(body, _Absent):
            return None
        if isinstance(body, dict) and isinstance(body.get("ticket"), dict):
            return body["ticket"]  # some upstreams wrap the single ticket
        return body

    # -- alerts -------------------------------------------------------------------------
    def notify(self, *, tenant_id: str, ticket_id: str, urgency: str, reason: str,
               idempotency_key: str) -> NotifyResult:
        """One POST to ``/notify``, classified; never raises for HTTP or network trouble."""
        payload = {"ticket_id": ticket_id, "tenant_id": tenant_id, "urgency": urgency,
                   "reason": reason, "idempotency_key": idempotency_key}
        try:
            response = self._send("POST", "/notify", timeout=self.settings.notify_timeout_s, json=payload,
                                  headers={"Idempotency-Key": idempotency_key})
        except requests.Timeout as exc:
            return NotifyResult(False, retryable=True, error=f"timeout: {type(exc).__name__}")
        except requests.ConnectionError as exc:
            return NotifyResult(False, retryable=True, error=f"connection error: {type(exc).__name__}")
        except requests.RequestException as exc:
            return NotifyResult(False, retryable=True, error=f"request failed: {type(exc).__name__}: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            return NotifyResult(True)
        error = f"HTTP {status}: {response.text[:200]}"
        if 400 <= status < 500 and status not in PERMANENT_EXEMPT:
            return NotifyResult(False, retryable=False, error=error)
        return NotifyResult(False, retryable=True, error=error,
                            retry_after_s=parse_retry_after(response.headers.get("Retry-After"), self.clock.now()))

    # -- health -------------------------------------------------------------------------
    def probe(self) -> dict[str, Any]:
        """``{"ok", "latency_ms", "error"}`` of the host's ``/health``; never raises."""
        started = time.perf_counter()
        try:
            response = self._send("GET", "/health", timeout=self.settings.health_timeout_s)
        except Exception as exc:  # any failure means the dependency is down for our purposes
            return {"ok": False, "latency_ms": None, "error": type(exc).__name__}
        latency = round((time.perf_counter() - started) * 1000.0, 2)
        if response.status_code != 200:
            return {"ok": False, "latency_ms": latency, "error": f"HTTP {response.status_code}"}
        return {"ok": True, "latency_ms": latency, "error": None}

    # -- one request ----------------------------------------------------------------------
    def _send(self, method: str, path: str, *, timeout: float | tuple[float, float], **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.settings.external_api_url + path, timeout=timeout,
                                    allow_redirects=False, **kwargs)

    def _get_json(self, path: str, params: dict, caller: Caller, none_on: tuple[int, ...] = ()) -> Any:
        """One ticket-API call with its retries: the parsed body, ``_Absent`` for a status in
        ``none_on`` (an answer, not a failure: never retried), or ``UpstreamError``."""
        stats = caller.stats
        failures = 0
        rate_limited = 0
        while True:
            permit = self._acquire(caller)
            try:
                stats.calls += 1
                response = self._send("GET", path, params=params, timeout=self.settings.http_timeout)
                problem, body = self._read(response, none_on)
            except requests.RequestException as exc:
                response, problem, body = None, f"{type(exc).__name__}", None
            finally:
                permit.release(self.clock.now())
            self.observer.upstream_call(path, None if response is None else response.status_code, problem is None)

            if response is not None and response.status_code == 429:
                rate_limited += 1
                stats.rate_limited += 1
                if rate_limited > MAX_RATE_LIMITED_RETRIES:
                    raise UpstreamError(f"{path}: still rate limited after {rate_limited} answers of 429")
                self.limiter.pause(self._retry_after(response), self.clock.now())
                stats.retries += 1
                continue
            if problem is None:
                return body

            failures += 1
            if failures >= self.settings.http_max_attempts:
                raise UpstreamError(f"{path}: {problem} after {failures} attempts")
            delay = self.backoff.delay(failures)
            log.warning("upstream %s failed (%s), attempt %d/%d, retrying in %.2fs",
                        path, problem, failures, self.settings.http_max_attempts, delay)
            stats.retries += 1
            self._wait(caller, delay, "backoff")

    @staticmethod
    def _read(response: requests.Response, none_on: tuple[int, ...]) -> tuple[str | None, Any]:
        """(why the response is unusable or None, its parsed body); a 429 is handled apart."""
        status = response.status_code
        if status in none_on:
            return None, _Absent(status)
        if status != 200:
            return f"HTTP {status}", None
        try:
            return None, response.json()
        except ValueError:
            return "malformed JSON body", None

    def _retry_after(self, response: requests.Response) -> float:
        seconds = parse_retry_after(response.headers.get("Retry-After"), self.clock.now())
        if seconds is None:
            seconds = self.settings.rate_limit_window_s  # unusable: assume a whole window
        return min(seconds, MAX_RETRY_AFTER_S)

    def _acquire(self, caller: Caller):
        return self.limiter.acquire(lambda seconds: self._wait(caller, seconds, "rate_limit"), self.clock)

    def _wait(self, caller: Caller, seconds: float, reason: str) -> None:
        self.observer.upstream_waited(reason, seconds)
        caller.stats.waited_s += seconds
        caller.wait(seconds)


FEED_UNAVAILABLE = (400, 404)  # the feed's answers that mean "walk the pages instead"


@dataclass(frozen=True)
class _Absent:
    """An answer meaning "not here" (a status the caller named), not a failed call."""

    status: int


def _whole_number(value: Any) -> int | None:
    """A non-negative integer from a JSON number or numeric string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and value >= 0:
        return value
    return None
