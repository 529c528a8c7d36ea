"""Tenant analytics: figures computed inside the database, never by reading tickets."""
from .stats import StatsQuery, StatsSnapshot, TenantStats

__all__ = ["StatsQuery", "StatsSnapshot", "TenantStats"]
