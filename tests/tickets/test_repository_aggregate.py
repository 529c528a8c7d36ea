import pytest

from support import stored_ticket
from ticketsvc.tickets.repository import TicketRepository


def test_tenant_aggregations_must_open_with_the_tenants_match(database):
    from datetime import datetime, timezone

    now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    database.tickets.insert_many([stored_ticket("a", "1", now), stored_ticket("b", "1", now)])
    repo = TicketRepository(database, "a")
    assert repo.aggregate([{"$match": repo.live()}, {"$count": "n"}]) == [{"n": 1}]
    for pipeline in ([], [{"$count": "n"}], [{"$match": {"tenant_id": "b"}}], [{"$match": {}}]):
        with pytest.raises(ValueError):
            repo.aggregate(pipeline)
