"""``ticketsvc keys create|list|revoke``: API keys, through a running service or straight
in its database.

- ``--url`` (or ``TICKETSVC_URL``): through the service's HTTP API with an admin key
  (``--api-key``, else ``TICKETSVC_API_KEY``, else ``ADMIN_API_KEY``). Works on every engine.
- Otherwise straight in the database ``MONGO_URL``/``MONGO_DB`` names, with no service
  running: how the first admin key of a deployment is made. On the embedded engine
  (``mongomock://``) that database would be private to this process, so a key made there
  would work nowhere: the command refuses and says what to do instead.

``create`` prints the key alone on stdout (``KEY=$(ticketsvc keys create ...)``) and what
it made on stderr.
"""
from __future__ import annotations

import argparse
from datetime import datetime
from types import MappingProxyType
from typing import Any, Callable, Mapping, Protocol, TextIO

from pymongo.errors import PyMongoError

from ..auth.keys import ApiKeyStore
from ..clock import Clock, SystemClock, isoformat_z
from ..config import ConfigError, Settings
from ..domain import PageRequest
from ..errors import Conflict, NotFound, ServiceError
from ..storage import Database
from .client import ServiceClient, ServiceRefused, Unreachable
from .exits import EXIT_CONFLICT, EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE

EMBEDDED_REFUSAL = (
    "error: MONGO_URL=mongomock:// is the embedded engine, whose data lives inside the service's own process: "
    "a key made by this command would exist only in this command's process and work nowhere. "
    "Manage keys through the running service instead: "
    "ticketsvc keys <command> --url http://127.0.0.1:8000 with an admin key in TICKETSVC_API_KEY or ADMIN_API_KEY "
    "(POST /admin/api-keys), or point MONGO_URL at the service's MongoDB."
)
PAGE_SIZE = 100


class KeyBackend(Protocol):
    def create(self, name: str, tenant_id: str | None, admin: bool) -> tuple[dict, str]: ...
    def list(self) -> list[dict]: ...
    def revoke(self, key_id: str) -> dict: ...


class DatabaseKeys:
    """Keys straight in the database (no service needed)."""

    def __init__(self, store: ApiKeyStore):
        self.store = store

    def create(self, name: str, tenant_id: str | None, admin: bool) -> tuple[dict, str]:
        return self.store.create(name=name, tenant_id=tenant_id, admin=admin, actor="cli")

    def list(self) -> list[dict]:
        return _all_pages(lambda page: self.store.list(PageRequest(page, PAGE_SIZE)).body("keys"))

    def revoke(self, key_id: str) -> dict:
        return self.store.revoke(key_id, actor="cli")


class ServiceKeys:
    """Keys through a running service's ``/admin/api-keys`` (an admin key is needed)."""

    def __init__(self, client: ServiceClient):
        self.client = client

    def create(self, name: str, tenant_id: str | None, admin: bool) -> tuple[dict, str]:
        body = {"name": name, **({"admin": True} if admin else {"tenant_id": tenant_id})}
        record = self.client.call("POST", "/admin/api-keys", json=body, ok=(201,))
        return record, record.pop("key")

    def list(self) -> list[dict]:
        return _all_pages(lambda page: self.client.call(
            "GET", "/admin/api-keys", params={"page": page, "page_size": PAGE_SIZE}))

    def revoke(self, key_id: str) -> dict:
        return self.client.call("DELETE", f"/admin/api-keys/{key_id}")


def _all_pages(read_page: Callable[[int], dict]) -> list[dict]:
    rows: list[dict] = []
    page = 1
    while True:
        body = read_page(page)
        rows.extend(body["keys"])
        if not body["keys"] or len(rows) >= body["total"]:
            return rows
        page += 1


