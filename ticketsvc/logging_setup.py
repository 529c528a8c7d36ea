"""Log lines an operator can ship: one format for the app's lines and gunicorn's.

``LOG_FORMAT=text`` (default) writes ``time level pid logger [request_id] message``;
``LOG_FORMAT=json`` writes one JSON object per line with the same facts as fields, plus the
``key=value`` pairs of the message (``job_id``, ``tenant``, ``status``, ``counts`` ...) and
the log context as fields of their own. Either way, a dict or list passed as a log argument
is written as JSON (``counts={"fetched": 3964, ...}``), never as a Python repr.

The log context (``ticketsvc.logcontext``: ``request_id``, ``job_id``, ``tenant``) is
stamped on every line written inside it, in whatever thread.

gunicorn gets the same handler through ``logging_config()`` (its ``logconfig_dict``), so its
error and access lines read like the app's.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

from .logcontext import capture_log_context

LOG_FORMATS = ("text", "json")
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s [%(request_id)s] %(message)s"


def as_json(value: Any) -> str:
    return json.dumps(value, default=str, separators=(", ", ": "))


class ContextFilter(logging.Filter):
    """Stamps ``request_id`` and the log context on each record, and turns dict/list
    arguments into JSON text before the message is formatted."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = capture_log_context()
        if not hasattr(record, "request_id"):
            record.request_id = context.get("request_id", "-")
        record.log_context = context
        if isinstance(record.args, tuple) and any(isinstance(a, (dict, list, set, frozenset)) for a in record.args):
            record.args = tuple(as_json(sorted(a) if isinstance(a, (set, frozenset)) else a)
                                if isinstance(a, (dict, list, set, frozenset)) else a for a in record.args)
        return True


class TextFormatter(logging.Formatter):
    """The text line, with context fields the message does not already name appended."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = [f"{k}={v}" for k, v in getattr(record, "log_context", {}).items()
                 if k != "request_id" and f"{k}=" not in record.getMessage()]
        return line if not extra else f"{line} {' '.join(extra)}"


_KEY = re.compile(r"(?:^|(?<=[\s(,]))([A-Za-z_][A-Za-z0-9_]*)=")
_DECODER = json.JSONDecoder()


def message_fields(message: str) -> dict[str, Any]:
    """The ``key=value`` pairs of a message; a value that starts a JSON object or list is
    read as JSON, a number as a number, ``None`` as null."""
    fields: dict[str, Any] = {}
    for match in _KEY.finditer(message):
        start = match.end()
        value: Any
        if message[start:start + 1] in ("{", "["):
            try:
                value, _ = _DECODER.raw_decode(message, start)
            except ValueError:
                continue
        else:
            end = start
            while end < len(message) and not message[end].isspace():
                end += 1
            value = _scalar(message[start:end].rstrip(",)"))
        fields.setdefault(match.group(1), value)
    return fields


def _scalar(text: str) -> Any:
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ms), level, pid, logger, request_id, message,
    then as fields of their own: ``extra={"fields": {...}}``, the message's key=value pairs
    and the log context; and any exception."""

    _RESERVED = frozenset({"time", "level", "pid", "logger", "message", "exception"})

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "pid": record.process,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": message,
        }
        for source in (getattr(record, "fields", {}), message_fields(message), getattr(record, "log_context", {})):
            for key, value in source.items():
                if key not in self._RESERVED:
                    entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str)


class ServiceLogHandler(logging.StreamHandler):
    """The one stderr handler: the app's and gunicorn's lines all pass through it."""

    def __init__(self, log_format: str = "text", stream: Any = None):
        super().__init__(stream or sys.stderr)
        self.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
        self.addFilter(ContextFilter())


def logging_config(level: str, log_format: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict (gunicorn's ``logconfig_dict``): the service
    handler on the root logger, gunicorn's loggers writing through it."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"service": {"()": ServiceLogHandler, "log_format": log_format}},
        "root": {"level": level.upper(), "handlers": ["service"]},
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
            # gunicorn logs every request when a logconfig_dict is set; the app already does
            # (ticketsvc.access, with the request id and latency), so gunicorn's copy is muted.
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
            "apscheduler": {"level": "WARNING"},
            "urllib3": {"level": "WARNING"},
        },
    }


def configure_logging(level: str, log_format: str = "text") -> None:
    """Install the service handler on the root logger, unless there is one (gunicorn's
    master installed it from ``logging_config``); idempotent."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    if any(isinstance(handler, ServiceLogHandler) for handler in root.handlers):
        return
    root.addHandler(ServiceLogHandler(log_format))
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
