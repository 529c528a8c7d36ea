"""The commands' one way to a running service: its HTTP API, with the caller's key.

``ServiceClient`` owns one ``requests.Session`` (explicit timeouts on every call) and
turns a refused request into ``ServiceRefused``, whose text names the offending fields of
a 422, so every command reports an error the same way.
"""
from __future__ import annotations

import os
from typing import Any

import requests

TIMEOUT = (3.0, 10.0)
URL_VARIABLE = "TICKETSVC_URL"
# The first of these that is set is the key a command sends (an admin key for ``keys``).
KEY_VARIABLES = ("TICKETSVC_API_KEY", "ADMIN_API_KEY")


def url_from_environment() -> str | None:
    return os.environ.get(URL_VARIABLE) or None


def default_url() -> str:
    return url_from_environment() or "http://127.0.0.1:8000"


def key_from_environment() -> str | None:
    for name in KEY_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    return None


class Unreachable(Exception):
    """The service did not answer (connection refused, timeout, DNS)."""


class ServiceRefused(Exception):
    """The service answered with an error status; ``str()`` is the line(s) to print."""

    def __init__(self, status: int, body: dict, text: str):
        self.status = status
        self.body = body
        super().__init__(describe_error(status, body, text))


def describe_error(status: int, body: dict, text: str = "") -> str:
    """``HTTP 422: <message>`` and, below it, one ``  location.field: problem`` line per
    field the service named in ``errors``."""
    lines = [f"HTTP {status}: {body.get('message') or text[:200] or 'no message'}"]
    errors = body.get("errors")
    if isinstance(errors, dict):
        for location, fields in errors.items():
            if isinstance(fields, dict):
                for field, problems in fields.items():
                    lines.append(f"  {location}.{field}: {_problems(problems)}")
            else:
                lines.append(f"  {location}: {_problems(fields)}")
    return "\n".join(lines)


def _problems(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(_problems(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_problems(v)}" for k, v in value.items())
    return str(value)


class ServiceClient:
    """One service, one session: ``call()`` answers the JSON body of a success."""

    def __init__(self, url: str, api_key: str | None):
        self.base = url.rstrip("/")
        self.session = requests.Session()
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def call(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201, 202), **kwargs: Any) -> dict:
        """The JSON body of a response whose status is in ``ok``; raises ``Unreachable``
        or ``ServiceRefused``."""
        try:
            response = self.session.request(method, self.base + path, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise Unreachable(f"cannot reach {self.base}: {type(exc).__name__}") from None
        body = _json(response)
        if response.status_code not in ok:
            raise ServiceRefused(response.status_code, body, response.text)
        return body

    def close(self) -> None:
        self.session.close()


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
