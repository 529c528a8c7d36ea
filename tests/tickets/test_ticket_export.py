"""GET /tickets/export: every matching live ticket, streamed as NDJSON or CSV, in the
listing's order, with the listing's filters and its 422s; memory does not grow with the
number of tickets."""
import csv
import io
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from support import assert_json_error
from ticketsvc.tickets.repository import EXPORT_BATCH

T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
PROBE = Path(__file__).with_name("export_memory_probe.py")


def _listing(client, query: str) -> list[dict]:
    tickets, url = [], f"/tickets?{query}&page_size=100"
    while url:
        body = client.get(url).get_json()
        tickets += body["tickets"]
        url = body["next"]
    return tickets


@pytest.fixture
def many(seed):
    """More than two storage batches, with ties on created_at, plus tickets never exported."""
    count = 2 * EXPORT_BATCH + 37
    seed.tickets(*(seed.doc("acme", f"t{n:05d}", created_at=T0 + timedelta(minutes=n % 50),
                            urgency="high" if n % 4 == 0 else "low") for n in range(count)),
                 seed.doc("acme", "gone", deleted_at=T0), seed.doc("globex", "t00001"))
    return count


def test_ndjson_export_is_every_live_ticket_as_the_listing_shows_it_in_its_order(client, many):
    response = client.get("/tickets/export?tenant_id=acme")
    assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
    assert response.headers["Content-Disposition"] == 'attachment; filename="tickets-acme.ndjson"'
    lines = response.get_data(as_text=True).splitlines()
    assert len(lines) == many
    assert [json.loads(line) for line in lines] == _listing(client, "tenant_id=acme")


def test_export_takes_the_listings_filters(client, many):
    exported = client.get("/tickets/export?tenant_id=acme&urgency=high&created_from=2026-03-01T12:10:00Z")
    ids = [json.loads(line)["id"] for line in exported.get_data(as_text=True).splitlines()]
    assert ids and ids == [t["id"] for t in _listing(client, "tenant_id=acme&urgency=high"
                                                               "&created_from=2026-03-01T12:10:00Z")]


def test_csv_export_has_a_header_and_one_row_per_ticket(client, seed):
    seed.ticket("acme", "t1", subject="Refund, \"now\"\nplease", keywords=["refund", "not received"],
                signals=["refund", "billing_problem"], requires_action=True,
                classification={"reasons": [], "version": "v9"})
    response = client.get("/tickets/export?tenant_id=acme&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="tickets-acme.csv"'
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))
    assert len(rows) == 1
    row = rows[0]
    assert (row["id"], row["subject"], row["keywords"], row["signals"], row["requires_action"]) == (
        "t1", "Refund, \"now\"\nplease", "refund; not received", "refund; billing_problem", "true")
    assert (row["classification_version"], row["created_at"]) == ("v9", "2026-03-01T12:00:00Z")


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_quoted(client, seed):
    seed.ticket("acme", "t1", subject="=HYPERLINK(\"http://evil\")", message="@SUM(A1)")
    row = next(csv.DictReader(io.StringIO(client.get("/tickets/export?tenant_id=acme&format=csv")
                                          .get_data(as_text=True), newline="")))
    assert (row["subject"], row["message"]) == ("'=HYPERLINK(\"http://evil\")", "'@SUM(A1)")


def test_an_export_with_no_match_is_empty_not_an_error(client):
    response = client.get("/tickets/export?tenant_id=nobody")
    assert (response.status_code, response.get_data()) == (200, b"")
    csv_only_header = client.get("/tickets/export?tenant_id=nobody&format=csv").get_data(as_text=True)
    assert csv_only_header.splitlines() == [",".join(("id", "tenant_id", "source", "customer_id", "subject",
                                                      "message", "status", "created_at", "updated_at", "urgency",
                                                      "sentiment", "requires_action", "keywords", "signals",
                                                      "classification_version", "ingested_at", "synced_at"))]


def test_export_takes_the_keyword_and_signal_filters(client, seed):
    seed.tickets(seed.doc("acme", "t1", keywords=["not received"], signals=["refund"]),
                 seed.doc("acme", "t2", keywords=["refund"], signals=["refund", "outage"],
                          created_at=T0 + timedelta(hours=1)),
                 seed.doc("acme", "t3", keywords=["not received"], signals=["outage"],
                          created_at=T0 + timedelta(hours=2)))
    for query, expected in (("signal=refund", ["t2", "t1"]), ("keyword=not%20received", ["t3", "t1"]),
                            ("keyword=not%20received&signal=refund&format=csv", ["t1"])):
        exported = client.get(f"/tickets/export?tenant_id=acme&{query}").get_data(as_text=True)
        if "format=csv" in query:
            ids = [row["id"] for row in csv.DictReader(io.StringIO(exported, newline=""))]
        else:
            ids = [json.loads(line)["id"] for line in exported.splitlines()]
        assert ids == expected, query


@pytest.mark.parametrize("query,field", [
    ("format=xlsx", "format"), ("status=bogus", "status"), ("source=fax", "source"), ("page=2", "page"),
    ("q=%21%21", "q"), ("created_to=soon", "created_to"), ("formt=csv", "formt"), ("signal=refunds", "signal"),
    ("keyword=", "keyword"),
])
def test_bad_export_query_is_a_json_422_naming_the_field_before_any_row(client, seed, query, field):
    seed.ticket("acme", "t1")
    assert_json_error(client.get(f"/tickets/export?tenant_id=acme&{query}"), 422, field)


def test_missing_tenant_is_422(client):
    assert_json_error(client.get("/tickets/export"), 422, "tenant_id")


@pytest.mark.slow
def test_exporting_100k_tickets_keeps_resident_memory_flat():
    # A process of its own: RSS measured there is the export's, not the test session's.
    result = subprocess.run([sys.executable, str(PROBE), "100000", "ndjson"], capture_output=True, text=True,
                            timeout=280, check=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert (figures["status"], figures["lines"]) == (200, 100_000)
    # The export is ~75 MB of JSON, and the tickets as Python dicts several times that;
    # holding them (a list of all tickets) would grow RSS by hundreds of MB. One batch of
    # copies and the response chunks in flight stay well under the bound.
    assert figures["bytes"] > 60 * 2**20
    assert figures["rss_growth_mb"] < 40, figures
