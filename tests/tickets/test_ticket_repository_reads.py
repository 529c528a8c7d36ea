"""TicketRepository's read side: tenant scoping, order, pages, deletions, history."""
from datetime import datetime, timedelta, timezone

import pytest

from ticketsvc.domain import PageRequest
from ticketsvc.tickets.queries import TicketFilters
from ticketsvc.tickets.repository import TicketRepository

T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def _ids(page):
    return [t["external_id"] for t in page.items]


def test_listing_holds_only_the_tenants_tickets_when_ids_overlap(database, seed):
    seed.ticket("acme", "tkt-1")
    seed.ticket("globex", "tkt-1")
    seed.ticket("globex", "tkt-2")
    page = TicketRepository(database, "acme").list_live()
    assert page.total == 1
    assert [(t["tenant_id"], t["subject"]) for t in page.items] == [("acme", "acme/tkt-1")]


def test_listing_is_newest_first_with_external_id_breaking_ties(database, seed):
    seed.ticket("acme", "b", created_at=T0)
    seed.ticket("acme", "a", created_at=T0)
    seed.ticket("acme", "c", created_at=T0 + timedelta(hours=1))
    seed.ticket("acme", "d", created_at=T0 - timedelta(hours=1))
    assert _ids(TicketRepository(database, "acme").list_live()) == ["c", "a", "b", "d"]


def test_pages_partition_the_listing_and_total_counts_every_match(database, seed):
    for n in range(7):
        seed.ticket("acme", f"t{n}", created_at=T0 + timedelta(minutes=n // 2))  # pairs share a time
    repo = TicketRepository(database, "acme")
    pages = [repo.list_live(page=PageRequest(page=p, page_size=3)) for p in (1, 2, 3, 4)]
    assert [p.total for p in pages] == [7, 7, 7, 7]
    assert [len(p.items) for p in pages] == [3, 3, 1, 0]
    assert sum((_ids(p) for p in pages), []) == _ids(repo.list_live(page=PageRequest(page_size=100)))


def test_soft_deleted_tickets_are_not_listed(database, seed):
    seed.ticket("acme", "live")
    seed.ticket("acme", "gone", deleted_at=T0)
    page = TicketRepository(database, "acme").list_live()
    assert _ids(page) == ["live"] and page.total == 1


def test_filters_combine_as_and(database, seed):
    seed.ticket("acme", "hit", urgency="high", source="chat", requires_action=True)
    seed.ticket("acme", "wrong-source", urgency="high", source="email", requires_action=True)
    seed.ticket("acme", "no-action", urgency="high", source="chat", requires_action=False)
    filters = TicketFilters(urgency="high", source="chat", requires_action=True)
    assert _ids(TicketRepository(database, "acme").list_live(filters)) == ["hit"]


def test_urgent_lists_only_live_high_urgency(database, seed):
    seed.ticket("acme", "high", urgency="high")
    seed.ticket("acme", "medium", urgency="medium")
    seed.ticket("acme", "high-deleted", urgency="high", deleted_at=T0)
    seed.ticket("globex", "high-other-tenant", urgency="high")
    assert _ids(TicketRepository(database, "acme").list_urgent()) == ["high"]


def test_get_live_returns_the_tenants_own_copy_without_storage_internals(database, seed):
    seed.ticket("acme", "tkt-1")
    seed.ticket("globex", "tkt-1")
    ticket = TicketRepository(database, "globex").get_live("tkt-1")
    assert ticket["subject"] == "globex/tkt-1"
    assert "_id" not in ticket and "last_seen_job" not in ticket


def test_get_live_is_none_for_deleted_unknown_and_other_tenants_ids(database, seed):
    seed.ticket("acme", "gone", deleted_at=T0)
    seed.ticket("globex", "theirs")
    repo = TicketRepository(database, "acme")
    assert repo.get_live("gone") is None
    assert repo.get_live("theirs") is None
    assert repo.get_live("never") is None


def test_history_is_newest_first_and_scoped_to_tenant_and_ticket(database, seed):
    seed.ticket("acme", "tkt-1")
    seed.history("acme", "tkt-1", "created", T0)
    seed.history("acme", "tkt-1", "updated", T0 + timedelta(hours=1))
    seed.history("acme", "tkt-2", "created", T0)
    seed.history("globex", "tkt-1", "deleted", T0 + timedelta(hours=2))
    page = TicketRepository(database, "acme").history("tkt-1")
    assert [e["action"] for e in page.items] == ["updated", "created"] and page.total == 2
    assert all("tenant_id" not in e and "_id" not in e for e in page.items)


def test_history_of_a_soft_deleted_ticket_is_served_with_its_reason(database, seed):
    seed.ticket("acme", "gone", deleted_at=T0 + timedelta(hours=1))
    seed.history("acme", "gone", "created", T0)
    seed.history("acme", "gone", "deleted", T0 + timedelta(hours=1), reason="gone upstream")
    page = TicketRepository(database, "acme").history("gone")
    assert page.items[0]["action"] == "deleted" and page.items[0]["reason"] == "gone upstream"


def test_history_is_none_only_when_the_tenant_never_had_the_ticket(database, seed):
    seed.ticket("acme", "no-history-yet")
    seed.ticket("globex", "theirs")
    seed.history("globex", "theirs", "created", T0)
    repo = TicketRepository(database, "acme")
    assert repo.history("theirs") is None
    assert repo.history("no-history-yet").total == 0


@pytest.mark.parametrize("page,page_size", [(0, 20), (1, 0), (1, 101), (True, 20), ("1", 20)])
def test_page_request_refuses_out_of_range_or_non_integer_values(page, page_size):
    with pytest.raises(ValueError):
        PageRequest(page=page, page_size=page_size)


@pytest.mark.parametrize("filters", [
    {"status": {"$ne": "x"}}, {"source": ["email"]}, {"urgency": "extreme"},
    {"sentiment": "angry"}, {"requires_action": "true"},
])
def test_filters_refuse_values_that_are_not_plain_allowed_values(filters):
    with pytest.raises(ValueError):
        TicketFilters(**filters)


def test_reads_refuse_an_operator_as_ticket_id(database, seed):
    seed.ticket("acme", "tkt-1")
    repo = TicketRepository(database, "acme")
    with pytest.raises(ValueError):
        repo.get_live({"$ne": None})
    with pytest.raises(ValueError):
        repo.history({"$gt": ""})
