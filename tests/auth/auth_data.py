"""Constants and helpers shared by the access-control tests."""
from __future__ import annotations

import secrets

# The configured bootstrap key (ADMIN_API_KEY) of the test apps; deliberately not tsk_-prefixed,
# as an operator's own random string would not be.
ADMIN_KEY = "cfg-admin-" + secrets.token_urlsafe(32)
TENANT_A, TENANT_B = "tenant_a", "tenant_b"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
