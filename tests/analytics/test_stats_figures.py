"""GET /tenants/{tenant_id}/stats: every field against expectations computed by hand from
the reference data set (analytics/stats_data.py), on a FakeClock at 2026-03-10T14:37:12Z."""
from datetime import timedelta

import pytest

from analytics.stats_data import NOW, acme_tickets, at, ticket_doc

STATS_KEYS = [
    "tenant_id", "total_tickets", "by_status", "by_urgency", "by_sentiment", "by_source",
    "urgency_high_ratio", "negative_sentiment_ratio", "requires_action_count", "hourly_trend",
    "top_keywords", "top_signals", "at_risk_customers", "open", "as_of_run", "source", "range", "generated_at",
]
FIRST_TREND_HOUR = at("2026-03-09T15:00")


def _hours(*hours_with_counts):
    """The 24 buckets of the reference window with the given (ISO hour, count) set."""
    counts = dict(hours_with_counts)
    buckets = []
    for i in range(24):
        hour = (FIRST_TREND_HOUR + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        buckets.append({"hour": hour, "count": counts.pop(hour, 0)})
    assert not counts, f"hours outside the window: {counts}"
    return buckets


def _stats(client, tenant="acme", **query):
    response = client.get(f"/tenants/{tenant}/stats", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def reference(seed_tickets):
    seed_tickets(*acme_tickets())


# -- all time -------------------------------------------------------------------------------
def test_stats_answer_every_contract_field_in_order(stats_client, reference):
    assert list(_stats(stats_client)) == STATS_KEYS


def test_tenant_id_and_generated_at_come_from_the_request_and_the_clock(stats_client, reference):
    body = _stats(stats_client)
    assert body["tenant_id"] == "acme"
    assert body["generated_at"] == "2026-03-10T14:37:12Z"


def test_total_counts_live_tickets_of_the_tenant_only(stats_client, reference):
    assert _stats(stats_client)["total_tickets"] == 9


def test_breakdowns_are_zero_filled_in_known_order_then_other_values_by_name(stats_client, reference):
    body = _stats(stats_client)
    assert list(body["by_status"].items()) == [
        ("open", 5), ("pending", 1), ("resolved", 1), ("closed", 1), ("on hold", 1)]
    assert list(body["by_urgency"].items()) == [("high", 3), ("medium", 3), ("low", 3)]
    assert list(body["by_sentiment"].items()) == [("negative", 3), ("neutral", 3), ("positive", 3)]
    assert list(body["by_source"].items()) == [("email", 4), ("chat", 2), ("web", 1), ("phone", 1), ("fax", 1)]


def test_ratios_have_four_decimals(stats_client, reference):
    body = _stats(stats_client)
    assert body["urgency_high_ratio"] == 0.3333
    assert body["negative_sentiment_ratio"] == 0.3333


def test_requires_action_count_counts_flagged_live_tickets(stats_client, reference):
    assert _stats(stats_client)["requires_action_count"] == 3


def test_top_keywords_count_each_keyword_once_per_ticket_ties_by_keyword(stats_client, reference):
    # refund: t1, t2, t4 (listed twice on t4, counted once); outage: t1, t3, t9.
    assert _stats(stats_client)["top_keywords"] == [
        {"keyword": "outage", "count": 3}, {"keyword": "refund", "count": 3},
        {"keyword": "billing", "count": 2}, {"keyword": "login", "count": 2},
    ]


def test_top_signals_count_each_signal_once_per_ticket_ties_by_signal(stats_client, reference):
    # outage: t1, t3, t9; refund: t2, t4 (listed twice on t4, counted once); d1 is deleted.
    assert _stats(stats_client)["top_signals"] == [
        {"signal": "outage", "count": 3}, {"signal": "billing_problem", "count": 2},
        {"signal": "refund", "count": 2}, {"signal": "access_problem", "count": 1},
    ]


def test_at_risk_customers_need_two_flagged_tickets_and_list_them_newest_first(stats_client, reference):
    # c-b has one flagged ticket (t3); c-a's deleted d1 and globex's c-a tickets do not count.
    assert _stats(stats_client)["at_risk_customers"] == [
        {"customer_id": "c-a", "high_urgency_count": 2, "negative_count": 1, "ticket_ids": ["t2", "t1"]},
        {"customer_id": "c-c", "high_urgency_count": 1, "negative_count": 1, "ticket_ids": ["t6", "t5"]},
    ]


def test_hourly_trend_has_24_buckets_ending_with_the_current_hour(stats_client, reference):
    # t7 opens the window (15:00 yesterday, inclusive), t8 is 1 ms before it; t9 is the last
    # millisecond-ish of 13:00; t6 is in the current hour; d1 (deleted) and globex are not.
    assert _stats(stats_client)["hourly_trend"] == _hours(
        ("2026-03-09T15:00:00Z", 1), ("2026-03-10T13:00:00Z", 1), ("2026-03-10T14:00:00Z", 1))


# -- other tenants, empty tenants -------------------------------------------------------------
def test_another_tenant_sees_only_its_own_tickets(stats_client, reference):
    body = _stats(stats_client, tenant="globex")
    assert body["total_tickets"] == 5
    assert body["by_urgency"] == {"high": 5, "medium": 0, "low": 0}
    assert body["top_keywords"] == [{"keyword": "zeppelin", "count": 5}]
    assert body["top_signals"] == [{"signal": "legal_threat", "count": 5}]
    assert [c["ticket_ids"] for c in body["at_risk_customers"]] == [["t1", "t2", "t3", "t4", "t5"]]
    assert body["hourly_trend"][-1] == {"hour": "2026-03-10T14:00:00Z", "count": 5}


def test_unknown_tenant_answers_404_not_a_page_of_zeros(stats_client, reference):
    response = stats_client.get("/tenants/nobody/stats")
    assert response.status_code == 404 and response.get_json()["code"] == 404


def test_a_tenant_whose_tickets_are_all_deleted_answers_zeros(stats_client, seed_tickets):
    seed_tickets(ticket_doc("acme", "x1", NOW, urgency="high", deleted_at=NOW))
    body = _stats(stats_client)
    assert (body["total_tickets"], body["urgency_high_ratio"]) == (0, 0.0)
    assert sum(b["count"] for b in body["hourly_trend"]) == 0


# -- date range -------------------------------------------------------------------------------
@pytest.mark.parametrize("query, expected_ids", [
    # Both bounds inclusive, to the millisecond.
    ({"from_date": "2026-03-02T10:00:00Z", "to_date": "2026-03-04T08:00:00Z"}, {"t2", "t3", "t4"}),
    # Edges are rounded outward to whole hours: 10:00:00.001 counts from 10:00, and
    # 07:59:59.999 up to 08:00 (exclusive).
    ({"from_date": "2026-03-02T10:00:00.001Z", "to_date": "2026-03-04T07:59:59.999Z"}, {"t2", "t3"}),
    # A date alone: from the first to the last millisecond of that UTC day.
    ({"to_date": "2026-03-03"}, {"t1", "t2", "t3"}),
    ({"from_date": "2026-03-03", "to_date": "2026-03-03"}, {"t3"}),
    ({"from_date": "2026-03-09"}, {"t6", "t7", "t8", "t9"}),
    # No zone means UTC; an offset is converted.
    ({"from_date": "2026-03-02T10:00:00", "to_date": "2026-03-02T10:00:00"}, {"t2"}),
    ({"from_date": "2026-03-02T11:00:00+01:00", "to_date": "2026-03-02T05:00:00-05:00"}, {"t2"}),
    ({"from_date": "2026-03-11"}, set()),
])
def test_date_range_bounds_created_at_inclusively(stats_client, reference, query, expected_ids):
    body = _stats(stats_client, **query)
    by_id = {d["external_id"]: d for d in acme_tickets() if d["tenant_id"] == "acme" and "deleted_at" not in d}
    assert body["total_tickets"] == len(expected_ids)
    expected_high = sum(1 for i in expected_ids if by_id[i]["urgency"] == "high")
    assert body["by_urgency"]["high"] == expected_high


def test_date_range_applies_to_every_range_figure(stats_client, reference):
    # t1..t3 only: t1 (c-a, high+neg), t2 (c-a, high), t3 (c-b, neg).
    body = _stats(stats_client, from_date="2026-03-01", to_date="2026-03-03")
    assert body["total_tickets"] == 3
    assert body["by_status"] == {"open": 1, "pending": 1, "resolved": 1, "closed": 0}
    assert body["by_source"] == {"email": 1, "chat": 1, "web": 1, "phone": 0}
    assert body["by_sentiment"] == {"negative": 2, "neutral": 1, "positive": 0}
    assert (body["urgency_high_ratio"], body["negative_sentiment_ratio"]) == (0.6667, 0.6667)
    assert body["requires_action_count"] == 2
    assert body["top_keywords"] == [{"keyword": "outage", "count": 2}, {"keyword": "refund", "count": 2},
                                    {"keyword": "login", "count": 1}]
    assert body["top_signals"] == [{"signal": "outage", "count": 2}, {"signal": "access_problem", "count": 1},
                                   {"signal": "billing_problem", "count": 1}, {"signal": "refund", "count": 1}]
    assert body["at_risk_customers"] == [
        {"customer_id": "c-a", "high_urgency_count": 2, "negative_count": 1, "ticket_ids": ["t2", "t1"]}]


def test_hourly_trend_ignores_the_date_range(stats_client, reference):
    ranged = _stats(stats_client, from_date="2026-03-01", to_date="2026-03-02")
    assert ranged["hourly_trend"] == _stats(stats_client)["hourly_trend"]
    assert sum(b["count"] for b in ranged["hourly_trend"]) == 3
