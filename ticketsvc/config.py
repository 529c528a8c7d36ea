"""Settings: every knob of the service, read once from the environment and validated.

An invalid value stops start-up with a ``ConfigError`` naming the variable, so a typo in a
deployment fails loudly instead of running with a surprising default.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Mapping
from urllib.parse import unquote

from .domain import is_tenant_id



class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


def _int(minimum: int | None = None, maximum: int | None = None) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not an integer") from None
        if minimum is not None and value < minimum:
            raise ConfigError(f"{name}={value} must be >= {minimum}")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{name}={value} must be <= {maximum}")
        return value

    return parse


def _float(minimum: float | None = None, exclusive_min: bool = False) -> Callable[[str, str], float]:
    def parse(name: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{name}={raw!r} is not a finite number")
        if minimum is not None and (value <= minimum if exclusive_min else value < minimum):
            op = ">" if exclusive_min else ">="
            raise ConfigError(f"{name}={value} must be {op} {minimum}")
        return value

    return parse


def _choice(*choices: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ConfigError(f"{name}={raw!r} must be one of {', '.join(choices)}")
        return value

    return parse


def _str(name: str, raw: str) -> str:
    return raw.strip()


def _optional_str(name: str, raw: str) -> str | None:
    return raw.strip() or None


def _url(name: str, raw: str) -> str:
    value = raw.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+", value):
        raise ConfigError(f"{name}={raw!r} must be an http(s) URL")
    return value


def _mongo_url(name: str, raw: str) -> str:
    value = raw.strip()
    if not (value.startswith("mongomock://") or value.startswith(("mongodb://", "mongodb+srv://"))):
        raise ConfigError(f"{name}={raw!r} must start with mongomock://, mongodb:// or mongodb+srv://")
    return value


def _db_name(name: str, raw: str) -> str:
    value = raw.strip()
    if not re.match(r"^[A-Za-z0-9_-]{1,63}$", value):
        raise ConfigError(f"{name}={raw!r} is not a valid database name")
    return value


def database_in_url(url: str) -> str | None:
    """The database named in a MongoDB URL's path (``mongodb://host/<db>?...``), or None."""
    if not url.startswith(("mongodb://", "mongodb+srv://")):
        return None
    rest = url.split("://", 1)[1]
    path = rest.split("/", 1)[1] if "/" in rest else ""
    return unquote(path.split("?", 1)[0]) or None


def setting(variable: str, default: str, parse: Callable[[str, str], Any]) -> Any:
    """Declare a field of ``Settings``: the environment variable it is read from, its
    default (as the variable would spell it) and the parser that validates it."""
    return field(metadata={"variable": variable, "default": default, "parse": parse})


