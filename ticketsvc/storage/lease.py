"""TokenLease: the one storage primitive under every claim this service shares through
MongoDB (the ingestion lease, the rate-limit slots, the breaker's probe, the outbox claims).

A lease is two fields of a document: a ``token`` naming the holder and an ``expiry``. It is
free when the expiry is unset or past. Taking it is one atomic write that matches only a
free lease (with upsert, a live lease makes the insert collide on ``_id``:
``DuplicateKeyError``, as ``limits``' MongoDB storage does); extending and settling match
the token, so a holder whose lease lapsed and was taken over changes nothing.

Policies over it say which documents, for how long, and what settling writes. Every
method takes ``now``: the caller's clock decides, never this module (the runtime's clock
is the database server's, ``storage.servertime``, so hosts agree on when a lease lapses).

Every write is tried once more after a failover (``storage.failover``), and is written so
that the retry of an attempt that landed changes nothing: taking matches a lease its own
token already holds as well as a free one, so it returns the lease rather than reporting
it held (only a counter in ``also``, the breaker's ``version``, counts twice); extending
sets the same expiry again; settling and dropping match the token, so the retry finds
nothing and reports False (the holder's work is done either way).
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Iterable

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from .failover import retry_once


def new_token() -> str:
    return uuid.uuid4().hex


class TokenLease:
    def __init__(self, collection: Any, *, token: str = "token", expiry: str = "expires_at"):
        self.collection = collection
        self.token_field = token
        self.expiry_field = expiry

    def free(self, now: datetime) -> dict[str, Any]:
        """The filter of a free lease: no expiry, or one not after ``now``."""
        return {self.expiry_field: {"$not": {"$gt": now}}}

    def _free_or_mine(self, now: datetime, token: str) -> dict[str, Any]:
        """Free, or already held by ``token`` (a retried take finds its own first attempt)."""
        return {"$and": [{"$or": [self.free(now), {self.token_field: token}]}]}

    def live(self, now: datetime) -> dict[str, Any]:
        """The filter of a held lease."""
        return {self.expiry_field: {"$gt": now}}

    def take(self, match: dict[str, Any], now: datetime, until: datetime, *, token: str | None = None,
             fields: dict[str, Any] | None = None, also: dict[str, Any] | None = None,
             upsert: bool = False) -> dict | None:
        """Take the lease of one document matching ``match`` whose lease is free, writing
        ``fields`` (and the update operators ``also``) with it; return the document as
        taken, or None when none was free (with ``upsert``: the document's lease is live)."""
        token = token or new_token()
        update = {**(also or {}), "$set": {**(fields or {}), self.token_field: token, self.expiry_field: until}}
        try:
            return retry_once(lambda: self.collection.find_one_and_update(
                {**match, **self._free_or_mine(now, token)}, update, upsert=upsert,
                return_document=ReturnDocument.AFTER))
        except DuplicateKeyError:
            return None

    def take_many(self, ids: Iterable[Any], match: dict[str, Any], now: datetime, until: datetime) -> tuple[str, list[dict]]:
        """Take every free lease among the documents ``ids`` still matching ``match`` (each
        document atomically: concurrent takers just get fewer); the token and what it won."""
        ids = list(ids)
        token = new_token()
        taken = retry_once(lambda: self.collection.update_many(
            {"_id": {"$in": ids}, **match, **self._free_or_mine(now, token)},
            {"$set": {self.token_field: token, self.expiry_field: until}}))
        if taken.matched_count == 0:
            return token, []
        return token, list(self.collection.find({"_id": {"$in": ids}, self.token_field: token}))

    def extend(self, match: dict[str, Any], token: str, now: datetime, until: datetime) -> bool:
        """Push a live lease's expiry to ``until`` if ``token`` still holds it."""
        result = retry_once(lambda: self.collection.update_one(
            {**match, self.token_field: token, **self.live(now)}, {"$set": {self.expiry_field: until}}))
        return result.matched_count == 1

    def settle(self, match: dict[str, Any], token: str, fields: dict[str, Any] | None = None,
               *, expiry: datetime | None = None, also: dict[str, Any] | None = None) -> bool:
        """Write ``fields`` (and the update operators ``also``) and end the lease (expiry
        ``expiry``, no token), only if ``token`` still holds it; False when it does not."""
        result = retry_once(lambda: self.collection.update_one(
            {**match, self.token_field: token},
            {**(also or {}), "$set": {**(fields or {}), self.token_field: None, self.expiry_field: expiry}}))
        return result.modified_count == 1

    def drop(self, match: dict[str, Any], token: str, *, lapsed_by: datetime | None = None) -> bool:
        """Delete the leased document if ``token`` holds it (and, with ``lapsed_by``, only
        once its lease has expired by then)."""
        criteria = {**match, self.token_field: token}
        if lapsed_by is not None:
            criteria.update(self.free(lapsed_by))
        return retry_once(lambda: self.collection.delete_one(criteria)).deleted_count == 1

    def holder(self, match: dict[str, Any], now: datetime) -> dict | None:
        """The document if its lease is live, else None."""
        return self.collection.find_one({**match, **self.live(now)})
