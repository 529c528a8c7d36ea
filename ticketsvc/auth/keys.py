"""API keys: how they are made, how they are stored, and how a presented key is recognised.

A key is ``tsk_`` + 32 random bytes (URL-safe base64). It is shown once, at creation;
``api_keys`` holds only its SHA-256 hash, with ``key_id`` (public, names the key in
listings, logs and revocation), ``name``, ``tenant_id`` or ``admin: true``,
``created_at``, ``last_used_at`` and ``revoked_at``. Every lookup reads MongoDB, so a
revocation made through any worker (or the CLI) holds on the very next request
everywhere: there is no cache of keys in process memory.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument

from ..clock import Clock, utc
from ..storage import Database
from ..domain import TENANT_ID_PATTERN, Page, PageRequest, is_tenant_id, read_page
from ..errors import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)

KEY_PREFIX = "tsk_"
KEY_BYTES = 32
KEY_ID_PATTERN = r"^key_[0-9a-f]{16}$"
NAME_MAX_CHARS = 100
# A presented key longer than this is not one of ours (ours are ~47 characters); refusing
# it before hashing keeps a huge header from costing anything.
MAX_PRESENTED_CHARS = 512
# last_used_at is a hint for operators ("is this key still in use?"), not an audit log:
# refreshing it at most once a minute per key keeps authentication a read, not a write.
TOUCH_INTERVAL = timedelta(seconds=60)
# What the API and the CLI show of a key: never its hash, never Mongo's _id.
PUBLIC_FIELDS = ("key_id", "name", "tenant_id", "admin", "created_at", "last_used_at", "revoked_at")
LISTING_ORDER = [("created_at", DESCENDING), ("key_id", ASCENDING)]

_PUBLIC_VIEW = {"_id": 0, **{name: 1 for name in PUBLIC_FIELDS}}


def generate_key() -> str:
    """A new secret: a recognisable prefix (so a leaked key is easy to spot and to scan
    for) and 32 bytes from the OS's CSPRNG."""
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def hash_key(key: str) -> str:
    """The stored form of a key: its SHA-256, hex.

    A fast, unsalted hash is right here, unlike for passwords: the keys are 256-bit random
    values, so there is no dictionary to try and brute force over the key space is out of
    reach however fast the hash is; salting or stretching would only make the per-request
    lookup slower and stop it from being an indexed equality match.
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: one key, scoped to a tenant or admin."""

    key_id: str
    name: str
    tenant_id: str | None
    admin: bool

    def may_access(self, tenant_id: str) -> bool:
        """Admin keys reach every tenant; a tenant key only its own."""
        return self.admin or (self.tenant_id is not None and self.tenant_id == tenant_id)


def _ms(moment: datetime) -> datetime:
    # BSON keeps milliseconds: what the creation response shows must equal what listings show later.
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _public(record: dict[str, Any]) -> dict[str, Any]:
    view = {name: record.get(name) for name in PUBLIC_FIELDS}
    view["admin"] = bool(view["admin"])
    for name in ("created_at", "last_used_at", "revoked_at"):
        if view[name] is not None:
            view[name] = utc(view[name])
    return view