@dataclass(frozen=True)
class Settings:
    """Every knob, each declared once: its type, variable, default and parser."""

    mongo_url: str = setting("MONGO_URL", "mongomock://", _mongo_url)
    mongo_db: str = setting("MONGO_DB", "ticketsvc", _db_name)
    mongo_pool_size: int = setting("MONGO_POOL_SIZE", "50", _int(1, 1000))
    # Outlasts a replica-set election (about 10 s), so a failover stalls requests instead of failing them.
    mongo_server_selection_timeout_ms: int = setting("MONGO_SERVER_SELECTION_TIMEOUT_MS", "15000", _int(100))
    mongo_connect_timeout_ms: int = setting("MONGO_CONNECT_TIMEOUT_MS", "3000", _int(100))
    mongo_socket_timeout_ms: int = setting("MONGO_SOCKET_TIMEOUT_MS", "10000", _int(100))
    # The server-side limit (maxTimeMS) on every read the API serves; below the socket timeout.
    mongo_max_time_ms: int = setting("MONGO_MAX_TIME_MS", "5000", _int(1))
    # Retention (days; 0 keeps forever), enforced by TTL indexes built by ``db migrate``.
    alert_retention_days: int = setting("ALERT_RETENTION_DAYS", "30", _int(0, 36500))
    audit_retention_days: int = setting("AUDIT_RETENTION_DAYS", "90", _int(0, 36500))
    history_retention_days: int = setting("HISTORY_RETENTION_DAYS", "365", _int(0, 36500))
    external_api_url: str = setting("EXTERNAL_API_URL", "http://127.0.0.1:9000", _url)
    external_page_size: int = setting("EXTERNAL_PAGE_SIZE", "100", _int(1, 100))
    rate_limit_calls: int = setting("RATE_LIMIT_CALLS", "60", _int(1))
    rate_limit_window_s: float = setting("RATE_LIMIT_WINDOW_S", "60", _float(0, exclusive_min=True))
    lock_ttl_s: float = setting("LOCK_TTL_S", "60", _float(0, exclusive_min=True))
    lock_heartbeat_s: float = setting("LOCK_HEARTBEAT_S", "15", _float(0, exclusive_min=True))
    cb_window: int = setting("CB_WINDOW", "10", _int(1, 1000))
    cb_failure_threshold: int = setting("CB_FAILURE_THRESHOLD", "5", _int(1, 1000))
    cb_open_s: float = setting("CB_OPEN_S", "30", _float(0, exclusive_min=True))
    notify_max_attempts: int = setting("NOTIFY_MAX_ATTEMPTS", "10", _int(1, 1000))
    notify_backoff_base_s: float = setting("NOTIFY_BACKOFF_BASE_S", "1", _float(0))
    notify_backoff_max_s: float = setting("NOTIFY_BACKOFF_MAX_S", "60", _float(0))
    notify_timeout_s: float = setting("NOTIFY_TIMEOUT_S", "2", _float(0, exclusive_min=True))
    notify_concurrency: int = setting("NOTIFY_CONCURRENCY", "8", _int(1, 64))
    notify_batch_size: int = setting("NOTIFY_BATCH_SIZE", "32", _int(1, 1000))
    notify_poll_s: float = setting("NOTIFY_POLL_S", "1", _float(0, exclusive_min=True))
    notify_lease_s: float = setting("NOTIFY_LEASE_S", "30", _float(0, exclusive_min=True))
    ingest_workers: int = setting("INGEST_WORKERS", "4", _int(1, 64))
    sync_interval_s: float = setting("SYNC_INTERVAL_S", "900", _float(0))
    full_sync_interval_s: float = setting("FULL_SYNC_INTERVAL_S", "86400", _float(0))
    reaper_interval_s: float = setting("REAPER_INTERVAL_S", "15", _float(0, exclusive_min=True))
    http_connect_timeout_s: float = setting("HTTP_CONNECT_TIMEOUT_S", "3", _float(0, exclusive_min=True))
    http_read_timeout_s: float = setting("HTTP_READ_TIMEOUT_S", "10", _float(0, exclusive_min=True))
    http_total_timeout_s: float = setting("HTTP_TOTAL_TIMEOUT_S", "30", _float(0, exclusive_min=True))
    upstream_max_response_bytes: int = setting("UPSTREAM_MAX_RESPONSE_BYTES", "10485760", _int(1024))
    http_max_attempts: int = setting("HTTP_MAX_ATTEMPTS", "5", _int(1, 20))
    http_backoff_base_s: float = setting("HTTP_BACKOFF_BASE_S", "0.5", _float(0))
    http_backoff_max_s: float = setting("HTTP_BACKOFF_MAX_S", "8", _float(0))
    health_timeout_s: float = setting("HEALTH_TIMEOUT_S", "2", _float(0, exclusive_min=True))
    auth_mode: str = setting("AUTH_MODE", "keys", _choice("keys", "off"))
    admin_api_key: str | None = setting("ADMIN_API_KEY", "", _optional_str)
    classifier_rules_path: str | None = setting("CLASSIFIER_RULES_PATH", "", _optional_str)
    max_request_bytes: int = setting("MAX_REQUEST_BYTES", "65536", _int(1024))
    log_level: str = setting("LOG_LEVEL", "INFO", _choice("debug", "info", "warning", "error"))
    log_format: str = setting("LOG_FORMAT", "text", _choice("text", "json"))
    metrics_tenant_labels: str = setting("METRICS_TENANT_LABELS", "", _str)
    embedded_data_file: str | None = setting("EMBEDDED_DATA_FILE", "", _optional_str)
    embedded_snapshot_interval_s: float = setting("EMBEDDED_SNAPSHOT_INTERVAL_S", "300", _float(0, exclusive_min=True))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Read every variable (default when unset), validate, then apply ``overrides`` (tests)."""
        environ = os.environ if environ is None else environ
        values = {}
        for spec in fields(cls):
            var, default, parse = spec.metadata["variable"], spec.metadata["default"], spec.metadata["parse"]
            raw = environ.get(var)
            values[spec.name] = parse(var, default if raw is None or raw == "" else raw)
        if not (environ.get("MONGO_DB") or "").strip():
            # No MONGO_DB: the database named in MONGO_URL's path, if any (MONGO_DB wins when set).
            named = database_in_url(values["mongo_url"])
            if named:
                values["mongo_db"] = _db_name("MONGO_URL", named)
        settings = cls(**values)
        if overrides:
            settings = replace(settings, **overrides)
        settings.validate()
        return settings

    def with_overrides(self, **overrides: Any) -> "Settings":
        settings = replace(self, **overrides)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Cross-field rules that single-variable parsing cannot see."""
        if self.lock_heartbeat_s >= self.lock_ttl_s:
            raise ConfigError(
                f"LOCK_HEARTBEAT_S={self.lock_heartbeat_s} must be shorter than LOCK_TTL_S={self.lock_ttl_s}"
            )
        if self.http_total_timeout_s >= self.lock_ttl_s:
            raise ConfigError(
                f"HTTP_TOTAL_TIMEOUT_S={self.http_total_timeout_s} must be shorter than LOCK_TTL_S={self.lock_ttl_s}: "
                "a stuck upstream call must never outlive the tenant's lease"
            )
        if self.cb_failure_threshold > self.cb_window:
            raise ConfigError(
                f"CB_FAILURE_THRESHOLD={self.cb_failure_threshold} cannot exceed CB_WINDOW={self.cb_window}"
            )
        if self.notify_backoff_max_s < self.notify_backoff_base_s:
            raise ConfigError("NOTIFY_BACKOFF_MAX_S must be >= NOTIFY_BACKOFF_BASE_S")
        if self.mongo_max_time_ms >= self.mongo_socket_timeout_ms:
            raise ConfigError(f"MONGO_MAX_TIME_MS={self.mongo_max_time_ms} must be shorter than "
                              f"MONGO_SOCKET_TIMEOUT_MS={self.mongo_socket_timeout_ms}: the server must give up first")
        if self.http_backoff_max_s < self.http_backoff_base_s:
            raise ConfigError("HTTP_BACKOFF_MAX_S must be >= HTTP_BACKOFF_BASE_S")
        if self.embedded_data_file and not self.embedded:
            raise ConfigError("EMBEDDED_DATA_FILE applies to the embedded engine only (MONGO_URL=mongomock://); "
                              "unset it with a real MongoDB")
        for tenant in self.metrics_tenants:
            if not is_tenant_id(tenant):
                raise ConfigError(f"METRICS_TENANT_LABELS has an invalid tenant id {tenant!r}")

    @property
    def embedded(self) -> bool:
        return self.mongo_url.startswith("mongomock://")

    @property
    def engine(self) -> str:
        return "embedded" if self.embedded else "mongodb"

    @property
    def metrics_all_tenants(self) -> bool:
        """``METRICS_TENANT_LABELS=all``: every tenant is a label value, up to the cap in metrics.py."""
        return self.metrics_tenant_labels.strip().lower() == "all"

    @property
    def metrics_tenants(self) -> frozenset[str]:
        """Tenants listed as metrics label values; others are reported as ``other``
        (empty with ``all``, see ``metrics_all_tenants``)."""
        if self.metrics_all_tenants:
            return frozenset()
        return frozenset(t.strip() for t in self.metrics_tenant_labels.split(",") if t.strip())

    def describe(self) -> dict[str, Any]:
        """The settings as a dict safe to log: secrets masked."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if out["admin_api_key"]:
            out["admin_api_key"] = "***"
        out["mongo_url"] = re.sub(r"//[^@/]*@", "//***@", out["mongo_url"])
        return out
