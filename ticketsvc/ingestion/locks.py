"""Leases on a named resource, taken and kept with single atomic MongoDB operations.

A lease document in ``locks`` is ``{_id: resource, owner, acquired_at, expires_at}``. Taking
it is one ``find_one_and_update`` with upsert that matches only an expired lease: if a live
lease exists the filter misses, the upsert collides on ``_id`` and the caller learns who
holds it. Only the owner can refresh or release; a lapsed lease can be taken over.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from ..clock import Clock


@dataclass(frozen=True)
class LeaseHeld(Exception):
    """The resource is leased by ``owner`` until ``expires_at``."""

    resource: str
    owner: str | None
    expires_at: datetime | None


class LeaseLock:
    def __init__(self, collection: Any, clock: Clock, ttl_s: float):
        self.collection = collection
        self.clock = clock
        self.ttl = timedelta(seconds=ttl_s)

    def acquire(self, resource: str, owner: str) -> datetime:
        """Take the lease for ``owner``; returns its expiry. Raises ``LeaseHeld`` if taken."""
        now = self.clock.now()
        try:
            doc = self.collection.find_one_and_update(
                {"_id": resource, "expires_at": {"$lte": now}},
                {"$set": {"owner": owner, "acquired_at": now, "expires_at": now + self.ttl}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            holder = self.collection.find_one({"_id": resource}) or {}
            raise LeaseHeld(resource, holder.get("owner"), holder.get("expires_at")) from None
        return doc["expires_at"]

    def refresh(self, resource: str, owner: str) -> bool:
        """Extend the lease if ``owner`` still holds it; False means it was lost."""
        now = self.clock.now()
        result = self.collection.update_one(
            {"_id": resource, "owner": owner, "expires_at": {"$gt": now}},
            {"$set": {"expires_at": now + self.ttl}},
        )
        return result.matched_count == 1

    def release(self, resource: str, owner: str) -> bool:
        """Give the lease up; a no-op (False) if someone else holds it now."""
        return self.collection.delete_one({"_id": resource, "owner": owner}).deleted_count == 1

    def release_expired(self, resource: str, owner: str) -> bool:
        """Free a lease of a dead owner, only if it has lapsed (the reaper's move)."""
        return self.collection.delete_one(
            {"_id": resource, "owner": owner, "expires_at": {"$lte": self.clock.now()}}
        ).deleted_count == 1

    def holder(self, resource: str) -> dict | None:
        """The live lease on ``resource``, or None."""
        return self.collection.find_one({"_id": resource, "expires_at": {"$gt": self.clock.now()}})
