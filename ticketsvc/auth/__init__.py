"""Access control with API keys: the key store, the access decisions and the policy table
(framework-free), plus the request guard (``auth.guard``) and the OpenAPI security
documentation (``auth.docs``) that the HTTP layer installs."""
from .access import AccessControl, NoAdminKeyError
from .keys import ApiKeyStore, Principal

__all__ = ["AccessControl", "ApiKeyStore", "NoAdminKeyError", "Principal"]
