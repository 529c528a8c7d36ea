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

Every request leaves through ``_send``, which trusts nothing the host does at the HTTP
level: the whole call (headers and body) ends by its deadline (``HTTP_TOTAL_TIMEOUT_S``;
a read timeout bounds only the gap between bytes), the body is read streamed and refused
past ``UPSTREAM_MAX_RESPONSE_BYTES`` after decoding (identity is asked for; a compressed
body is decoded chunk by chunk under the cap), a 3xx is refused (following it would reach
another host or spend budget uncounted), and no retry hides in the adapter. While a call is
on the wire a watcher thread checks its deadline and its caller (cancel, lease) every
half second, and cuts the connection when either says stop, even inside a blocked read.
What the client did is told to one ``UpstreamObserver`` (the metrics), never checked for.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Protocol
from urllib.parse import quote

import requests
from urllib3 import exceptions as urllib3_errors

from .clock import Clock
from .config import Settings
from .http import build_session, cut, on_the_wire
from .retry import Backoff, parse_retry_after

if TYPE_CHECKING:
    from .ingestion.ratelimit import SlidingWindowLimiter

log = logging.getLogger(__name__)

MAX_RATE_LIMITED_RETRIES = 30
RETRY_AFTER_MAX_WINDOWS = 5  # the longest Retry-After obeyed, in rate-limit windows
PERMANENT_EXEMPT = (408, 429)  # 4xx statuses that say "try again later", not "never"
READ_CHUNK_BYTES = 64 * 1024
WATCH_SLICE_S = 0.5  # how often a call on the wire checks its deadline and its caller
MAX_INTEGER_DIGITS = 30  # a longer JSON integer is kept as text (no id or count is that long)


class UpstreamError(Exception):
    """The upstream could not give an answer after the allowed attempts."""


class ResponseRefused(UpstreamError):
    """The answer is one the client never takes (a redirect, a body over the cap); asking
    again would spend budget on the same refusal, so it is not retried."""


class CallTimedOut(requests.Timeout):
    """The call did not end within ``HTTP_TOTAL_TIMEOUT_S`` (headers and whole body)."""


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

    def checkpoint(self) -> None:
        """Raise to abandon the call (a cancel, a lost lease); may be called from the
        watcher thread while the caller's own thread is blocked on the wire."""

    def wait(self, seconds: float, reason: str) -> None:
        """Block for ``seconds`` (``reason``: rate_limit | backoff); may raise to abandon the call."""


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
    tickets: list[Any]  # at most the page size asked for
    next_page: int | None
    total_count: int | None
    excess: int = 0  # tickets past the page size asked for: not taken


@dataclass(frozen=True)
class Answer:
    """A response read whole, within the call's bounds."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes | bytearray

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The parsed body; ``ValueError`` when it is not JSON (or absurdly nested)."""
        try:
            return json.loads(self.content, parse_int=_bounded_int)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