def run_keys(args: argparse.Namespace, out: TextIO, err: TextIO, *, database: Database | None = None,
             settings: Settings | None = None, clock: Clock | None = None) -> int:
    """Run one ``keys`` subcommand; returns the exit status.

    With ``args.url`` it goes through the service. Otherwise ``database`` (tests, or a
    caller that already holds one) is used as given and not closed, or one is opened from
    ``settings`` (default: the environment) and closed.
    """
    if getattr(args, "url", None):
        return _through_service(args, out, err)
    try:
        settings = settings or (database.settings if database is not None else Settings.from_env())
    except ConfigError as exc:
        print(f"error: invalid configuration: {exc}", file=err)
        return EXIT_USAGE
    owns_database = database is None
    if owns_database and settings.embedded:
        print(EMBEDDED_REFUSAL, file=err)
        return EXIT_USAGE
    try:
        db = database if database is not None else Database(settings)
        try:
            # The embedded engine builds its indexes here; on a server `db migrate` built them
            # (key_hash and key_id unique) and this only checks, warning if it was not run.
            db.prepare()
            store = ApiKeyStore(db, clock or SystemClock(), admin_key_configured=settings.admin_api_key is not None)
            return _COMMANDS[args.keys_command](DatabaseKeys(store), args, out, err)
        finally:
            if owns_database:
                db.close()
    except PyMongoError as exc:
        print(f"error: MongoDB at {settings.describe()['mongo_url']} failed: {type(exc).__name__}", file=err)
        return EXIT_UNREACHABLE
    except ServiceError as exc:
        print(f"error: {exc.message}", file=err)
        if isinstance(exc, NotFound):
            return EXIT_FAILED
        if isinstance(exc, Conflict):
            return EXIT_CONFLICT
        return EXIT_USAGE


def _through_service(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    client = ServiceClient(args.url, args.api_key)
    try:
        return _COMMANDS[args.keys_command](ServiceKeys(client), args, out, err)
    except Unreachable as exc:
        print(f"error: {exc}", file=err)
        return EXIT_UNREACHABLE
    except ServiceRefused as exc:
        print(f"error: {exc}", file=err)
        if exc.status in (401, 403):
            print("key management needs an admin key: --api-key, or TICKETSVC_API_KEY / ADMIN_API_KEY "
                  "in the environment", file=err)
        return {404: EXIT_FAILED, 409: EXIT_CONFLICT}.get(exc.status,
                                                           EXIT_USAGE if exc.status < 500 else EXIT_FAILED)
    finally:
        client.close()


def _create(keys: KeyBackend, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    record, secret = keys.create(args.name, args.tenant, args.admin)
    print(secret, file=out)
    print(f"created {record['key_id']} ({_scope(record)}, name {record['name']!r}) at "
          f"{_when(record['created_at'])}", file=err)
    print("This is the only time the key is shown: store it now. Only its SHA-256 hash is kept.", file=err)
    return EXIT_OK


def _list(keys: KeyBackend, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    rows = keys.list()
    table = [("KEY_ID", "SCOPE", "NAME", "CREATED_AT", "LAST_USED_AT", "REVOKED_AT")]
    table += [(r["key_id"], _scope(r), r["name"], _when(r.get("created_at")), _when(r.get("last_used_at")),
               _when(r.get("revoked_at"))) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip(), file=out)
    print(f"{len(rows)} key(s)", file=err)
    return EXIT_OK


def _revoke(keys: KeyBackend, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    record = keys.revoke(args.key_id)
    print(f"revoked {record['key_id']} ({_scope(record)}, name {record['name']!r}) at "
          f"{_when(record['revoked_at'])}", file=out)
    return EXIT_OK


def _scope(record: dict) -> str:
    return "admin" if record["admin"] else f"tenant {record['tenant_id']}"


def _when(value: Any) -> str:
    """A time as the service writes it (``...Z``), whether a datetime (database) or
    already a string (HTTP); ``-`` for none."""
    if isinstance(value, datetime):
        return isoformat_z(value) or "-"
    return value or "-"


_COMMANDS: Mapping[str, Callable[[KeyBackend, argparse.Namespace, TextIO, TextIO], int]] = MappingProxyType({
    "create": _create,
    "list": _list,
    "revoke": _revoke,
})
