"""GET /tickets: the filters of issue 18 (customer_id, open, created_from/created_to, q,
keyword, signal), the next link, and the values status, source and signal accept."""
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from support import assert_json_error
from ticketsvc.classification import classifier

RULES = Path(classifier.__file__).with_name("rules.toml")

T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def _ids(response):
    assert response.status_code == 200, response.get_json()
    return [t["id"] for t in response.get_json()["tickets"]]


# -- customer_id ----------------------------------------------------------------------------
def test_customer_id_lists_that_customers_tickets_newest_first(client, seed):
    seed.tickets(seed.doc("acme", "a1", customer_id="c-1", created_at=T0),
                 seed.doc("acme", "a2", customer_id="c-2", created_at=T0 + timedelta(hours=1)),
                 seed.doc("acme", "a3", customer_id="c-1", created_at=T0 + timedelta(hours=2)),
                 seed.doc("globex", "a4", customer_id="c-1"))
    assert _ids(client.get("/tickets?tenant_id=acme&customer_id=c-1")) == ["a3", "a1"]


def test_an_unknown_customer_has_no_tickets(client, seed):
    seed.ticket("acme", "a1", customer_id="c-1")
    body = client.get("/tickets?tenant_id=acme&customer_id=c-404").get_json()
    assert (body["tickets"], body["total"], body["next"]) == ([], 0, None)


# -- open -----------------------------------------------------------------------------------
@pytest.fixture
def statuses(seed):
    seed.tickets(*(seed.doc("acme", status.replace(" ", "_"), status=status,
                            created_at=T0 + timedelta(minutes=n))
                   for n, status in enumerate(("open", "pending", "resolved", "closed", "on hold"))))


def test_open_true_is_the_backlog_every_status_but_resolved_and_closed(client, statuses):
    assert _ids(client.get("/tickets?tenant_id=acme&open=true")) == ["on_hold", "pending", "open"]


def test_open_false_is_what_is_done(client, statuses):
    assert _ids(client.get("/tickets?tenant_id=acme&open=false")) == ["closed", "resolved"]


def test_open_combines_with_status(client, statuses):
    assert _ids(client.get("/tickets?tenant_id=acme&open=true&status=pending")) == ["pending"]
    assert _ids(client.get("/tickets?tenant_id=acme&open=true&status=closed")) == []


# -- created_from / created_to --------------------------------------------------------------
@pytest.fixture
def days(seed):
    seed.tickets(*(seed.doc("acme", f"d{day}", created_at=datetime(2026, 3, day, 23, 59, 59, 999000,
                                                                   tzinfo=timezone.utc))
                   for day in (1, 2, 3)))


def test_created_bounds_are_inclusive_and_a_date_alone_covers_its_whole_day(client, days):
    assert _ids(client.get("/tickets?tenant_id=acme&created_from=2026-03-02&created_to=2026-03-02")) == ["d2"]
    assert _ids(client.get("/tickets?tenant_id=acme&created_from=2026-03-02")) == ["d3", "d2"]
    assert _ids(client.get("/tickets?tenant_id=acme&created_to=2026-03-02T23:59:59.999Z")) == ["d2", "d1"]


def test_created_bounds_read_a_zone(client, days):
    # 2026-03-03T00:59:59.999+01:00 is d2's instant exactly.
    assert _ids(client.get("/tickets", query_string={
        "tenant_id": "acme", "created_from": "2026-03-03T00:59:59.999+01:00"})) == ["d3", "d2"]


@pytest.mark.parametrize("query,field", [
    ("created_from=yesterday", "created_from"),
    ("created_to=2026-02-30", "created_to"),
    ("created_from=2026-03-03&created_to=2026-03-02", "created_from"),
])
def test_bad_created_bounds_are_422_naming_the_field(client, query, field):
    assert_json_error(client.get(f"/tickets?tenant_id=acme&{query}"), 422, field)


# -- q --------------------------------------------------------------------------------------
@pytest.fixture
def texts(seed):
    seed.tickets(
        seed.doc("acme", "t1", subject="Refund still not received", message="Order ORD-1 was cancelled.",
                 created_at=T0),
        seed.doc("acme", "t2", subject="Refunds page", message="The café's login fails", created_at=T0 + timedelta(1)),
        seed.doc("acme", "t3", subject="API down", message="Every call answers 503; REFUND me",
                 created_at=T0 + timedelta(2)),
        seed.doc("globex", "t4", subject="refund", message="refund"),
    )


