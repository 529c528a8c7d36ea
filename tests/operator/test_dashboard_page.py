"""GET /dashboard/{tenant_id} and its views without a browser: one shell that holds no tenant
data, loads nothing from outside the service, validates its ids, and leaves access to the
JSON endpoints its scripts call (test_dashboard_browser.py and test_dashboard_walk.py show
the pages at work)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from support import assert_json_error, ingest, register_tenants
from ticketsvc.api.context import get_runtime

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "ticketsvc" / "static"
SCRIPTS = [STATIC / name for name in ("api.js", "views.js", "dashboard.js")]
STYLES = [STATIC / name for name in ("dashboard.css", "views.css")]
TEMPLATE = ROOT / "ticketsvc" / "templates" / "dashboard.html"
# Every view's path under /dashboard/tenant_a, and the scripts it runs (in this order).
VIEWS = {
    "overview": ("", ["api.js", "views.js", "dashboard.js"]),
    "tickets": ("/tickets?urgency=high&q=refund", ["api.js", "views.js"]),
    "ticket": ("/tickets/tkt-000001", ["api.js", "views.js"]),
    "customer": ("/customers/cust-0001", ["api.js", "views.js"]),
}
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
ADMIN_KEY = "dashboard-page-admin-key-" + "p" * 32


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("view", list(VIEWS))
def test_every_view_is_an_html_page_that_runs_only_the_services_own_scripts(client, database, view):
    register_tenants(database, "tenant_a")  # an unknown tenant's page is a 404 (test_tenants_api.py)
    path, scripts = VIEWS[view]
    response = client.get("/dashboard/tenant_a" + path)
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert f'data-view="{view}"' in html and 'data-tenant="tenant_a"' in html
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert re.findall(r'<script src="/static/([^"]+)"', html) == scripts
    assert re.findall(r'<link rel="stylesheet" href="/static/([^"]+)"', html) == ["dashboard.css", "views.css"]
    assert "<script>" not in html and " on" + "click=" not in html  # nothing inline: the CSP would refuse it
    # data:, is an empty icon: no /favicon.ico request (a 401 in the console in keys mode).
    assert '<link rel="icon" href="data:,">' in html
    for asset in [f"/static/{name}" for name in scripts] + ["/static/dashboard.css", "/static/views.css"]:
        served = client.get(asset)
        assert served.status_code == 200 and served.mimetype in ("text/javascript", "text/css"), asset


def test_the_views_carry_the_ids_of_their_address_as_data_not_as_markup(client, database):
    register_tenants(database, "tenant_a")
    html = client.get("/dashboard/tenant_a/tickets/a%2Fb%22%3E%3Cscript%3E").get_data(as_text=True)
    assert 'data-ticket="a/b&#34;&gt;&lt;script&gt;"' in html and '"><script>' not in html
    html = client.get("/dashboard/tenant_a/customers/c%2F1").get_data(as_text=True)
    assert 'data-view="customer"' in html and 'data-customer="c/1"' in html


def test_an_unknown_tenants_views_are_404s_that_say_so(client, database):
    register_tenants(database, "tenant_a")
    for path, _ in VIEWS.values():
        page = client.get("/dashboard/tenant_x" + path, headers={"Accept": BROWSER_ACCEPT})
        assert page.status_code == 404 and "No tenant named" in page.get_data(as_text=True), path
        assert_json_error(client.get("/dashboard/tenant_x" + path), 404)


def test_nothing_the_page_needs_comes_from_outside_the_service():
    urls = set()
    for path in (*SCRIPTS, *STYLES, TEMPLATE):
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
        for path, _ in VIEWS.values():
            assert_json_error(client.get(f"/dashboard/{bad}{path}"), 422, "tenant_id")


def test_a_ticket_or_customer_id_longer_than_the_apis_is_a_json_422_naming_it(client, database):
    register_tenants(database, "tenant_a")
    assert_json_error(client.get("/dashboard/tenant_a/tickets/" + "t" * 129), 422, "ticket_id")
    assert_json_error(client.get("/dashboard/tenant_a/customers/" + "c" * 129), 422, "customer_id")
    assert client.get("/dashboard/tenant_a/tickets/" + "t" * 128).status_code == 200


def test_a_view_path_that_names_nothing_is_not_a_page(client, database):
    register_tenants(database, "tenant_a")
    for path in ("/dashboard/tenant_a/tickets/", "/dashboard/tenant_a/customers", "/dashboard/tenant_a/nope"):
        assert client.get(path).status_code == 404, path


def test_the_shell_is_open_but_every_fetch_of_its_script_needs_the_tenants_key(make_app):
    app = make_app(auth_mode="keys", admin_api_key=ADMIN_KEY)
    runtime, client = get_runtime(app), app.test_client()
    ingest(runtime, "tenant_a")
    ticket_id = runtime.db.tickets.find_one({"tenant_id": "tenant_a"})["external_id"]
    _, own_key = runtime.api_keys.create(name="a", tenant_id="tenant_a")
    _, other_key = runtime.api_keys.create(name="b", tenant_id="tenant_b")

    for open_url in ["/dashboard/tenant_a" + path for path, _ in VIEWS.values()] + \
            [f"/static/{path.name}" for path in (*SCRIPTS, *STYLES)]:
        assert client.get(open_url).status_code == 200, open_url

    fetches = {
        "/tenants/": "/tenants/tenant_a/stats",
        "/ingest/logs": "/ingest/logs?tenant_id=tenant_a&page_size=8",
        "/notifications": f"/notifications?tenant_id=tenant_a&ticket_id={ticket_id}&page_size=20",
        "/ingest/status": "/ingest/status?tenant_id=tenant_a",
        "/tickets/": f"/tickets/{ticket_id}/history?tenant_id=tenant_a&page=1&page_size=10",
        "/tickets": "/tickets?tenant_id=tenant_a&urgency=high&page_size=1",
        "/tickets/export": "/tickets/export?tenant_id=tenant_a&urgency=high&format=csv",
    }
    # Every endpoint the scripts call is one of these or /tenants (below; a new fetch must be
    # added here): through api(), apiPath(), or statsPath()'s return (range and source).
    called = set()
    for script in SCRIPTS:
        called |= set(re.findall(r'(?:api\(|apiPath\(|return )"(/[^"?]*)', script.read_text()))
    assert called - {"/dashboard/"} == set(fetches) | {"/tenants"}, called  # /dashboard/: the views' links
    for url in fetches.values():
        assert client.get(url).status_code == 401, url
        assert client.get(url, headers=_bearer(other_key)).status_code == 403, url
        assert client.get(url, headers=_bearer(own_key)).status_code == 200, url
    # The tenant switcher's list: any key, and a tenant key sees its own tenant only.
    assert client.get("/tenants?page_size=100").status_code == 401
    listed = client.get("/tenants?page_size=100", headers=_bearer(own_key)).get_json()["tenants"]
    assert [tenant["tenant_id"] for tenant in listed] == ["tenant_a"]
