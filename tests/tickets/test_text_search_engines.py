"""``q`` answers the same on both engines: MongoDB's text index (no language) and the
embedded engine's emulation of it (storage/embedded). Needs a real server to compare
with; the embedded side alone is specified in test_ticket_filters.py."""
import pytest
from conftest import base_settings, real_mongo_required

from ticketsvc.storage import Database
from ticketsvc.tickets.queries import TicketFilters
from ticketsvc.tickets.repository import TicketRepository
from support import stored_ticket
from datetime import datetime, timezone

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
TEXTS = [
    ("Refund still not received", "Order ORD-1 was cancelled."),
    ("Refunds page", "The café's login fails"),
    ("API down", "Every call answers 503; REFUND me"),
    ("snake_case id", "user_42 cannot log-in (again)"),
    ("Çà et là", "naïve coöperation, über-fast"),
    ("the and of", "a an it"),
]
QUERIES = ["refund", "refunds", "refund received", "ord 1", "cafe", "café", "503", "user_42", "user",
           "log", "login", "ca la", "naive cooperation", "uber fast", "the", "an", "it", "cancelled order"]


@pytest.fixture
def embedded():
    db = Database(base_settings(mongo_url="mongomock://", mongo_db="embedded_twin"))
    yield db
    db.close()


@real_mongo_required()
def test_every_search_answers_the_same_on_mongodb_and_the_embedded_engine(database, embedded):
    for db in (database, embedded):
        db.prepare()
        db.tickets.insert_many([stored_ticket("acme", f"t{n}", T0, subject=subject, message=message)
                                for n, (subject, message) in enumerate(TEXTS)])
    for q in QUERIES:
        answers = [[t["external_id"] for t in TicketRepository(db, "acme").iter_live(TicketFilters(q=q))]
                   for db in (database, embedded)]
        assert answers[0] == answers[1], q
