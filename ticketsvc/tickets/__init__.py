"""The stored tickets: a tenant-scoped repository and the read API's queries."""
