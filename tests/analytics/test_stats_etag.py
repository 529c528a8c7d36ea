"""Conditional GET on the stats: the ETag names the tenant's rollup state (moved by the end
of an ingestion run, not by the pages it writes), the current hour, the range as rounded
and the source; a matching If-None-Match is a 304 that runs no pipeline."""
import pytest

from analytics.stats_data import NOW, ticket_doc
from ticketsvc.analytics import Rollups, TenantStats


@pytest.fixture
def aggregates(stats_app, monkeypatch):
    """Counts the pipelines the stats service runs."""
    calls = []
    real = TenantStats._aggregate

    def counted(self, collection, pipeline):
        calls.append(pipeline)
        return real(self, collection, pipeline)
    monkeypatch.setattr(TenantStats, "_aggregate", counted)
    return calls


@pytest.fixture
def acme(seed_tickets):
    seed_tickets(ticket_doc("acme", "t1", NOW), ticket_doc("globex", "t1", NOW))


def _etag(response):
    assert response.status_code == 200, response.get_json()
    return response.headers["ETag"]


def _run_ends(database, tenant, job_id, status="completed"):
    """What a run's end does: refresh the days it marked, and record it if it completed."""
    Rollups(database).run_finished({"tenant_id": tenant, "job_id": job_id, "status": status, "ended_at": NOW})


def _page_written(database, *docs):
    """What a run's page does: mark the days dirty, then write the tickets."""
    Rollups(database).mark_dirty(docs[0]["tenant_id"], [d["created_at"] for d in docs])
    database.tickets.insert_many(list(docs))


def test_stats_carry_a_weak_etag_and_private_no_cache(stats_client, acme):
    response = stats_client.get("/tenants/acme/stats")
    assert response.headers["ETag"].startswith('W/"')
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_matching_if_none_match_is_304_without_running_a_pipeline(stats_client, acme, aggregates):
    etag = _etag(stats_client.get("/tenants/acme/stats"))
    before = len(aggregates)
    assert before > 0
    response = stats_client.get("/tenants/acme/stats", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.get_data() == b""
    assert response.headers["ETag"] == etag
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert len(aggregates) == before


def test_etag_matches_among_several_and_in_strong_form(stats_client, acme):
    etag = _etag(stats_client.get("/tenants/acme/stats"))
    strong = etag.removeprefix("W/")
    response = stats_client.get("/tenants/acme/stats", headers={"If-None-Match": f'"other", {strong}'})
    assert response.status_code == 304


def test_pages_written_by_a_running_sync_do_not_move_the_etag(stats_client, acme, database):
    etag = _etag(stats_client.get("/tenants/acme/stats"))
    _page_written(database, ticket_doc("acme", "t2", NOW))
    _page_written(database, ticket_doc("acme", "t3", NOW))
    assert stats_client.get("/tenants/acme/stats", headers={"If-None-Match": etag}).status_code == 304


def test_a_completed_run_moves_the_etag_and_serves_its_figures(stats_client, acme, database):
    etag = _etag(stats_client.get("/tenants/acme/stats"))
    _page_written(database, ticket_doc("acme", "t2", NOW))
    _run_ends(database, "acme", "job-2")
    response = stats_client.get("/tenants/acme/stats", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.headers["ETag"] != etag
    body = response.get_json()
    assert body["total_tickets"] == 2
    assert body["as_of_run"] == {"job_id": "job-2", "ended_at": "2026-03-10T14:37:12Z"}


def test_a_failed_run_that_wrote_moves_the_etag_but_not_as_of_run(stats_client, acme, database):
    _run_ends(database, "acme", "job-1")
    etag = _etag(stats_client.get("/tenants/acme/stats"))
    _page_written(database, ticket_doc("acme", "t2", NOW))
    _run_ends(database, "acme", "job-2", status="failed")
    response = stats_client.get("/tenants/acme/stats", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.get_json()["total_tickets"] == 2
    assert response.get_json()["as_of_run"]["job_id"] == "job-1"


def test_next_hour_changes_the_etag(stats_client, acme, fake_clock):
    etag = _etag(stats_client.get("/tenants/acme/stats"))
    fake_clock.advance(22 * 60 + 47)  # 14:59:59: same hour, same tag
    assert _etag(stats_client.get("/tenants/acme/stats")) == etag
    fake_clock.advance(1)  # 15:00:00
    assert _etag(stats_client.get("/tenants/acme/stats")) != etag


def test_range_and_source_are_part_of_the_etag(stats_client, acme):
    tags = {
        _etag(stats_client.get("/tenants/acme/stats")),
        _etag(stats_client.get("/tenants/acme/stats?from_date=2026-03-01")),
        _etag(stats_client.get("/tenants/acme/stats?to_date=2026-03-01")),
        _etag(stats_client.get("/tenants/acme/stats?from_date=2026-03-01&to_date=2026-03-31")),
        _etag(stats_client.get("/tenants/acme/stats?source=email")),
        _etag(stats_client.get("/tenants/acme/stats?source=chat")),
    }
    assert len(tags) == 6


def test_bounds_in_the_same_hour_share_the_etag_as_they_share_the_range(stats_client, acme):
    a = stats_client.get("/tenants/acme/stats?from_date=2026-03-01")
    b = stats_client.get("/tenants/acme/stats?from_date=2026-03-01T01:30:00%2B01:00")
    assert _etag(a) == _etag(b)
    assert a.get_json()["range"] == b.get_json()["range"] == {"from": "2026-03-01T00:00:00Z", "to": None}


def test_tenant_is_part_of_the_etag(stats_client, acme):
    assert _etag(stats_client.get("/tenants/acme/stats")) != _etag(stats_client.get("/tenants/globex/stats"))
