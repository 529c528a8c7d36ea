"""GET /tenants, GET /tenants/{T}, PATCH /tenants/{T}: the known tenants, their sync
state and last runs; a tenant switched off is skipped by the periodic sync; an unknown
tenant's stats and dashboard are 404s."""
from datetime import datetime, timedelta, timezone

import pytest

from support import assert_json_error, ingest, register_tenants, stored_ticket, wait_for_job

T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def _run(tenant_id, job_id, status, started_at, **fields):
    return {"job_id": job_id, "tenant_id": tenant_id, "trigger": "api", "status": status, "started_at": started_at,
            "ended_at": None if status == "running" else started_at + timedelta(minutes=1), **fields}


@pytest.fixture
def tenants(database):
    """acme: a complete run, then a failed one; globex: one running; initech: never run to the end."""
    register_tenants(database, "acme", "globex", "initech")
    database.tenants.update_one({"_id": "acme"}, {"$set": {"next_sync_at": T0 + timedelta(hours=1)}})
    database.ingestion_logs.insert_many([
        _run("acme", "a1", "completed", T0 - timedelta(hours=2), mode="full"),
        _run("acme", "a2", "failed", T0 - timedelta(hours=1), mode="incremental"),
        _run("globex", "g1", "running", T0),
        _run("initech", "i1", "cancelled", T0),
    ])
    database.tickets.insert_many([
        stored_ticket("acme", "t1", T0), stored_ticket("acme", "t2", T0),
        stored_ticket("acme", "gone", T0, deleted_at=T0), stored_ticket("globex", "t1", T0),
    ])


def test_listing_shows_every_known_tenant_by_id_with_its_runs_and_live_tickets(client, tenants):
    body = client.get("/tenants").get_json()
    assert (body["total"], body["page"], body["page_size"]) == (3, 1, 20)
    assert [t["tenant_id"] for t in body["tenants"]] == ["acme", "globex", "initech"]
    acme = body["tenants"][0]
    assert acme["live_tickets"] == 2 and acme["sync_enabled"] is True
    assert acme["last_run"] == {"job_id": "a2", "status": "failed", "trigger": "api", "mode": "incremental",
                                "started_at": "2026-03-01T11:00:00Z", "ended_at": "2026-03-01T11:01:00Z"}
    assert acme["last_complete_run_at"] == "2026-03-01T10:01:00Z"  # the failed run after it does not count
    globex, initech = body["tenants"][1:]
    assert (globex["last_run"]["status"], globex["last_run"]["ended_at"], globex["live_tickets"]) == ("running", None, 1)
    assert (initech["last_complete_run_at"], initech["live_tickets"]) == (None, 0)


def test_next_sync_at_is_null_while_periodic_sync_is_off(client, tenants):
    # The test settings run with SYNC_INTERVAL_S=0: no periodic sync will come.
    assert client.get("/tenants/acme").get_json()["next_sync_at"] is None


def test_next_sync_at_is_when_the_tenant_is_due(make_app, tenants):
    client = make_app(sync_interval_s=900).test_client()
    assert client.get("/tenants/acme").get_json()["next_sync_at"] == "2026-03-01T13:00:00Z"


def test_listing_pages(client, tenants):
    body = client.get("/tenants?page=2&page_size=2").get_json()
    assert ([t["tenant_id"] for t in body["tenants"]], body["total"]) == (["initech"], 3)


def test_one_tenant_is_the_listings_entry(client, tenants):
    listed = client.get("/tenants").get_json()["tenants"][0]
    assert client.get("/tenants/acme").get_json() == listed


def test_a_tenant_becomes_known_with_its_first_run(client, runtime):
    assert_json_error(client.get("/tenants/tenant_d"), 404)
    ingest(runtime, "tenant_d")
    body = client.get("/tenants/tenant_d").get_json()
    assert body["last_run"]["status"] == "completed" and body["live_tickets"] > 0
    assert body["last_complete_run_at"] == body["last_run"]["ended_at"]


