"""Access decisions: who is calling (the bearer key) and whether they may act on a tenant.

No Flask here: the guard hands in what it read off the request. Every denial is one of
the service's errors (401 ``Unauthorized``, 403 ``Forbidden``, 404 ``NotFound`` for a job
that is not the caller's), and their messages never say whether a tenant, a key or a job
exists. Log lines name the key by ``key_id``, never by the key.
"""
from __future__ import annotations

import hmac
import logging
from typing import Callable, Iterable

from pymongo.errors import PyMongoError

from ..config import ConfigError, Settings
from ..errors import Forbidden, InvalidInput, NotFound, Unauthorized
from .keys import MAX_PRESENTED_CHARS, ApiKeyStore, Principal, hash_key

log = logging.getLogger(__name__)

MIN_ADMIN_KEY_CHARS = 32
UNAUTHORIZED_MESSAGE = "Missing or invalid API key: send 'Authorization: Bearer <key>'"
FORBIDDEN_TENANT_MESSAGE = "This API key may not access this tenant"
FORBIDDEN_ADMIN_MESSAGE = "This endpoint needs an admin API key"
CONFIG_ADMIN = Principal(key_id="ADMIN_API_KEY", name="ADMIN_API_KEY (configuration)", tenant_id=None, admin=True)


class NoAdminKeyError(ConfigError):
    """AUTH_MODE=keys with no admin key anywhere: no one could ever create a key."""


def unknown_job_message(job_id: str) -> str:
    # The ingestion service's own words for an unknown job: a foreign job must read the same.
    return f"unknown job {job_id}"


class AccessControl:
    """Authenticates bearer keys and checks a principal against a tenant or a job."""

    def __init__(self, settings: Settings, keys: ApiKeyStore, job_tenant: Callable[[str], str | None]):
        """``job_tenant`` answers which tenant an ingestion job belongs to (None: no such job)."""
        self.enabled = settings.auth_mode == "keys"
        self.keys = keys
        self.job_tenant = job_tenant
        self._admin_key = settings.admin_api_key
        self._admin_hash = hash_key(settings.admin_api_key) if settings.admin_api_key else None

    def check_startup(self) -> None:
        """Refuse to run AUTH_MODE=keys with no way in: raises ``NoAdminKeyError`` when no
        ADMIN_API_KEY is configured and no admin key is stored, ``ConfigError`` when the
        configured one is too short to be a secret."""
        if not self.enabled:
            return
        if self._admin_key is not None and len(self._admin_key) < MIN_ADMIN_KEY_CHARS:
            raise ConfigError(
                f"ADMIN_API_KEY is {len(self._admin_key)} characters; use at least {MIN_ADMIN_KEY_CHARS} random "
                "characters, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'")
        if self._admin_key is None and not self.keys.has_active_admin():
            raise NoAdminKeyError(
                "AUTH_MODE=keys but there is no admin API key (no ADMIN_API_KEY, none stored): set ADMIN_API_KEY "
                "to at least 32 random characters (python3 -c 'import secrets; print(secrets.token_urlsafe(32))'), "
                "or on a real MongoDB run MONGO_URL=mongodb://... ticketsvc keys create --admin --name ops; "
                "for a local demo only, AUTH_MODE=off")

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal behind an ``Authorization: Bearer <key>`` header value.

        Raises ``Unauthorized`` for a missing, malformed, unknown or revoked key, with one
        message for all of them.
        """
        key = _bearer_token(authorization)
        if key is None:
            log.info("access denied status=401 reason=no_bearer_key")
            raise Unauthorized(UNAUTHORIZED_MESSAGE)
        if self._admin_hash is not None and hmac.compare_digest(hash_key(key), self._admin_hash):
            return CONFIG_ADMIN
        record = self.keys.find_active(key)
        if record is None or not (record.get("admin") or record.get("tenant_id")):
            log.info("access denied status=401 reason=unknown_or_revoked_key")
            raise Unauthorized(UNAUTHORIZED_MESSAGE)
        try:
            self.keys.touch(record)
        except PyMongoError:
            # last_used_at is a hint for operators: failing to refresh it must not fail the request.
            log.warning("could not refresh last_used_at key_id=%s", record["key_id"], exc_info=True)
        return Principal(key_id=record["key_id"], name=record.get("name", ""),
                         tenant_id=None if record.get("admin") else record["tenant_id"],
                         admin=bool(record.get("admin")))

    def require_admin(self, principal: Principal) -> None:
        if not principal.admin:
            log.warning("access denied status=403 key_id=%s reason=admin_only", principal.key_id)
            raise Forbidden(FORBIDDEN_ADMIN_MESSAGE)

    def require_tenants(self, principal: Principal, tenant_ids: Iterable[str], *, field: str) -> None:
        """Every tenant id the request names must be the principal's (admins pass).

        A tenant key whose request names no tenant gets the 422 schema validation would
        give: the check never lets a tenant key through on an absent tenant id, even if an
        endpoint someday made it optional.
        """
        if principal.admin:
            return
        tenant_ids = list(tenant_ids)
        if not tenant_ids:
            raise InvalidInput("Missing data for required field.", field=field)
        if not all(isinstance(t, str) and principal.may_access(t) for t in tenant_ids):
            log.warning("access denied status=403 key_id=%s reason=other_tenant", principal.key_id)
            raise Forbidden(FORBIDDEN_TENANT_MESSAGE)

    def require_job(self, principal: Principal, job_id: str | None) -> None:
        """A tenant key reaches only its tenant's jobs; any other id, unknown or another
        tenant's, answers the same 404 as an unknown job, so ids of other tenants' jobs
        cannot be probed. Admins pass (the view answers 404 for unknown jobs)."""
        if principal.admin:
            return
        job_id = job_id or ""
        owner = self.job_tenant(job_id)
        if owner is None or not principal.may_access(owner):
            if owner is not None:
                log.warning("access denied status=404 key_id=%s reason=other_tenants_job", principal.key_id)
            raise NotFound(unknown_job_message(job_id))


def _bearer_token(authorization: str | None) -> str | None:
    """The key of ``Bearer <key>`` (scheme case-insensitive, RFC 7235), else None."""
    if not authorization or len(authorization) > MAX_PRESENTED_CHARS + 16:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token