class _CallWatch:
    """Watches one call on the wire from its own thread: past the deadline, or when the
    caller's checkpoint raises, it cuts the connection and keeps the reason to re-raise."""

    def __init__(self, deadline: float, caller: Caller | None, path: str):
        self.deadline = deadline
        self.caller = caller
        self.path = path
        self.sock: Any = None  # set by the session when the request goes out
        self.stop: BaseException | None = None  # why the call was cut, raised in the caller's thread
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="upstream-watch", daemon=True)

    def __enter__(self) -> "_CallWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        self._thread.join()

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def raise_if_cut(self) -> None:
        """After a network error: if the watcher cut the call, say why, not how."""
        if self.stop is not None:
            raise self.stop

    def raise_if_stopped(self) -> None:
        """Between chunks: raise if the call was cut or its deadline has passed."""
        if self.stop is None and self.expired():
            self.stop = self._timed_out()
        self.raise_if_cut()

    def _timed_out(self) -> CallTimedOut:
        return CallTimedOut(f"{self.path}: no whole answer within the call deadline")

    def _watch(self) -> None:
        pause = min(WATCH_SLICE_S, self.deadline - time.monotonic())
        while not self._done.wait(max(pause, 0.01)):
            if self.stop is None and self.expired():
                self.stop = self._timed_out()
            elif self.stop is None and self.caller is not None:
                try:
                    self.caller.checkpoint()
                except Exception as exc:  # a cancel or a lost lease: the caller's to raise
                    self.stop = exc
            if self.stop is not None:
                cut(self.sock)  # again each slice: a call still connecting has no socket yet
                pause = WATCH_SLICE_S
            else:
                pause = min(WATCH_SLICE_S, self.deadline - time.monotonic())


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
        """One page; at most the page size asked for is taken, the rest is ``excess``."""
        size = self.settings.external_page_size
        body = self._get_json("/external/support-tickets", {"page": page, "page_size": size, "tenant_id": tenant_id},
                              caller)
        if not isinstance(body, dict) or not isinstance(body.get("tickets"), list):
            raise UpstreamError(f"page {page}: body has no 'tickets' list")
        tickets = body["tickets"]
        total = _whole_number(body.get("total_count"))
        return TicketPage(tickets=tickets[:size], next_page=_whole_number(body.get("next_page")), total_count=total,
                          excess=max(len(tickets) - size, 0))

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
            response = self._send("POST", "/notify", total_s=self.settings.notify_timeout_s, json=payload,
                                  headers={"Idempotency-Key": idempotency_key})
        except ResponseRefused as exc:
            return NotifyResult(False, retryable=True, error=f"refused: {exc}")
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
            response = self._send("GET", "/health", total_s=self.settings.health_timeout_s)
        except Exception as exc:  # any failure means the dependency is down for our purposes
            return {"ok": False, "latency_ms": None, "error": type(exc).__name__}
        latency = round((time.perf_counter() - started) * 1000.0, 2)
        if response.status_code != 200:
            return {"ok": False, "latency_ms": latency, "error": f"HTTP {response.status_code}"}
        return {"ok": True, "latency_ms": latency, "error": None}

    # -- one request ----------------------------------------------------------------------
    def _send(self, method: str, path: str, *, total_s: float | None = None, caller: Caller | None = None,
              **kwargs: Any) -> Answer:
        """One request, read whole within its bounds (see the module's docstring).

        Raises ``CallTimedOut`` past the deadline (``total_s``, else ``HTTP_TOTAL_TIMEOUT_S``),
        ``ResponseRefused`` for a redirect or a body over the cap, whatever the caller's
        checkpoint raised when it said stop, and ``requests`` errors for the network.
        """
        settings = self.settings
        total_s = settings.http_total_timeout_s if total_s is None else total_s
        timeout = (min(settings.http_connect_timeout_s, total_s), min(settings.http_read_timeout_s, total_s))
        headers = {"Accept-Encoding": "identity", **kwargs.pop("headers", {})}
        watch = _CallWatch(time.monotonic() + total_s, caller, path)
        with watch, on_the_wire(watch):
            try:
                response = self.session.request(method, settings.external_api_url + path, timeout=timeout,
                                                allow_redirects=False, stream=True, headers=headers, **kwargs)
            except requests.RequestException:
                watch.raise_if_cut()
                raise
            with response:
                if response.is_redirect or 300 <= response.status_code < 400:
                    raise ResponseRefused(f"{path}: answered {response.status_code} (redirects are not followed)")
                try:
                    content = self._read_body(response, watch)
                except urllib3_errors.HTTPError as exc:  # the raw stream speaks urllib3, not requests
                    watch.raise_if_cut()
                    if isinstance(exc, urllib3_errors.ReadTimeoutError):
                        raise requests.ReadTimeout(exc) from exc
                    raise requests.ConnectionError(exc) from exc
            return Answer(response.status_code, response.headers, content)

    def _read_body(self, response: requests.Response, watch: _CallWatch) -> bytearray:
        """The decoded body, chunk by chunk, refused past the cap; stops with the watch."""
        cap = self.settings.upstream_max_response_bytes
        body = bytearray()
        # urllib3 decodes gzip/deflate incrementally, at most one chunk's worth per read.
        for chunk in response.raw.stream(READ_CHUNK_BYTES, decode_content=True):
            watch.raise_if_stopped()
            body += chunk
            if len(body) > cap:
                raise ResponseRefused(f"{watch.path}: body larger than {cap} bytes (UPSTREAM_MAX_RESPONSE_BYTES)")
        watch.raise_if_stopped()  # a cut connection can look like the end of the body
        return body  # not copied: a body near the cap would be held twice

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
                response = self._send("GET", path, params=params, caller=caller)
                problem, body = self._read(response, none_on)
            except requests.RequestException as exc:
                response, problem, body = None, f"{type(exc).__name__}", None
            except ResponseRefused:
                self.observer.upstream_call(path, None, False)
                raise
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
    def _read(response: Answer, none_on: tuple[int, ...]) -> tuple[str | None, Any]:
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

    def _retry_after(self, response: Answer) -> float:
        """The pause a 429 asks for: its ``Retry-After`` (seconds or an HTTP-date), one window
        when that is unusable, never more than ``RETRY_AFTER_MAX_WINDOWS`` windows."""
        window = self.settings.rate_limit_window_s
        seconds = parse_retry_after(response.headers.get("Retry-After"), self.clock.now())
        if seconds is None:
            seconds = window  # unusable: assume a whole window
        return min(seconds, window * RETRY_AFTER_MAX_WINDOWS)

    def _acquire(self, caller: Caller):
        return self.limiter.acquire(lambda seconds: self._wait(caller, seconds, "rate_limit"), self.clock)

    def _wait(self, caller: Caller, seconds: float, reason: str) -> None:
        """Wait through the caller; only the time actually waited is counted (a cancel may
        end the wait early)."""
        started = self.clock.now()
        try:
            caller.wait(seconds, reason)
        finally:
            waited = max((self.clock.now() - started).total_seconds(), 0.0)
            self.observer.upstream_waited(reason, waited)
            caller.stats.waited_s += waited


def _bounded_int(digits: str) -> int | str:
    """A JSON integer; one too long to be any id or count stays text (the schema then
    rejects it), so one absurd number cannot make a whole page unreadable."""
    return int(digits) if len(digits) <= MAX_INTEGER_DIGITS else digits


FEED_UNAVAILABLE = (400, 404)  # the feed's answers that mean "walk the pages instead"


@dataclass(frozen=True)
class _Absent:
    """An answer meaning "not here" (a status the caller named), not a failed call."""

    status: int


def _whole_number(value: Any) -> int | None:
    """A non-negative integer from a JSON number or numeric string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= MAX_INTEGER_DIGITS:
        return int(value.strip())
    if isinstance(value, int) and value >= 0:
        return value
    return None
