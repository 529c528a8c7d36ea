"""The unstable ``POST /notify``: slow, failing each ticket's first attempts, and falling
into an outage after a run of consecutive failures."""
from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass

from .config import NotifyConfig
from .errors import BadRequest

URGENCIES = ("high", "medium", "low")
_FAILURE_STATUSES = (500, 502, 503)
# How many attempts the report lists in arrival order (the first ones: enough to see which
# tenant's alerts a sender put first, small enough for a report polled during a flood).
ARRIVALS_KEPT = 5000


@dataclass(frozen=True)
class NotifyRequest:
    ticket_id: str
    tenant_id: str
    urgency: str
    reason: str
    idempotency_key: str

    @property
    def ticket_key(self) -> str:
        return f"{self.tenant_id}:{self.ticket_id}"


@dataclass(frozen=True)
class NotifyOutcome:
    status: int
    body: dict
    delay_s: float = 0.0


def parse_notify_request(body, header_key: str | None) -> NotifyRequest:
    """Validate a notify call; raises BadRequest naming the bad field."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    values = {}
    for name in ("ticket_id", "tenant_id", "urgency", "idempotency_key"):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            raise BadRequest(f"{name} is required (non-empty string)")
        values[name] = value
    if values["urgency"] not in URGENCIES:
        raise BadRequest(f"urgency must be one of {', '.join(URGENCIES)}")
    reason = body.get("reason")
    if not isinstance(reason, str):
        raise BadRequest("reason is required (string)")
    if not header_key:
        raise BadRequest("Idempotency-Key header is required")
    if header_key != values["idempotency_key"]:
        raise BadRequest("Idempotency-Key header must equal idempotency_key")
    return NotifyRequest(reason=reason, **values)


class FlakyNotifier:
    """Per-ticket failure pattern plus a global outage; all times come from the caller."""

    def __init__(self, config: NotifyConfig, seed: int):
        self.config = config
        self._seed = seed
        self._latency_rng = random.Random(f"{seed}:notify-latency")
        self.attempts: Counter[str] = Counter()
        self.successes: Counter[str] = Counter()
        self.delivered_keys: set[str] = set()
        self.arrivals: list[str] = []
        self.consecutive_failures = 0
        self.outage_until = float("-inf")

    def attempt(self, request: NotifyRequest, now: float) -> NotifyOutcome:
        """Decide this attempt's answer at arrival; the caller waits ``delay_s`` before sending it."""
        key = request.ticket_key
        self.attempts[key] += 1
        if len(self.arrivals) < ARRIVALS_KEPT:
            self.arrivals.append(key)
        attempt_number = self.attempts[key]
        if now < self.outage_until:
            return NotifyOutcome(503, {"error": "notification service unavailable (outage)"})
        delay_s = self._latency_s()
        if attempt_number <= self.config.fail_first_attempts and self.suffers_failures(key):
            status = _FAILURE_STATUSES[(attempt_number - 1) % len(_FAILURE_STATUSES)]
            self.consecutive_failures += 1
            threshold = self.config.outage_after_failures
            if threshold and self.consecutive_failures >= threshold:
                self.outage_until = now + self.config.outage_s
                self.consecutive_failures = 0
            return NotifyOutcome(status, {"error": f"transient failure (attempt {attempt_number})"}, delay_s)
        self.consecutive_failures = 0
        duplicate = request.idempotency_key in self.delivered_keys
        self.delivered_keys.add(request.idempotency_key)
        self.successes[key] += 1
        return NotifyOutcome(200, {"status": "delivered", "duplicate": duplicate}, delay_s)

    def suffers_failures(self, ticket_key: str) -> bool:
        """Whether this ticket is in the ``fail_share`` (a stable choice per seed)."""
        share = self.config.fail_share
        if share >= 1.0:
            return True
        digest = hashlib.sha256(f"{self._seed}:{ticket_key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < share

    def force_outage(self, until: float) -> None:
        self.outage_until = max(self.outage_until, until)

    def in_outage(self, now: float) -> bool:
        return now < self.outage_until

    def report(self, now: float) -> dict:
        return {
            "attempts": dict(self.attempts),
            "arrivals": list(self.arrivals),
            "successes": dict(self.successes),
            "total_attempts": sum(self.attempts.values()),
            "total_successes": sum(self.successes.values()),
            "unique_delivered": len(self.delivered_keys),
            "consecutive_failures": self.consecutive_failures,
            "in_outage": self.in_outage(now),
            "outage_remaining_s": max(0.0, round(self.outage_until - now, 3)),
        }

    def _latency_s(self) -> float:
        low, high = self.config.latency_ms
        return self._latency_rng.uniform(low, high) / 1000 if high > 0 else 0.0
