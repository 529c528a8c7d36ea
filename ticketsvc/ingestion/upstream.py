"""UpstreamClient: the external ticket API, one call at a time, inside the global budget.

Every call claims a rate-limit slot first, carries explicit timeouts, and is retried by
hand: a 429 pauses every caller for its ``Retry-After`` and is tried again; 5xx, timeouts,
connection errors and unreadable bodies back off exponentially with full jitter for a
handful of attempts, then ``UpstreamError`` ends the run. Waiting goes through the
caller's ``wait`` function, so a job keeps its lease and sees its cancel flag while it
waits.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import quote

import requests

from ..config import Settings
from .ratelimit import SlidingWindowLimiter

if TYPE_CHECKING:
    from ..metrics import ServiceMetrics

log = logging.getLogger(__name__)

MAX_RATE_LIMITED_RETRIES = 30
MAX_RETRY_AFTER_S = 300.0


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


@dataclass(frozen=True)
class Page:
    tickets: list[Any]
    next_page: int | None
    total_count: int | None


@dataclass
class UpstreamClient:
    settings: Settings
    session: requests.Session
    limiter: SlidingWindowLimiter
    rng: random.Random = field(default_factory=random.Random)
    metrics: "ServiceMetrics | None" = None  # counts calls and waits for /metrics

    # -- the three endpoints ----------------------------------------------------------
    def fetch_page(self, tenant_id: str, page: int, wait: Callable[[float], None], stats: CallStats) -> Page:
        body = self._get_json("/external/support-tickets",
                              {"page": page, "page_size": self.settings.external_page_size, "tenant_id": tenant_id},
                              wait, stats)
        if not isinstance(body, dict) or not isinstance(body.get("tickets"), list):
            raise UpstreamError(f"page {page}: body has no 'tickets' list")
        total = _whole_number(body.get("total_count"))
        return Page(tickets=body["tickets"], next_page=_whole_number(body.get("next_page")), total_count=total)

    def deleted_ids(self, tenant_id: str, wait: Callable[[float], None], stats: CallStats) -> set[str]:
        body = self._get_json("/external/deleted-tickets", {"tenant_id": tenant_id}, wait, stats)
        ids = body.get("deleted_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list):
            raise UpstreamError("deleted-tickets: body has no 'deleted_ids' list")
        return {str(i) for i in ids if isinstance(i, (str, int))}

    def fetch_ticket(self, tenant_id: str, ticket_id: str, wait: Callable[[float], None],
                     stats: CallStats) -> dict | None:
        """The ticket, or None when the upstream answers 404 (it is gone)."""
        body = self._get_json(f"/external/support-tickets/{quote(ticket_id, safe='')}", {"tenant_id": tenant_id},
                              wait, stats, none_on_404=True)
        if isinstance(body, dict) and isinstance(body.get("ticket"), dict):
            return body["ticket"]  # some upstreams wrap the single ticket
        return body

    # -- one call with its retries ----------------------------------------------------
    def _get_json(self, path: str, params: dict, wait: Callable[[float], None], stats: CallStats,
                  none_on_404: bool = False) -> Any:
        url = self.settings.external_api_url + path
        failures = 0
        rate_limited = 0
        while True:
            permit = self._acquire(wait, stats)
            try:
                stats.calls += 1
                response = self.session.get(url, params=params, timeout=self.settings.http_timeout)
                problem, body = self._read(response, none_on_404)
            except requests.RequestException as exc:
                response, problem, body = None, f"{type(exc).__name__}", None
            finally:
                permit.release()
            if self.metrics is not None:
                self.metrics.upstream_call(path, None if response is None else response.status_code, problem is None)

            if response is not None and response.status_code == 429:
                rate_limited += 1
                stats.rate_limited += 1
                if rate_limited > MAX_RATE_LIMITED_RETRIES:
                    raise UpstreamError(f"{path}: still rate limited after {rate_limited} answers of 429")
                retry_after = self._retry_after(response)
                self.limiter.pause(retry_after)
                stats.retries += 1
                continue
            if problem is None:
                return body

            failures += 1
            if failures >= self.settings.http_max_attempts:
                raise UpstreamError(f"{path}: {problem} after {failures} attempts")
            delay = self._backoff(failures)
            log.warning("upstream %s failed (%s), attempt %d/%d, retrying in %.2fs",
                        path, problem, failures, self.settings.http_max_attempts, delay)
            stats.retries += 1
            if self.metrics is not None:
                self.metrics.upstream_waited("backoff", delay)
            self._wait(wait, delay, stats)

    @staticmethod
    def _read(response: requests.Response, none_on_404: bool) -> tuple[str | None, Any]:
        """(why the response is unusable or None, its parsed body); a 429 is handled apart."""
        status = response.status_code
        if status == 404 and none_on_404:
            return None, None
        if status != 200:
            return f"HTTP {status}", None
        try:
            return None, response.json()
        except ValueError:
            return "malformed JSON body", None

    def _retry_after(self, response: requests.Response) -> float:
        raw = response.headers.get("Retry-After", "")
        try:
            seconds = float(raw)
        except ValueError:
            seconds = self.settings.rate_limit_window_s  # unknown: assume a whole window
        return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)

    def _backoff(self, failures: int) -> float:
        """Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(n-1))]."""
        ceiling = min(self.settings.http_backoff_max_s, self.settings.http_backoff_base_s * 2 ** (failures - 1))
        return self.rng.uniform(0, ceiling)

    def _acquire(self, wait: Callable[[float], None], stats: CallStats):
        def timed_wait(seconds: float) -> None:
            if self.metrics is not None:
                self.metrics.upstream_waited("rate_limit", seconds)
            self._wait(wait, seconds, stats)

        return self.limiter.acquire(timed_wait)

    @staticmethod
    def _wait(wait: Callable[[float], None], seconds: float, stats: CallStats) -> None:
        stats.waited_s += seconds
        wait(seconds)


def _whole_number(value: Any) -> int | None:
    """A non-negative integer from a JSON number or numeric string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and value >= 0:
        return value
    return None
