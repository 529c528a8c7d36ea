"""Tenant analytics: figures computed inside the database from per-day rollups."""
from .rollups import Rollups
from .stats import StatsQuery, StatsSnapshot, TenantStats

__all__ = ["Rollups", "StatsQuery", "StatsSnapshot", "TenantStats"]
