"""The hourly trend: 24 aligned UTC hours ending with the clock's current hour, its edges
exact to the millisecond, moving with the clock."""
from datetime import timedelta

import pytest

from analytics.stats_data import at, ticket_doc
from ticketsvc.clock import FakeClock


def _trend(app, tenant="acme"):
    response = app.test_client().get(f"/tenants/{tenant}/stats")
    assert response.status_code == 200, response.get_json()
    return [(b["hour"], b["count"]) for b in response.get_json()["hourly_trend"]]


def _edge_tickets():
    return [
        ticket_doc("acme", "before", at("2026-03-09T14:59:59.999")),
        ticket_doc("acme", "first", at("2026-03-09T15:00")),
        ticket_doc("acme", "late-13", at("2026-03-10T13:59:59.999")),
        ticket_doc("acme", "on-14", at("2026-03-10T14:00")),
        # The next hour shares its hour of day with the first bucket: it must not land there.
        ticket_doc("acme", "next-hour", at("2026-03-10T15:00")),
    ]


@pytest.mark.parametrize("now", ["2026-03-10T14:00:00", "2026-03-10T14:37:12", "2026-03-10T14:59:59.999"])
def test_trend_ends_with_the_current_hour_and_its_edges_are_exact(make_app, seed_tickets, now):
    seed_tickets(*_edge_tickets())
    trend = _trend(make_app(clock=FakeClock(at(now))))
    assert len(trend) == 24
    assert trend[0] == ("2026-03-09T15:00:00Z", 1)
    assert trend[-2] == ("2026-03-10T13:00:00Z", 1)
    assert trend[-1] == ("2026-03-10T14:00:00Z", 1)
    assert sum(count for _, count in trend) == 3


def test_trend_buckets_are_consecutive_aligned_hours_oldest_first(stats_app, seed_tickets):
    seed_tickets(ticket_doc("acme", "t1", at("2026-01-01T00:00")))
    hours = [hour for hour, _ in _trend(stats_app)]
    expected = [(at("2026-03-09T15:00") + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(24)]
    assert hours == expected


def test_trend_window_moves_with_the_clock(make_app, seed_tickets, fake_clock):
    seed_tickets(*_edge_tickets())
    app = make_app(clock=fake_clock)
    fake_clock.advance(3600)  # 15:37: yesterday 15:00 drops out, today 15:00 is current
    trend = _trend(app)
    assert trend[0] == ("2026-03-09T16:00:00Z", 0)
    assert trend[-1] == ("2026-03-10T15:00:00Z", 1)
    assert trend[-2] == ("2026-03-10T14:00:00Z", 1)
    assert sum(count for _, count in trend) == 3


def test_trend_spans_midnight_and_counts_each_hour_separately(make_app, seed_tickets):
    seed_tickets(ticket_doc("acme", "a", at("2026-03-09T23:30")), ticket_doc("acme", "b", at("2026-03-10T00:10")),
                 ticket_doc("acme", "c", at("2026-03-10T00:50")))
    trend = dict(_trend(make_app(clock=FakeClock(at("2026-03-10T05:00")))))
    assert (trend["2026-03-09T23:00:00Z"], trend["2026-03-10T00:00:00Z"]) == (1, 2)
