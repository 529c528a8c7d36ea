"""Access control with API keys: the key store, the access decisions, the policy table,
the request guard and the OpenAPI security documentation."""
from .access import AccessControl, NoAdminKeyError
from .docs import AccessDocsPlugin
from .guard import current_principal, install_access_guard
from .keys import ApiKeyStore, Principal

__all__ = ["AccessControl", "AccessDocsPlugin", "ApiKeyStore", "NoAdminKeyError", "Principal",
           "current_principal", "install_access_guard"]
