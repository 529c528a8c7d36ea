"""How a run walks the upstream: the whole list (``full``) or the change feed since the
last complete run (``incremental``), and why.

A re-sync should cost what changed, not what exists: where the upstream has the change
feed, a run reads it from the ``as_of`` of the tenant's last complete run, minus an
overlap (repeats are absorbed by idempotency). The first run, a run after
``FULL_SYNC_INTERVAL_S`` (reconciliation: only a full walk notices tickets the feed never
reported), and runs against an upstream without the feed walk every page.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

from ..clock import isoformat_z, utc

FEED_OVERLAP_S = 60


class SyncMode(str, Enum):
    """How a run reads the upstream (``mode`` in the audit record)."""

    FULL = "full"  # every page of the listing, then deletions confirmed
    INCREMENTAL = "incremental"  # the change feed since the last complete run


@dataclass(frozen=True)
class SyncPlan:
    """What a run sets out to do; a run may still fall back to a full walk."""

    mode: SyncMode
    reason: str
    since: datetime | None = None  # incremental: where the feed walk starts (upstream time)
    probe_feed: bool = False  # full: ask the feed for its as_of first, the next run's cursor


def plan_run(state: dict[str, Any] | None, now: datetime, full_interval_s: float, rules_version: str) -> SyncPlan:
    """The plan for a tenant's next run from its sync state (the ``tenants`` document).

    ``full_interval_s`` 0 means the feed is not used: every run is a full walk. New
    classifier rules or a new stored format (``rules_version``: ``sync.sync_version``) also
    mean a full walk: every stored ticket is reclassified, not only the changed ones.
    """
    state = state or {}
    if full_interval_s <= 0:
        return SyncPlan(SyncMode.FULL, "FULL_SYNC_INTERVAL_S=0: the change feed is not used")
    if state.get("last_complete_run_at") is None:
        return SyncPlan(SyncMode.FULL, "first complete run of the tenant", probe_feed=True)
    if state.get("last_complete_rules_version") != rules_version:
        return SyncPlan(SyncMode.FULL, f"classifier rules or stored format changed ({state.get('last_complete_rules_version')} "
                                       f"-> {rules_version}): every ticket is reclassified", probe_feed=True)
    last_full = state.get("last_full_sync_at")
    if last_full is None or (now - utc(last_full)).total_seconds() >= full_interval_s:
        return SyncPlan(SyncMode.FULL, f"reconciliation: last full walk {isoformat_z(last_full) or 'never'}, "
                                       f"FULL_SYNC_INTERVAL_S={full_interval_s:g}", probe_feed=True)
    feed_as_of = state.get("feed_as_of")
    if feed_as_of is None:
        return SyncPlan(SyncMode.FULL, "the upstream had no usable change feed at the last full walk; "
                                       "asked again at the next reconciliation")
    since = utc(feed_as_of) - timedelta(seconds=FEED_OVERLAP_S)
    return SyncPlan(SyncMode.INCREMENTAL, f"changes since {isoformat_z(since)} (the last complete run's "
                                          f"as_of minus {FEED_OVERLAP_S} s)", since=since)


def parse_upstream_time(value: Any) -> datetime | None:
    """An upstream ISO 8601 time (``as_of``) as aware UTC, or None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)
