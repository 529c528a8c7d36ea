"""Conditional GET on the stats: the ETag names the tenant's data version, the current hour
and the range; a matching If-None-Match is a 304 that runs no pipeline."""
import pytest

from analytics.stats_data import NOW, ticket_doc
from ticketsvc.api.context import get_runtime


class _AggregateCounter:
    """Wraps the Database the stats service reads through, counting ``tickets.aggregate``."""

    def __init__(self, database):
        self._database = database
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self._database, name)

    @property
    def tickets(self):
        counter, collection = self, self._database.tickets

        class Counted:
            def __getattr__(self, name):
                return getattr(collection, name)

            def aggregate(self, *args, **kwargs):
                counter.calls += 1
                return collection.aggregate(*args, **kwargs)

        return Counted()


@pytest.fixture
def aggregates(stats_app, monkeypatch):
    service = get_runtime(stats_app).stats
    counter = _AggregateCounter(service.db)
    monkeypatch.setattr(service, "db", counter)
    return counter


@pytest.fixture
def versioned(database, seed_tickets):
    """Tenant acme with one ticket at data version 3; returns a version bumper."""
    seed_tickets(ticket_doc("acme", "t1", NOW))
    database.tenants.update_one({"_id": "acme"}, {"$set": {"data_version": 3}})

    def bump():
        database.tenants.update_one({"_id": "acme"}, {"$inc": {"data_version": 1}})
    return bump


def _etag(response):
    assert response.status_code == 200, response.get_json()
    return response.headers["ETag"]


def test_stats_carry_a_weak_etag_and_private_no_cache(stats_client, versioned):
    response = stats_client.get("/tenants/acme/stats")
    assert response.headers["ETag"].startswith('W/"')
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_matching_if_none_match_is_304_without_running_a_pipeline(stats_client, versioned, aggregates):
    etag = _etag(stats_client.get("/tenants/acme/stats"))
    assert aggregates.calls > 0
    before = aggregates.calls
    response = stats_client.get("/tenants/acme/stats", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.get_data() == b""
    assert response.headers["ETag"] == etag
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert aggregates.calls == before


def test_etag_matches_among_several_and_in_strong_form(stats_client, versioned):
    etag = _etag(stats_client.get("/tenants/acme/stats"))
    strong = etag.removeprefix("W/")
    response = stats_client.get("/tenants/acme/stats", headers={"If-None-Match": f'"other", {strong}'})
    assert response.status_code == 304


def test_data_changed_without_a_version_bump_is_still_304(stats_client, versioned, seed_tickets):
    # The version is the contract: ingestion bumps it on every page that changes tickets.
    etag = _etag(stats_client.get("/tenants/acme/stats"))
    seed_tickets(ticket_doc("acme", "t2", NOW))
    assert stats_client.get("/tenants/acme/stats", headers={"If-None-Match": etag}).status_code == 304


def test_version_bump_changes_the_etag_and_serves_fresh_figures(stats_client, versioned, seed_tickets):
    etag = _etag(stats_client.get("/tenants/acme/stats"))
    seed_tickets(ticket_doc("acme", "t2", NOW))
    versioned()
    response = stats_client.get("/tenants/acme/stats", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.headers["ETag"] != etag
    assert response.get_json()["total_tickets"] == 2


def test_next_hour_changes_the_etag(stats_client, versioned, fake_clock):
    etag = _etag(stats_client.get("/tenants/acme/stats"))
    fake_clock.advance(22 * 60 + 47)  # 14:59:59: same hour, same tag
    assert _etag(stats_client.get("/tenants/acme/stats")) == etag
    fake_clock.advance(1)  # 15:00:00
    assert _etag(stats_client.get("/tenants/acme/stats")) != etag


def test_range_is_part_of_the_etag(stats_client, versioned):
    tags = {
        _etag(stats_client.get("/tenants/acme/stats")),
        _etag(stats_client.get("/tenants/acme/stats?from_date=2026-03-01")),
        _etag(stats_client.get("/tenants/acme/stats?to_date=2026-03-01")),
        _etag(stats_client.get("/tenants/acme/stats?from_date=2026-03-01&to_date=2026-03-31")),
    }
    assert len(tags) == 4


def test_same_instant_written_differently_shares_the_etag(stats_client, versioned):
    a = _etag(stats_client.get("/tenants/acme/stats?from_date=2026-03-01"))
    b = _etag(stats_client.get("/tenants/acme/stats?from_date=2026-03-01T01:00:00%2B01:00"))
    assert a == b


def test_tenant_is_part_of_the_etag(stats_client, versioned, database):
    database.tenants.insert_one({"_id": "globex", "data_version": 3})
    assert _etag(stats_client.get("/tenants/acme/stats")) != _etag(stats_client.get("/tenants/globex/stats"))
