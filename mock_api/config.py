"""The mock's settings: immutable values, replaced whole when an admin call changes them."""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace

from .clock import parse_iso

DEFAULT_TENANTS = ("tenant_a", "tenant_b", "tenant_c", "tenant_d")
DEFAULT_TENANT_WEIGHTS = (4.0, 3.0, 2.0, 1.0)
TENANT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class ConfigError(ValueError):
    """An invalid setting; the message names it."""


@dataclass(frozen=True)
class NotifyConfig:
    """How unstable ``POST /notify`` is."""

    fail_first_attempts: int = 2
    fail_share: float = 1.0
    latency_ms: tuple[float, float] = (100.0, 500.0)
    outage_after_failures: int = 10
    outage_s: float = 30.0

    def validate(self) -> "NotifyConfig":
        _int(self.fail_first_attempts, "notify.fail_first_attempts", minimum=0)
        _number(self.fail_share, "notify.fail_share", minimum=0.0, maximum=1.0)
        if not isinstance(self.latency_ms, (tuple, list)) or len(self.latency_ms) != 2:
            raise ConfigError("notify.latency_ms must be [min, max]")
        low, high = (_number(v, "notify.latency_ms", minimum=0.0) for v in self.latency_ms)
        if low > high:
            raise ConfigError("notify.latency_ms: min must not exceed max")
        _int(self.outage_after_failures, "notify.outage_after_failures", minimum=0)
        _number(self.outage_s, "notify.outage_s", minimum=0.0)
        return self


@dataclass(frozen=True)
class MockConfig:
    """Everything a mock upstream is built from. ``now=None`` means the clock at start-up."""

    seed: int = 42
    tickets: int = 10_000
    tenants: tuple[str, ...] = DEFAULT_TENANTS
    tenant_weights: tuple[float, ...] | None = None
    now: float | str | None = None
    history_days: float = 30.0
    recent_share: float = 0.04
    rate_limit_calls: int = 60
    rate_limit_window_s: float = 60.0
    change_feed: bool = True  # off: /external/ticket-changes answers 404 (an upstream without it)
    notify: NotifyConfig = field(default_factory=NotifyConfig)

    def validate(self) -> "MockConfig":
        """Return self if every setting is valid; raise ConfigError naming the first bad one."""
        _int(self.seed, "seed")
        _int(self.tickets, "tickets", minimum=0)
        if not isinstance(self.tenants, (tuple, list)) or not self.tenants:
            raise ConfigError("tenants must be a non-empty list")
        for tenant in self.tenants:
            if not isinstance(tenant, str) or not TENANT_ID.match(tenant):
                raise ConfigError(f"tenants: invalid tenant id {tenant!r}")
        if len(set(self.tenants)) != len(self.tenants):
            raise ConfigError("tenants must be unique")
        if self.tenant_weights is not None:
            if len(self.tenant_weights) != len(self.tenants):
                raise ConfigError("tenant_weights must have one weight per tenant")
            for weight in self.tenant_weights:
                _number(weight, "tenant_weights", minimum=0.0)
            if sum(self.tenant_weights) <= 0:
                raise ConfigError("tenant_weights must not all be zero")
        if self.now is not None:
            try:
                parse_iso(self.now)
            except ValueError:
                raise ConfigError(f"now: not an ISO 8601 time: {self.now!r}") from None
        _number(self.history_days, "history_days", minimum=0.0)
        _number(self.recent_share, "recent_share", minimum=0.0, maximum=1.0)
        _int(self.rate_limit_calls, "rate_limit_calls", minimum=1)
        _number(self.rate_limit_window_s, "rate_limit_window_s", minimum=0.0)
        if self.rate_limit_window_s <= 0:
            raise ConfigError("rate_limit_window_s must be > 0")
        if not isinstance(self.change_feed, bool):
            raise ConfigError("change_feed must be true or false")
        if not isinstance(self.notify, NotifyConfig):
            raise ConfigError("notify must be a NotifyConfig")
        self.notify.validate()
        return self

    def weights(self) -> tuple[float, ...]:
        """Tenant sizes: given weights, else 4:3:2:1-like decreasing weights (unequal on purpose)."""
        if self.tenant_weights is not None:
            return tuple(float(w) for w in self.tenant_weights)
        if tuple(self.tenants) == DEFAULT_TENANTS:
            return DEFAULT_TENANT_WEIGHTS
        return tuple(float(len(self.tenants) - i) for i in range(len(self.tenants)))

    def with_data(self, body: dict) -> "MockConfig":
        """The config ``POST /admin/reset`` asks for: seed, tickets, tenants, now."""
        _only(body, {"seed", "tickets", "tenants", "tenant_weights", "now"}, "reset")
        changes = dict(body)
        if "tenants" in changes:
            if not isinstance(changes["tenants"], list):
                raise ConfigError("tenants must be a list")
            changes["tenants"] = tuple(changes["tenants"])
            if "tenant_weights" not in changes:
                changes["tenant_weights"] = None
        if changes.get("tenant_weights") is not None:
            if not isinstance(changes["tenant_weights"], list):
                raise ConfigError("tenant_weights must be a list")
            changes["tenant_weights"] = tuple(changes["tenant_weights"])
        return replace(self, **changes).validate()

    def with_limits(self, body: dict) -> "MockConfig":
        """The config ``POST /admin/config`` asks for: rate limit, change feed on or off,
        notify behaviour."""
        _only(body, {"rate_limit_calls", "rate_limit_window_s", "change_feed", "notify"}, "config")
        changes = {k: v for k, v in body.items() if k != "notify"}
        if "rate_limit_window_s" in changes:
            changes["rate_limit_window_s"] = _number(changes["rate_limit_window_s"], "rate_limit_window_s")
        if "notify" in body:
            notify_body = body["notify"]
            if not isinstance(notify_body, dict):
                raise ConfigError("notify must be an object")
            _only(notify_body, {f for f in NotifyConfig.__dataclass_fields__}, "notify")
            notify_changes = dict(notify_body)
            if "latency_ms" in notify_changes:
                latency = notify_changes["latency_ms"]
                if not isinstance(latency, list) or len(latency) != 2:
                    raise ConfigError("notify.latency_ms must be [min, max]")
                notify_changes["latency_ms"] = tuple(float(_number(v, "notify.latency_ms")) for v in latency)
            changes["notify"] = replace(self.notify, **notify_changes)
        return replace(self, **changes).validate()

    def to_dict(self) -> dict:
        data = asdict(self)
        data["tenants"] = list(self.tenants)
        data["tenant_weights"] = list(self.weights())
        data["notify"]["latency_ms"] = list(self.notify.latency_ms)
        return data


def _only(body, allowed: set[str], what: str) -> None:
    if not isinstance(body, dict):
        raise ConfigError(f"{what}: body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ConfigError(f"{what}: unknown field(s) {', '.join(unknown)}")


def _int(value, name: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}")
    return value


def _number(value, name: str, minimum: float | None = None, maximum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a number")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be <= {maximum}")
    return value
