"""StatsQuery refuses what the HTTP layer should never pass: the service's own guard."""
from datetime import datetime, timedelta, timezone

import pytest

from ticketsvc.analytics import StatsQuery

MARCH_1 = datetime(2026, 3, 1, tzinfo=timezone.utc)
MARCH_2 = datetime(2026, 3, 2, tzinfo=timezone.utc)


@pytest.mark.parametrize("tenant_id", ["", "bad$id", "a" * 65, None, {"$ne": "x"}])
def test_invalid_tenant_id_is_refused(tenant_id):
    with pytest.raises(ValueError, match="tenant id"):
        StatsQuery(tenant_id)


def test_naive_bound_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        StatsQuery("acme", created_from=datetime(2026, 3, 1))


def test_from_later_than_to_is_refused():
    with pytest.raises(ValueError, match="later"):
        StatsQuery("acme", created_from=MARCH_2, created_to=MARCH_1)


def test_range_is_rounded_outward_to_whole_hours_and_unbounded_for_all_time():
    assert StatsQuery("acme").rounded() == (None, None)
    assert StatsQuery("acme", created_from=MARCH_1, created_to=MARCH_2).rounded() == (
        MARCH_1, MARCH_2 + timedelta(hours=1))
    assert StatsQuery("acme", created_from=MARCH_1 + timedelta(minutes=59),
                      created_to=MARCH_2 - timedelta(milliseconds=1)).rounded() == (MARCH_1, MARCH_2)


def test_a_source_must_be_a_string():
    with pytest.raises(ValueError, match="source"):
        StatsQuery("acme", source={"$ne": "x"})