class ApiKeyStore:
    """The ``api_keys`` collection: create, look up, list and revoke keys.

    ``admin_key_configured``: an ADMIN_API_KEY is set, so stored admin keys are not the
    only way in (it decides whether the last one may be revoked).
    """

    def __init__(self, db: Database, clock: Clock, *, admin_key_configured: bool):
        self.collection = db.api_keys
        self.clock = clock
        self.admin_key_configured = admin_key_configured

    def create(self, *, name: str, tenant_id: str | None = None, admin: bool = False,
               actor: str = "-") -> tuple[dict[str, Any], str]:
        """Store a new key for ``tenant_id`` or, with ``admin``, for everything; ``actor``
        (who asked: a key id, or "cli") goes to the log.

        Returns the public record and the secret; the secret is not kept anywhere and
        cannot be read again. Raises ``InvalidInput`` naming the field on bad input.
        """
        name = (name or "").strip()
        if not name or len(name) > NAME_MAX_CHARS or not name.isprintable():
            raise InvalidInput(f"must be 1-{NAME_MAX_CHARS} printable characters", field="name")
        if admin and tenant_id is not None:
            raise InvalidInput("give either tenant_id or admin: true, not both", field="admin")
        if not admin and not is_tenant_id(tenant_id):
            raise InvalidInput("a tenant id (" + TENANT_ID_PATTERN + "), or admin: true", field="tenant_id")
        secret = generate_key()
        record = {
            "key_id": "key_" + secrets.token_hex(8),
            "key_hash": hash_key(secret),
            "name": name,
            "tenant_id": None if admin else tenant_id,
            "admin": bool(admin),
            "created_at": _ms(self.clock.now()),
            "last_used_at": None,
            "revoked_at": None,
        }
        self.collection.insert_one(dict(record))
        log.info("api key created key_id=%s tenant=%s admin=%s by=%s", record["key_id"], record["tenant_id"],
                 record["admin"], actor)
        return _public(record), secret

    def find_active(self, key: str) -> dict[str, Any] | None:
        """The live (unrevoked) record whose hash matches ``key``, or None.

        One indexed equality read on ``key_hash``. The final comparison is constant-time;
        what a timing side channel in the index lookup could reveal is the hash, which is
        of no use without the key itself.
        """
        if not key or len(key) > MAX_PRESENTED_CHARS:
            return None
        digest = hash_key(key)
        record = self.collection.find_one({"key_hash": digest})
        if record is None or not hmac.compare_digest(record.get("key_hash", ""), digest):
            return None
        if record.get("revoked_at") is not None:
            return None
        return record

    def touch(self, record: dict[str, Any]) -> None:
        """Set ``last_used_at`` to now if it is unset or older than ``TOUCH_INTERVAL``.

        Skipped without a write when the record just read is fresh; when it is stale the
        conditional update lets one request (of any worker) win and makes the others no-ops.
        """
        now = self.clock.now()
        cutoff = now - TOUCH_INTERVAL
        last = record.get("last_used_at")
        if last is not None and utc(last) > cutoff:
            return
        self.collection.update_one(
            {"key_id": record["key_id"], "$or": [{"last_used_at": None}, {"last_used_at": {"$lte": cutoff}}]},
            {"$set": {"last_used_at": _ms(now)}},
        )

    def get(self, key_id: str) -> dict[str, Any]:
        """A key's public record; ``NotFound`` if there is none."""
        record = self.collection.find_one({"key_id": key_id}, _PUBLIC_VIEW)
        if record is None:
            raise NotFound(f"unknown API key {key_id}")
        return _public(record)

    def list(self, request: PageRequest, tenant_id: str | None = None) -> Page:
        """One page of keys (revoked ones included, marked), newest first, and the total."""
        criteria: dict[str, Any] = {} if tenant_id is None else {"tenant_id": tenant_id}
        page = read_page(self.collection, criteria, request, LISTING_ORDER, _PUBLIC_VIEW)
        return replace(page, items=[_public(row) for row in page.items])

    def has_active_admin(self) -> bool:
        """Is there at least one unrevoked admin key in storage?"""
        return self.collection.find_one({"admin": True, "revoked_at": None}, {"_id": 1}) is not None

    def revoke(self, key_id: str, *, actor: str = "-") -> dict[str, Any]:
        """Revoke a key at once, for every worker; returns its public record.

        Revoking a revoked key returns it unchanged (idempotent). Without a configured
        ADMIN_API_KEY, revoking the last unrevoked admin key raises ``Conflict``: no one
        could administer keys any more, and the service would refuse its next start.
        (Two concurrent revocations of the last two admin keys can both pass; the CLI
        creates a new one.) Raises ``NotFound`` for an unknown key.
        """
        existing = self.collection.find_one({"key_id": key_id}, _PUBLIC_VIEW)
        if existing is None:
            raise NotFound(f"unknown API key {key_id}")
        if existing.get("revoked_at") is not None:
            return _public(existing)
        if not self.admin_key_configured and existing.get("admin"):
            others = self.collection.find_one(
                {"admin": True, "revoked_at": None, "key_id": {"$ne": key_id}}, {"_id": 1})
            if others is None:
                raise Conflict("this is the last unrevoked admin key and ADMIN_API_KEY is not set: "
                               "create another admin key first", key_id=key_id)
        updated = self.collection.find_one_and_update(
            {"key_id": key_id, "revoked_at": None},
            {"$set": {"revoked_at": _ms(self.clock.now())}},
            projection=_PUBLIC_VIEW, return_document=ReturnDocument.AFTER,
        )
        log.info("api key revoked key_id=%s by=%s", key_id, actor)
        # None: a concurrent revocation won the race; the key is revoked either way.
        return _public(updated if updated is not None else self.collection.find_one({"key_id": key_id}, _PUBLIC_VIEW))