@pytest.mark.parametrize("request_", [("GET", "/tenants/tenant_x"), ("PATCH", "/tenants/tenant_x"),
                                      ("GET", "/tenants/tenant_x/stats")])
def test_an_unknown_tenant_is_404_saying_so(client, tenants, request_):
    method, url = request_
    body = assert_json_error(client.open(url, method=method, json={"sync_enabled": False}), 404)
    assert "unknown tenant tenant_x" in body["message"]


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def test_an_unknown_tenants_dashboard_is_a_404_page_that_says_so(client, tenants):
    response = client.get("/dashboard/tenant_x", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "No tenant named" in response.get_data(as_text=True) and "tenant_x" in response.get_data(as_text=True)
    assert "Content-Security-Policy" in response.headers
    assert client.get("/dashboard/acme", headers={"Accept": BROWSER_ACCEPT}).status_code == 200


def test_an_unknown_tenants_dashboard_is_a_json_404_for_a_client_that_does_not_ask_for_html(client, tenants):
    body = assert_json_error(client.get("/dashboard/tenant_x"), 404)
    assert "unknown tenant tenant_x" in body["message"]


# -- PATCH sync_enabled ---------------------------------------------------------------------
def test_patch_switches_sync_off_and_on(client, tenants):
    body = client.patch("/tenants/acme", json={"sync_enabled": False}).get_json()
    assert (body["tenant_id"], body["sync_enabled"], body["next_sync_at"]) == ("acme", False, None)
    assert client.get("/tenants/acme").get_json()["sync_enabled"] is False
    assert client.patch("/tenants/acme", json={"sync_enabled": True}).get_json()["sync_enabled"] is True


@pytest.mark.parametrize("body,field", [({}, "sync_enabled"), ({"sync_enabled": "false"}, "sync_enabled"),
                                        ({"sync_enabled": 0}, "sync_enabled"),
                                        ({"sync_enabled": True, "name": "x"}, "name")])
def test_bad_patch_body_is_422_naming_the_field(client, tenants, body, field):
    assert_json_error(client.patch("/tenants/acme", json=body), 422, field)


def test_the_periodic_sync_skips_a_tenant_switched_off(make_app, fake_clock):
    runtime = make_app(clock=fake_clock, sync_interval_s=60).extensions["ticketsvc"]
    client = make_app(clock=fake_clock, sync_interval_s=60).test_client()
    ingest(runtime, "tenant_c")
    ingest(runtime, "tenant_d")
    assert client.patch("/tenants/tenant_c", json={"sync_enabled": False}).status_code == 200
    fake_clock.advance(61)
    assert runtime.ingestion.sync_due_tenants() == ["tenant_d"]
    wait_for_job(runtime, runtime.ingestion.status("tenant_d")["job"]["job_id"])
    # A run by hand still works, and switching it back on makes it due again.
    assert client.post("/ingest/run?tenant_id=tenant_c").status_code == 202
    wait_for_job(runtime, runtime.ingestion.status("tenant_c")["job"]["job_id"])
    client.patch("/tenants/tenant_c", json={"sync_enabled": True})
    fake_clock.advance(61)
    assert sorted(runtime.ingestion.sync_due_tenants()) == ["tenant_c", "tenant_d"]
    for tenant in ("tenant_c", "tenant_d"):
        wait_for_job(runtime, runtime.ingestion.status(tenant)["job"]["job_id"])


def test_the_directorys_run_lookups_read_an_index_without_sorting(database, tenants, settings):
    if settings.embedded:
        pytest.skip("explain plans need a real MongoDB: set TEST_MONGO_URL=mongodb://...")
    from support import plan_stages

    database.prepare()
    order = [("started_at", -1)]
    for criteria in ({"tenant_id": "acme"}, {"tenant_id": "acme", "status": "completed"}):
        plan = database.ingestion_logs.find(criteria).sort(order).limit(1).explain()["queryPlanner"]["winningPlan"]
        stages = [n["stage"] for n in plan_stages(plan)]
        assert "IXSCAN" in stages and "SORT" not in stages and "COLLSCAN" not in stages, plan