@pytest.mark.parametrize("q,expected", [
    ("refund", ["t3", "t1"]),              # whole words, either field, any case; not "Refunds"
    ("refunds", ["t2"]),                   # no stemming, either way
    ("refund received", ["t1"]),           # every word must appear
    ("RECEIVED   refund!", ["t1"]),        # case and punctuation do not count
    ("ord-1", ["t1"]),                     # "-" separates words: ord and 1
    ("cafe", ["t2"]),                      # accents do not count
    ("503", ["t3"]),
    ("refund outage", []),
])
def test_q_matches_tickets_holding_every_word(client, texts, q, expected):
    assert _ids(client.get("/tickets", query_string={"tenant_id": "acme", "q": q})) == expected


def test_q_combines_with_other_filters_and_counts_its_total(client, texts):
    body = client.get("/tickets?tenant_id=acme&q=refund&created_to=2026-03-02").get_json()
    assert ([t["id"] for t in body["tickets"]], body["total"]) == (["t1"], 1)


@pytest.mark.parametrize("q", ["", "!!!", " ", " ".join(f"w{n}" for n in range(11)), "x" * 201])
def test_q_without_words_or_with_too_many_is_422_naming_it(client, q):
    assert_json_error(client.get("/tickets", query_string={"tenant_id": "acme", "q": q}), 422, "q")


# -- keyword and signal ---------------------------------------------------------------------
@pytest.fixture
def classified(seed):
    old = seed.doc("acme", "old", keywords=["refund"])
    del old["signals"]  # stored before signals were: matches no signal
    seed.tickets(
        seed.doc("acme", "t1", keywords=["refund", "not received"], signals=["refund"], created_at=T0),
        seed.doc("acme", "t2", keywords=["503", "site down"], signals=["outage", "broken_feature"],
                 created_at=T0 + timedelta(hours=1)),
        seed.doc("acme", "t3", keywords=["not received"], signals=["refund", "outage"],
                 created_at=T0 + timedelta(hours=2)),
        seed.doc("acme", "gone", keywords=["refund"], signals=["refund"], deleted_at=T0),
        old,
        seed.doc("globex", "t4", keywords=["refund"], signals=["refund"]),
    )


@pytest.mark.parametrize("query,expected", [
    ({"keyword": "not received"}, ["t3", "t1"]),   # one element of the list, inner space and all
    ({"keyword": "refund"}, ["old", "t1"]),      # created_at ties: the id decides
    ({"keyword": "Refund"}, []),                   # exact: keywords are stored in lower case
    ({"keyword": "refun"}, []),                    # a whole keyword, not a part of one
    ({"keyword": "received"}, []),
    ({"signal": "refund"}, ["t3", "t1"]),
    ({"signal": "outage"}, ["t3", "t2"]),
    ({"signal": "legal_threat"}, []),              # a known signal no ticket has
    ({"signal": "refund", "keyword": "refund"}, ["t1"]),
    ({"signal": "outage", "created_to": "2026-03-01T13:00:00Z"}, ["t2"]),
])
def test_keyword_and_signal_keep_the_tickets_whose_list_holds_the_value(client, classified, query, expected):
    assert _ids(client.get("/tickets", query_string={"tenant_id": "acme", **query})) == expected


def test_the_templated_signal_is_a_known_one(client, seed):
    seed.ticket("acme", "t1", signals=["templated"])
    assert _ids(client.get("/tickets?tenant_id=acme&signal=templated")) == ["t1"]


@pytest.mark.parametrize("signal", ["extreme", "Refund", "refund ", "billing"])
def test_an_unknown_signal_is_422_naming_it_and_the_known_ones(client, signal):
    body = assert_json_error(client.get("/tickets", query_string={"tenant_id": "acme", "signal": signal}),
                             422, "signal")
    (message,) = body["errors"]["query"]["signal"]
    assert repr(signal) in message and "outage, payment_dispute, refund" in message and "templated" in message


@pytest.mark.parametrize("keyword", ["", "k" * 201])
def test_an_empty_or_overlong_keyword_is_422(client, keyword):
    assert_json_error(client.get("/tickets", query_string={"tenant_id": "acme", "keyword": keyword}), 422, "keyword")


