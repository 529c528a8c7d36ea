"""The embedded engine runs a pipeline's leading $match (and a plain $project after it) as a
query, like a real server, instead of copying every tenant's tickets into the pipeline.
The results must be exactly what the engine computes without that push-down."""
import threading

import pytest

from analytics.stats_data import NOW, acme_tickets
from analytics.oracle import at_risk_ticket_ids_pipeline, range_pipeline, trend_pipeline
from ticketsvc.analytics.rollups import TERM_FIELDS, cells_pipeline, customers_pipeline, terms_pipeline
from ticketsvc.analytics.stats import StatsQuery, hour_start
from ticketsvc.tickets.repository import TicketRepository


@pytest.fixture
def raw_tickets(database, settings, seed_tickets):
    if not settings.embedded:
        pytest.skip("the push-down is the embedded engine's adapter; a real server plans its own")
    seed_tickets(*acme_tickets())
    return database.tickets._collection  # mongomock's own collection, without the adapter


def _pipelines(database):
    repo = TicketRepository(database, "acme")
    return [range_pipeline(repo, StatsQuery("acme")),
            range_pipeline(repo, StatsQuery("acme", created_from=NOW.replace(day=2), created_to=NOW)),
            trend_pipeline(repo, hour_start(NOW)),
            at_risk_ticket_ids_pipeline(repo, StatsQuery("acme"), ["c-a", "c-c"]),
            *[make(repo, NOW.replace(day=1, hour=0, minute=0, second=0), NOW) for make in
              (cells_pipeline, customers_pipeline)],
            *[terms_pipeline(repo, NOW.replace(day=1, hour=0, minute=0, second=0), NOW, name)
              for name in TERM_FIELDS]]


def test_pushed_down_pipelines_give_the_engines_own_results(database, raw_tickets):
    for pipeline in _pipelines(database):
        assert list(database.tickets.aggregate(pipeline)) == list(raw_tickets.aggregate(pipeline))


def test_a_computing_project_after_the_match_is_left_to_the_pipeline(database, raw_tickets):
    pipeline = [{"$match": {"tenant_id": "acme"}},
                {"$project": {"_id": 0, "external_id": 1, "flag": {"$eq": ["$urgency", "high"]}}},
                {"$sort": {"external_id": 1}}]
    rows = list(database.tickets.aggregate(pipeline))
    assert rows == list(raw_tickets.aggregate(pipeline))
    assert rows[0] == {"external_id": "d1", "flag": True}


def test_a_pipeline_without_a_leading_match_still_sees_every_document(database, raw_tickets):
    pipeline = [{"$group": {"_id": "$tenant_id", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]
    assert list(database.tickets.aggregate(pipeline)) == [{"_id": "acme", "n": 10}, {"_id": "globex", "n": 5}]


def test_the_pipeline_stages_run_outside_the_engine_lock(database, raw_tickets, monkeypatch):
    # A long aggregation must not stall every other request of the process: only the read
    # of the matching documents holds the engine-wide lock.
    import mongomock.aggregate as engine

    real, lock_was_free = engine.process_pipeline, []

    def probe(*args, **kwargs):
        def try_lock():
            acquired = database.db.lock.acquire(blocking=False)
            lock_was_free.append(acquired)
            if acquired:
                database.db.lock.release()
        prober = threading.Thread(target=try_lock)
        prober.start()
        prober.join()
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "process_pipeline", probe)
    list(database.tickets.aggregate(_pipelines(database)[0]))
    assert lock_was_free and all(lock_was_free)
