"""Injected misbehaviour of the ``/external/*`` endpoints, consumed in arrival order."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

from .errors import BadRequest
from .mutations import Mutation, parse_mutation

FIELDS = frozenset({
    "fail_next", "fail_status", "error_rate", "latency_s", "latency_next", "malformed_next",
    "rate_limit_storm", "foreign_tickets", "notify_outage_s", "mutate_after_calls",
})


@dataclass(frozen=True)
class Admission:
    """What to do with one arrived ``/external/*`` call."""

    status: int | None = None        # answer with this error status instead of serving
    retry_after: str | None = None   # Retry-After header for a 429
    malformed: bool = False          # answer 200 with a body that is not JSON
    delay_s: float = 0.0             # wait this long first


class Faults:
    """Active faults; ``admit`` consumes them one call at a time."""

    def __init__(self, seed: int):
        self._rng = random.Random(f"{seed}:faults")
        self.clear()

    def clear(self) -> None:
        self.fail_next = 0
        self.fail_status = 500
        self.error_rate = 0.0
        self.latency_s = 0.0
        self.latency_remaining: int | None = None  # None: every call
        self.malformed_next = 0
        self.storm_count = 0
        self.storm_retry_after = 1.0
        self.foreign_tickets = False
        self.mutate_after_calls: int | None = None
        self.scheduled_mutation: Mutation | None = None
        self.last_scheduled_result: dict | None = None

    def update(self, body) -> float | None:
        """Merge a partial ``POST /admin/faults`` body (validated whole first); returns the
        requested notify outage in seconds, if any, for the caller to apply."""
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        unknown = sorted(set(body) - FIELDS)
        if unknown:
            raise BadRequest(f"unknown fault(s): {', '.join(unknown)}")
        changes = {}
        for name in ("fail_next", "latency_next", "malformed_next"):
            if name in body:
                changes[name] = _int(body[name], name)
        if "fail_status" in body:
            changes["fail_status"] = _int(body["fail_status"], "fail_status")
            if not 400 <= changes["fail_status"] <= 599:
                raise BadRequest("fail_status must be a 4xx or 5xx status")
        if "error_rate" in body:
            changes["error_rate"] = _number(body["error_rate"], "error_rate")
            if changes["error_rate"] > 1:
                raise BadRequest("error_rate must be within 0..1")
        if "latency_s" in body:
            changes["latency_s"] = _number(body["latency_s"], "latency_s")
        if "foreign_tickets" in body:
            if not isinstance(body["foreign_tickets"], bool):
                raise BadRequest("foreign_tickets must be true or false")
            changes["foreign_tickets"] = body["foreign_tickets"]
        storm = body.get("rate_limit_storm")
        if storm is not None:
            if not isinstance(storm, dict) or "count" not in storm:
                raise BadRequest("rate_limit_storm must be {count, retry_after}")
            changes["storm_count"] = _int(storm["count"], "rate_limit_storm.count")
            changes["storm_retry_after"] = _number(storm.get("retry_after", 1), "rate_limit_storm.retry_after")
        scheduled = body.get("mutate_after_calls")
        if scheduled is not None:
            if not isinstance(scheduled, dict):
                raise BadRequest("mutate_after_calls must be {calls, mutation}")
            calls = _int(scheduled.get("calls"), "mutate_after_calls.calls")
            if calls < 1:
                raise BadRequest("mutate_after_calls.calls must be >= 1")
            changes["mutate_after_calls"] = calls
            changes["scheduled_mutation"] = parse_mutation(scheduled.get("mutation"))
        notify_outage_s = None
        if "notify_outage_s" in body:
            notify_outage_s = _number(body["notify_outage_s"], "notify_outage_s")

        if "latency_s" in changes or "latency_next" in changes:
            next_calls = changes.pop("latency_next", 0)
            changes["latency_remaining"] = next_calls or None
        for name, value in changes.items():
            setattr(self, name, value)
        return notify_outage_s

    def admit(self, rate_limit_retry_after: str | None) -> Admission:
        """Decide one arrived call: storm, then the real limit, then latency, failures,
        malformed bodies."""
        if self.storm_count:
            self.storm_count -= 1
            return Admission(status=429, retry_after=_seconds(self.storm_retry_after))
        if rate_limit_retry_after is not None:
            return Admission(status=429, retry_after=rate_limit_retry_after)
        delay_s = self._take_latency()
        if self.fail_next:
            self.fail_next -= 1
            return Admission(status=self.fail_status, delay_s=delay_s)
        if self.error_rate and self._rng.random() < self.error_rate:
            return Admission(status=self.fail_status, delay_s=delay_s)
        if self.malformed_next:
            self.malformed_next -= 1
            return Admission(malformed=True, delay_s=delay_s)
        return Admission(delay_s=delay_s)

    def call_answered(self) -> Mutation | None:
        """Count an answered call; return the scheduled mutation when its turn has come."""
        if self.mutate_after_calls is None:
            return None
        self.mutate_after_calls -= 1
        if self.mutate_after_calls > 0:
            return None
        mutation, self.scheduled_mutation, self.mutate_after_calls = self.scheduled_mutation, None, None
        return mutation

    def to_dict(self) -> dict:
        return {
            "fail_next": self.fail_next,
            "fail_status": self.fail_status,
            "error_rate": self.error_rate,
            "latency_s": self.latency_s,
            "latency_next": self.latency_remaining or 0,
            "malformed_next": self.malformed_next,
            "rate_limit_storm": {"count": self.storm_count, "retry_after": self.storm_retry_after},
            "foreign_tickets": self.foreign_tickets,
            "mutate_after_calls": self.mutate_after_calls,
            "last_scheduled_mutation": self.last_scheduled_result,
        }

    def _take_latency(self) -> float:
        if not self.latency_s:
            return 0.0
        if self.latency_remaining is not None:
            self.latency_remaining -= 1
            if self.latency_remaining <= 0:
                delay, self.latency_s, self.latency_remaining = self.latency_s, 0.0, None
                return delay
        return self.latency_s


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}".rstrip("0").rstrip(".")


def _int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequest(f"{name} must be a non-negative integer")
    return value


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise BadRequest(f"{name} must be a non-negative number")
    return float(value)
