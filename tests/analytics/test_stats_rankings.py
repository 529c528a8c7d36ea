"""The rankings of the stats: at-risk customers (worst first), top keywords and top
signals, with their ties, limits and edge cases."""
from datetime import timedelta

import pytest

from analytics.stats_data import at, ticket_doc

DAY = at("2026-03-02T09:00")


def _ticket(external_id, customer, *, minutes=0, high=False, negative=False, **fields):
    return ticket_doc("acme", external_id, DAY + timedelta(minutes=minutes), customer_id=customer,
                      urgency="high" if high else "low", sentiment="negative" if negative else "neutral", **fields)


def _stats(client):
    response = client.get("/tenants/acme/stats")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _ranking(body):
    return [(c["customer_id"], c["high_urgency_count"], c["negative_count"]) for c in body["at_risk_customers"]]


# -- at-risk customers ------------------------------------------------------------------------
def test_at_risk_order_is_risk_then_high_urgency_then_customer_id(stats_client, seed_tickets):
    seed_tickets(
        _ticket("b1", "bob", high=True, negative=True), _ticket("b2", "bob", high=True, negative=True),
        _ticket("c1", "cat", high=True), _ticket("c2", "cat", high=True), _ticket("c3", "cat", negative=True),
        _ticket("d1", "dan", negative=True), _ticket("d2", "dan", negative=True), _ticket("d3", "dan", negative=True),
        _ticket("e1", "eve", high=True), _ticket("e2", "eve", negative=True),
        _ticket("a1", "abe", high=True), _ticket("a2", "abe", negative=True),
    )
    # bob 2+2; cat 2+1 before dan 0+3 (same sum, more high urgency); abe before eve (all equal).
    assert _ranking(_stats(stats_client)) == [
        ("bob", 2, 2), ("cat", 2, 1), ("dan", 0, 3), ("abe", 1, 1), ("eve", 1, 1)]


def test_one_ticket_both_high_and_negative_does_not_make_a_customer_at_risk(stats_client, seed_tickets):
    seed_tickets(_ticket("f1", "fay", high=True, negative=True), _ticket("f2", "fay"),
                 _ticket("g1", "gus", high=True), _ticket("g2", "gus"), _ticket("g3", "gus"))
    assert _stats(stats_client)["at_risk_customers"] == []


def test_at_risk_lists_at_most_ten_customers(stats_client, seed_tickets):
    seed_tickets(*[_ticket(f"{c}-{n}", f"cust-{c:02d}", high=True) for c in range(12) for n in range(2)])
    assert [c["customer_id"] for c in _stats(stats_client)["at_risk_customers"]] == [
        f"cust-{c:02d}" for c in range(10)]


def test_at_risk_ticket_ids_are_the_newest_twenty_flagged_ids_ties_by_id(stats_client, seed_tickets):
    # 25 flagged tickets a minute apart, plus two sharing the newest minute, plus an
    # unflagged newer one that is not listed.
    seed_tickets(*[_ticket(f"k{n:02d}", "kim", minutes=n, high=True) for n in range(25)],
                 _ticket("k99", "kim", minutes=30, negative=True), _ticket("k98", "kim", minutes=30, high=True),
                 _ticket("k97", "kim", minutes=40))
    (kim,) = _stats(stats_client)["at_risk_customers"]
    assert (kim["high_urgency_count"], kim["negative_count"]) == (26, 1)
    assert kim["ticket_ids"] == ["k98", "k99"] + [f"k{n:02d}" for n in range(24, 6, -1)]


# -- top keywords and top signals (the same ranking of two list fields) ------------------------
TERMS = pytest.mark.parametrize("field, ranking, name", [("keywords", "top_keywords", "keyword"),
                                                         ("signals", "top_signals", "signal")])


@TERMS
def test_top_terms_keep_ten_and_break_ties_at_the_cut_by_name(stats_client, seed_tickets, field, ranking, name):
    # kw00 on 12 tickets ... kw08 on 4, then kw09, kw10, kw11 on one ticket each: the tenth
    # place goes to kw09 (alphabetically first of the tied).
    docs = []
    for rank in range(9):
        docs += [_ticket(f"r{rank}-{n}", "x", **{field: [f"kw{rank:02d}"]}) for n in range(12 - rank)]
    docs.append(_ticket("tail", "x", **{field: ["kw11", "kw10", "kw09"]}))
    seed_tickets(*docs)
    top = _stats(stats_client)[ranking]
    assert top == [{name: f"kw{r:02d}", "count": 12 - r} for r in range(9)] + [{name: "kw09", "count": 1}]


@TERMS
def test_tickets_without_the_field_count_towards_none(stats_client, seed_tickets, field, ranking, name):
    missing = _ticket("m1", "x")
    del missing[field]
    seed_tickets(missing, _ticket("m2", "x", **{field: None}), _ticket("m3", "x", **{field: []}),
                 _ticket("m4", "x", **{field: ["refund"]}))
    body = _stats(stats_client)
    assert body["total_tickets"] == 4
    assert body[ranking] == [{name: "refund", "count": 1}]
