"""GET /dashboard/{tenant_id} without a browser: a shell that holds no tenant data, loads
nothing from outside the service, validates its tenant id, and leaves access to the JSON
endpoints its script calls (see test_dashboard_browser.py for the page at work)."""
from __future__ import annotations

import re
from pathlib import Path

from support import assert_json_error, ingest, register_tenants
from ticketsvc.api.context import get_runtime

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "ticketsvc" / "static" / "dashboard.js"
STYLES = ROOT / "ticketsvc" / "static" / "dashboard.css"
TEMPLATE = ROOT / "ticketsvc" / "templates" / "dashboard.html"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
ADMIN_KEY = "dashboard-page-admin-key-" + "p" * 32


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_dashboard_is_an_html_page_that_runs_only_the_services_own_script(client, database):
    register_tenants(database, "tenant_a")  # an unknown tenant's page is a 404 (test_tenants_api.py)
    response = client.get("/dashboard/tenant_a")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert 'data-tenant="tenant_a"' in html
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    # data:, is an empty icon: no /favicon.ico request (a 401 in the console in keys mode).
    assert sorted(assets) == ["/static/dashboard.css", "/static/dashboard.js", "data:,"]
    for asset, mimetype in (("/static/dashboard.js", "text/javascript"), ("/static/dashboard.css", "text/css")):
        served = client.get(asset)
        assert served.status_code == 200 and served.mimetype == mimetype, asset


def test_nothing_the_page_needs_comes_from_outside_the_service():
    urls = set()
    for path in (SCRIPT, STYLES, TEMPLATE):
        urls |= set(re.findall(r"https?://[^\s\"')]+", path.read_text()))
        assert "@import" not in path.read_text() and "url(" not in path.read_text(), path
    assert urls == {SVG_NAMESPACE}  # an XML namespace name, never fetched


def test_the_page_holds_no_tenant_data(runtime, client):
    ingest(runtime, "tenant_a")
    register_tenants(runtime.db, "tenant_zz")
    own = client.get("/dashboard/tenant_a").get_data(as_text=True)
    empty = client.get("/dashboard/tenant_zz").get_data(as_text=True)
    # The same page for a tenant with data and one (known) without, but for the name.
    assert own.replace("tenant_a", "T") == empty.replace("tenant_zz", "T")
    some_ticket = runtime.db.tickets.find_one({"tenant_id": "tenant_a"})
    assert some_ticket["external_id"] not in own and some_ticket["customer_id"] not in own


def test_an_invalid_tenant_id_is_a_json_422_naming_it(client):
    for bad in ("bad%20id", "x" * 65, "semi;colon", "tenant_a%0A"):
        assert_json_error(client.get(f"/dashboard/{bad}"), 422, "tenant_id")


def test_the_shell_is_open_but_every_fetch_of_its_script_needs_the_tenants_key(make_app):
    app = make_app(auth_mode="keys", admin_api_key=ADMIN_KEY)
    runtime, client = get_runtime(app), app.test_client()
    ingest(runtime, "tenant_a")
    _, own_key = runtime.api_keys.create(name="a", tenant_id="tenant_a")
    _, other_key = runtime.api_keys.create(name="b", tenant_id="tenant_b")

    for open_url in ("/dashboard/tenant_a", "/static/dashboard.js", "/static/dashboard.css"):
        assert client.get(open_url).status_code == 200, open_url

    fetches = {
        "/tenants/": "/tenants/tenant_a/stats",
        "/ingest/logs": "/ingest/logs?tenant_id=tenant_a&page_size=8",
        "/notifications": "/notifications?tenant_id=tenant_a&status=pending&page_size=1",
        "/ingest/status": "/ingest/status?tenant_id=tenant_a",
    }
    # Every endpoint the script calls is one of these (a new fetch must be added here); the
    # stats path is built by statsPath() (range and source), which returns it.
    called = set(re.findall(r'(?:api\(|return )"(/[^"?]*)', SCRIPT.read_text()))
    assert called == set(fetches), called
    for url in fetches.values():
        assert client.get(url).status_code == 401, url
        assert client.get(url, headers=_bearer(other_key)).status_code == 403, url
        assert client.get(url, headers=_bearer(own_key)).status_code == 200, url
