"""The analytics tests' data: a fixed "now" and tickets in the exact shape ingestion
stores them (see ticketsvc/ingestion/sync.py)."""
from __future__ import annotations

from datetime import datetime, timezone

from support import stored_ticket

# Mid-hour on purpose: the current trend bucket is 14:00, not "now".
NOW = datetime(2026, 3, 10, 14, 37, 12, tzinfo=timezone.utc)


def at(text: str) -> datetime:
    """An aware UTC datetime from ``YYYY-MM-DDTHH:MM[:SS[.fff]]``."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def ticket_doc(tenant_id: str, external_id: str, created_at: datetime, **fields) -> dict:
    return stored_ticket(tenant_id, external_id, created_at, **fields)


def acme_tickets() -> list[dict]:
    """The reference data set of tenant ``acme`` (the expectations in the tests are
    computed by hand from this table), plus a soft-deleted ticket and another tenant's
    tickets that must never be counted.

    id  created_at (UTC)      status    source urgency sentiment RA keywords              customer
    t1  03-01 00:00           open      email  high    negative  y  refund, outage        c-a
    t2  03-02 10:00           pending   chat   high    neutral   y  refund                c-a
    t3  03-03 12:00           resolved  web    medium  negative  n  outage, login         c-b
    t4  03-04 08:00           closed    phone  low     positive  n  login, refund, refund c-b
    t5  03-05 09:30           open      fax    high    neutral   y  billing               c-c
    t6  03-10 14:05 (now-hr)  on hold   email  low     negative  n  billing               c-c
    t7  03-09 15:00 (1st hr)  open      chat   medium  neutral   n  -                     c-d
    t8  03-09 14:59:59.999    open      email  low     positive  n  -                     c-d
    t9  03-10 13:59:59        open      email  medium  positive  n  outage                c-e

    signals: t1 billing_problem, outage; t2 refund; t3 outage, access_problem; t4 refund,
    refund; t5 billing_problem; t9 outage; the others none.
    """
    return [
        ticket_doc("acme", "t1", at("2026-03-01T00:00"), urgency="high", sentiment="negative",
                   requires_action=True, keywords=["refund", "outage"], customer_id="c-a",
                   signals=["billing_problem", "outage"]),
        ticket_doc("acme", "t2", at("2026-03-02T10:00"), status="pending", source="chat", urgency="high",
                   requires_action=True, keywords=["refund"], customer_id="c-a", signals=["refund"]),
        ticket_doc("acme", "t3", at("2026-03-03T12:00"), status="resolved", source="web", urgency="medium",
                   sentiment="negative", keywords=["outage", "login"], customer_id="c-b",
                   signals=["outage", "access_problem"]),
        ticket_doc("acme", "t4", at("2026-03-04T08:00"), status="closed", source="phone",
                   sentiment="positive", keywords=["login", "refund", "refund"], customer_id="c-b",
                   signals=["refund", "refund"]),
        ticket_doc("acme", "t5", at("2026-03-05T09:30"), source="fax", urgency="high", requires_action=True,
                   keywords=["billing"], customer_id="c-c", signals=["billing_problem"]),
        ticket_doc("acme", "t6", at("2026-03-10T14:05"), status="on hold", sentiment="negative",
                   keywords=["billing"], customer_id="c-c"),
        ticket_doc("acme", "t7", at("2026-03-09T15:00"), source="chat", urgency="medium", customer_id="c-d"),
        ticket_doc("acme", "t8", at("2026-03-09T14:59:59.999"), sentiment="positive", customer_id="c-d"),
        ticket_doc("acme", "t9", at("2026-03-10T13:59:59"), urgency="medium", sentiment="positive",
                   keywords=["outage"], customer_id="c-e", signals=["outage"]),
        # Soft-deleted: high, negative, in the current hour, customer c-a: counted nowhere.
        ticket_doc("acme", "d1", at("2026-03-10T14:10"), urgency="high", sentiment="negative",
                   requires_action=True, keywords=["refund"], customer_id="c-a", signals=["refund"],
                   deleted_at=at("2026-03-10T14:20")),
        # Another tenant, same customer and ticket ids, all in the current hour: counted nowhere.
        *[ticket_doc("globex", f"t{i}", at("2026-03-10T14:01"), status="open", urgency="high",
                     sentiment="negative", requires_action=True, keywords=["zeppelin"], customer_id="c-a",
                     signals=["legal_threat"])
          for i in range(1, 6)],
    ]