def test_signal_names_come_from_the_running_engines_rules(make_app, tmp_path):
    text = RULES.read_text()
    section = text.index("[categories.minor_fix]")
    tuned = tmp_path / "rules.toml"
    tuned.write_text(text[:section] + '[categories.zeppelin]\nlabel = "airship"\nurgency = "low"\n'
                     '[categories.zeppelin.terms]\nairship = ["zeppelin"]\n\n' + text[section:])
    client = make_app(classifier_rules_path=str(tuned)).test_client()
    assert _ids(client.get("/tickets?tenant_id=acme&signal=zeppelin")) == []
    assert_json_error(make_app().test_client().get("/tickets?tenant_id=acme&signal=zeppelin"), 422, "signal")


# -- next and order -------------------------------------------------------------------------
def test_next_links_walk_every_page_in_a_stable_order_and_keep_the_filters(client, seed):
    # Ties on created_at everywhere: the external id decides, so pages never overlap.
    seed.tickets(*(seed.doc("acme", f"k{n:02d}", created_at=T0 + timedelta(hours=n % 3), urgency="high")
                   for n in range(11)), seed.doc("acme", "low", urgency="low"))
    url, seen, pages = "/tickets?tenant_id=acme&urgency=high&page_size=4", [], 0
    while url is not None:
        body = client.get(url).get_json()
        assert body["total"] == 11 and "urgency=high" in url and "page_size=4" in url
        seen += [t["id"] for t in body["tickets"]]
        url, pages = body["next"], pages + 1
    assert pages == 3
    assert seen == sorted(seen, key=lambda i: (-(int(i[1:]) % 3), i))


def test_next_is_null_past_the_last_page(client, seed):
    seed.ticket("acme", "a1")
    assert client.get("/tickets?tenant_id=acme&page=5").get_json()["next"] is None


# -- status and source values ---------------------------------------------------------------
@pytest.mark.parametrize("query,field", [("status=bogus", "status"), ("source=fax", "source")])
def test_a_status_or_source_neither_documented_nor_in_the_tenants_data_is_422(client, seed, query, field):
    seed.ticket("acme", "a1")
    seed.ticket("globex", "g1", status="bogus", source="fax")  # another tenant's values do not count
    body = assert_json_error(client.get(f"/tickets?tenant_id=acme&{query}"), 422, field)
    assert "open, pending, resolved, closed" in str(body) or "email, chat, web, phone" in str(body)


def test_a_documented_status_or_source_is_accepted_without_any_ticket(client):
    for query in ("status=resolved", "source=phone"):
        assert _ids(client.get(f"/tickets?tenant_id=acme&{query}")) == []


def test_an_undocumented_value_the_tenants_tickets_hold_is_a_filter(client, seed):
    seed.tickets(seed.doc("acme", "fx", source="fax"), seed.doc("acme", "em"))
    assert _ids(client.get("/tickets?tenant_id=acme&source=fax")) == ["fx"]


def test_an_undocumented_value_only_deleted_tickets_hold_is_422(client, seed):
    seed.ticket("acme", "fx", source="fax", deleted_at=T0)
    assert_json_error(client.get("/tickets?tenant_id=acme&source=fax"), 422, "source")


@pytest.mark.parametrize("query,field", [("open=yes", "open"), ("customer_id=" + "c" * 129, "customer_id"),
                                         ("customer=c-1", "customer"), ("from=2026-03-01", "from")])
def test_bad_new_filters_are_422_naming_them(client, query, field):
    assert_json_error(client.get(f"/tickets?tenant_id=acme&{query}"), 422, field)


def test_openapi_documents_the_new_filters_and_next(client):
    spec = client.get("/openapi.json").get_json()
    params = {p["name"] for p in spec["paths"]["/tickets"]["get"]["parameters"]}
    assert {"customer_id", "open", "created_from", "created_to", "q", "keyword", "signal"} <= params
    keyword = next(p for p in spec["paths"]["/tickets"]["get"]["parameters"] if p["name"] == "keyword")
    assert "lower case" in keyword["description"] and "case counts" in keyword["description"]
    status = next(p for p in spec["paths"]["/tickets"]["get"]["parameters"] if p["name"] == "status")
    assert "open | pending | resolved | closed" in status["description"]
