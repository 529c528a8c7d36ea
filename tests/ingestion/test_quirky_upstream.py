"""Build to the contract, not to our mock: a different upstream with its own quirks
(integer ids, numeric strings for paging, a wrapped single ticket, a paging loop)."""
import threading

import pytest
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from support import ingest
from ticketsvc.api.context import get_runtime

TENANT = "acme"


def _ticket(n: int) -> dict:
    return {"id": n, "tenant_id": TENANT, "source": "web", "customer_id": 7000 + n % 3,
            "subject": f"Question {n}", "message": "How do I export my invoices?", "status": "open",
            "created_at": f"2026-11-01T10:{n:02d}:00+00:00", "updated_at": f"2026-11-01T10:{n:02d}:00.123456Z",
            "priority": "p3"}  # a field the contract does not know: ignored


class QuirkyUpstream:
    """A threaded HTTP server on a free port; ``loop`` makes every page point back to page 1."""

    def __init__(self, count: int = 25, loop: bool = False):
        self.tickets = [_ticket(n) for n in range(1, count + 1)]
        self.deleted: list[int] = []
        self.unlisted: set[int] = set()  # served singly but missed by the listing (a page shift)
        self.feed_body: dict | None = None  # what its change feed answers (None: it has none, 404)
        app = Flask("quirky")

        @app.get("/external/ticket-changes")
        def changes():
            return (jsonify(self.feed_body), 200) if self.feed_body is not None else (jsonify({"error": "no"}), 404)

        @app.get("/external/support-tickets")
        def listing():
            page, size = int(request.args["page"]), int(request.args["page_size"])
            listed = [t for t in self.tickets if t["id"] not in self.unlisted]
            chunk = listed[(page - 1) * size: page * size]
            more = page * size < len(listed)
            next_page = "1" if loop else (str(page + 1) if more else None)
            return jsonify({"tickets": chunk, "next_page": next_page, "total_count": str(len(self.tickets))})

        @app.get("/external/support-tickets/<ticket_id>")
        def single(ticket_id):
            found = [t for t in self.tickets if str(t["id"]) == ticket_id]
            return (jsonify({"ticket": found[0]}), 200) if found else (jsonify({"error": "gone"}), 404)

        @app.get("/external/deleted-tickets")
        def deleted():
            return jsonify({"deleted_ids": self.deleted})

        @app.get("/health")
        def health():
            return jsonify({"ok": True})

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def quirky():
    servers = []

    def start(**kwargs):
        servers.append(QuirkyUpstream(**kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def test_integer_ids_and_numeric_string_paging_are_read_as_the_contract_means(make_app, quirky, database):
    upstream = quirky()
    runtime = get_runtime(make_app(external_api_url=upstream.url, external_page_size=10))
    record = ingest(runtime, TENANT)
    assert record["status"] == "completed" and record["counts"]["new"] == 25 and record["counts"]["invalid"] == 0
    assert record["total_pages"] == 3 and record["processed_pages"] == 3
    stored = database.tickets.find_one({"tenant_id": TENANT, "external_id": "7"})
    assert stored["customer_id"] == "7001"
    assert ingest(runtime, TENANT)["counts"]["unchanged"] == 25  # microsecond timestamps compare equal


def test_a_wrapped_single_ticket_confirms_it_still_exists(make_app, quirky, database):
    upstream = quirky()
    runtime = get_runtime(make_app(external_api_url=upstream.url, external_page_size=10))
    ingest(runtime, TENANT)
    upstream.unlisted = {3}  # missing from the pages, but the single fetch still finds it
    record = ingest(runtime, TENANT)
    assert record["counts"]["deleted"] == 0 and record["counts"]["fetched"] == 25
    assert record["counts"]["invalid"] == 0  # the wrapped ticket was read, not rejected
    assert database.tickets.find_one({"tenant_id": TENANT, "external_id": "3"}).get("deleted_at") is None
    upstream.unlisted = set()
    upstream.tickets = [t for t in upstream.tickets if t["id"] != 4]  # gone for good: single fetch says 404
    record = ingest(runtime, TENANT)
    assert record["counts"]["deleted"] == 1
    assert database.tickets.find_one({"tenant_id": TENANT, "external_id": "4"})["deleted_at"] is not None


def test_a_paging_loop_stops_at_the_repeated_page_and_deletes_nothing(make_app, quirky, database):
    upstream = quirky(loop=True)
    runtime = get_runtime(make_app(external_api_url=upstream.url, external_page_size=10))
    record = ingest(runtime, TENANT)
    assert record["status"] == "completed" and record["stopped_early"] == "page loop"
    # One page, and one ask of the change feed this upstream does not have (a 404).
    assert record["processed_pages"] == 1 and record["http"]["calls"] == 2
    assert record["mode"] == "full" and record["feed"]["available"] is False
    assert record["counts"]["deleted"] == 0


@pytest.mark.parametrize("answer", [{"changes": []}, {"tickets": [], "next_cursor": {"page": 2}, "as_of": "x"}],
                         ids=["no tickets list", "a cursor that is not one"])
def test_a_feed_answering_nonsense_makes_the_run_fall_back_to_a_full_walk(make_app, quirky, database, answer):
    upstream = quirky()
    upstream.feed_body = {"tickets": [], "next_cursor": None, "as_of": "2026-11-02T00:00:00Z"}
    runtime = get_runtime(make_app(external_api_url=upstream.url, external_page_size=10))
    assert ingest(runtime, TENANT)["mode"] == "full"
    upstream.feed_body = answer
    upstream.tickets = [t for t in upstream.tickets if t["id"] != 4]
    record = ingest(runtime, TENANT)
    assert record["status"] == "completed" and record["mode"] == "full"
    assert "fell back to a full walk" in record["mode_reason"]
    assert record["counts"]["fetched"] == 24 and record["counts"]["deleted"] == 1
