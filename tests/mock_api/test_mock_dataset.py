"""The generated data set: deterministic, realistic in shape, ids unique per tenant only."""
import re
import time
from collections import Counter

from mock_api import MockConfig, create_app
from mock_api.clock import format_iso, parse_iso
from mock_api.dataset import SOURCES, STATUSES, TicketStore
from mock_api.templates import TEMPLATES

FIELDS = ["id", "tenant_id", "source", "customer_id", "subject", "message", "status", "created_at", "updated_at"]
START = 1_800_000_000.0
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def generate(**overrides) -> list[dict]:
    config = MockConfig(**{"tickets": 2000, **overrides})
    store = TicketStore.generate(config, START)
    return store.page(1, 10**9)["tickets"]


def test_same_seed_and_now_give_identical_data():
    assert generate(seed=5) == generate(seed=5)


def test_same_seed_and_now_give_identical_data_through_different_apps(make_app, clock, all_tickets):
    first = make_app(seed=9, now="2027-01-15T08:00:00Z").extensions["mock"]
    clock.advance(3600)
    second = make_app(seed=9, now="2027-01-15T08:00:00Z").extensions["mock"]
    assert all_tickets(first) == all_tickets(second)


def test_different_seeds_give_different_data():
    assert generate(seed=5) != generate(seed=6)


def test_tickets_have_exactly_the_contract_fields_in_iso_z_times():
    for ticket in generate(tickets=300):
        assert list(ticket) == FIELDS
        assert ISO_Z.match(ticket["created_at"]) and ISO_Z.match(ticket["updated_at"])
        assert ticket["status"] in STATUSES
        assert ticket["source"] in SOURCES
        assert re.match(r"^cust-\d{4,}$", ticket["customer_id"])


def test_created_at_spreads_over_thirty_days_with_a_few_percent_in_the_last_day():
    tickets = generate(tickets=10_000)
    ages = [START - parse_iso(t["created_at"]) for t in tickets]
    assert min(ages) >= 0 and max(ages) <= 30 * 86400
    assert max(ages) > 29 * 86400
    last_day = sum(age <= 86400 for age in ages) / len(ages)
    assert 0.02 <= last_day <= 0.10


def test_updated_at_is_never_before_creation_nor_in_the_future():
    tickets = generate()
    for ticket in tickets:
        assert parse_iso(ticket["created_at"]) <= parse_iso(ticket["updated_at"]) <= START
    assert any(t["updated_at"] != t["created_at"] for t in tickets)


def test_listing_is_in_creation_order():
    created = [parse_iso(t["created_at"]) for t in generate()]
    assert created == sorted(created)


def test_four_default_tenants_of_unequal_size():
    sizes = Counter(t["tenant_id"] for t in generate(tickets=4000))
    assert set(sizes) == {"tenant_a", "tenant_b", "tenant_c", "tenant_d"}
    assert len(set(sizes.values())) == 4


def test_ids_are_numbered_per_tenant_so_they_repeat_across_tenants():
    tickets = generate()
    by_tenant = {}
    for ticket in tickets:
        by_tenant.setdefault(ticket["tenant_id"], []).append(ticket["id"])
    for ids in by_tenant.values():
        assert ids == [f"tkt-{n:06d}" for n in range(1, len(ids) + 1)]
    assert "tkt-000001" in by_tenant["tenant_a"] and "tkt-000001" in by_tenant["tenant_d"]


def test_some_customers_have_several_tickets():
    per_customer = Counter((t["tenant_id"], t["customer_id"]) for t in generate())
    assert sum(1 for n in per_customer.values() if n >= 3) >= 20


def test_all_statuses_and_sources_occur():
    tickets = generate()
    assert {t["status"] for t in tickets} == set(STATUSES)
    assert {t["source"] for t in tickets} == set(SOURCES)


def _template_matcher():
    patterns = []
    for template in TEMPLATES:
        subject = re.sub(r"\\\{[a-z_]+\\\}", ".+", re.escape(template.subject))
        patterns.append((re.compile(f"^{subject}$"), template))
    return patterns


def test_about_one_ticket_in_eight_is_high_urgency():
    matchers = _template_matcher()
    urgencies = Counter()
    for ticket in generate(tickets=10_000):
        template = next(t for pattern, t in matchers if pattern.match(ticket["subject"]))
        urgencies[template.urgency] += 1
    assert 0.10 <= urgencies["high"] / 10_000 <= 0.15


def test_custom_tenants_and_size():
    tickets = generate(tickets=50, tenants=("acme", "globex"))
    assert len(tickets) == 50
    assert {t["tenant_id"] for t in tickets} == {"acme", "globex"}


def test_ten_thousand_tickets_generate_well_under_a_second():
    started = time.perf_counter()
    TicketStore.generate(MockConfig(), START)
    assert time.perf_counter() - started < 0.75


def test_two_apps_in_one_process_do_not_share_state(make_app):
    first, second = make_app(), make_app()
    first.test_client().post("/admin/mutate", json={"tenant_id": "tenant_a", "delete": ["tkt-000001"]})
    assert first.test_client().get("/external/support-tickets/tkt-000001?tenant_id=tenant_a").status_code == 404
    assert second.test_client().get("/external/support-tickets/tkt-000001?tenant_id=tenant_a").status_code == 200


def test_a_clock_returning_datetimes_is_accepted():
    from datetime import datetime, timezone

    class DatetimeClock:
        def now(self):
            return datetime.fromtimestamp(START, timezone.utc)

    app = create_app(MockConfig(tickets=10), DatetimeClock())
    assert app.extensions["mock"].describe_data()["now"] == format_iso(START)
