"""LeaseLock: one holder per named resource (``ingest:<tenant>``), a policy over a
``TokenLease`` on ``locks``.

A lease document is ``{_id: resource, owner, acquired_at, expires_at}``. Taking it is one
atomic upsert that matches only a lapsed lease: while a live lease exists the insert
collides on ``_id`` and the caller learns who holds it. Only the owner refreshes or
releases; a lapsed lease can be taken over.

Releasing never raises for a storage failure (``TokenLease`` has already tried the write
once more after a failover): a run ending during an election must still write its final
record, and a lease left behind lapses by itself after ``LOCK_TTL_S``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.errors import PyMongoError

from ..storage.lease import TokenLease

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseHeld(Exception):
    """The resource is leased by ``owner`` until ``expires_at``."""

    resource: str
    owner: str | None
    expires_at: datetime | None


class LeaseLock:
    def __init__(self, collection: Any, ttl_s: float):
        self.lease = TokenLease(collection, token="owner", expiry="expires_at")
        self.ttl = timedelta(seconds=ttl_s)

    def acquire(self, resource: str, owner: str, now: datetime) -> datetime:
        """Take the lease for ``owner``; returns its expiry. Raises ``LeaseHeld`` if taken."""
        doc = self.lease.take({"_id": resource}, now, now + self.ttl, token=owner,
                              fields={"acquired_at": now}, upsert=True)
        if doc is None:
            holder = self.lease.collection.find_one({"_id": resource}) or {}
            raise LeaseHeld(resource, holder.get("owner"), holder.get("expires_at"))
        return doc["expires_at"]

    def refresh(self, resource: str, owner: str, now: datetime) -> bool:
        """Extend the lease if ``owner`` still holds it; False means it was lost."""
        return self.lease.extend({"_id": resource}, owner, now, now + self.ttl)

    def release(self, resource: str, owner: str) -> bool:
        """Give the lease up; a no-op (False) if someone else holds it now, or if storage
        failed (logged: the lease lapses at its expiry)."""
        return self._drop(resource, owner, None)

    def release_expired(self, resource: str, owner: str, now: datetime) -> bool:
        """Free a lease of a dead owner, only if it has lapsed (the reaper's move)."""
        return self._drop(resource, owner, now)

    def _drop(self, resource: str, owner: str, lapsed_by: datetime | None) -> bool:
        try:
            return self.lease.drop({"_id": resource}, owner, lapsed_by=lapsed_by)
        except PyMongoError as error:
            log.warning("lease %s of %s not released (%s: %s); it lapses at its expiry",
                        resource, owner, type(error).__name__, error)
            return False

    def holder(self, resource: str, now: datetime) -> dict | None:
        """The live lease on ``resource``, or None."""
        return self.lease.holder({"_id": resource}, now)
