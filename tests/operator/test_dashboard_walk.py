"""A support lead's walk through the dashboard in a real browser (Playwright driving headless
Chromium, the ``open_tab`` fixture), served by gunicorn in keys mode, at 1280x900 and 390x844:

open the overview, click the high-urgency figure, see only high-urgency tickets, open one,
see its classification reasons and history, go back (the list is as it was), search for a
word, filter by a customer, open the customer's view, then switch tenant with an admin key.
Every view: what the API answers, no sideways scroll, no console error, a visible focus.

Viewport screenshots of each view go to artifacts/dashboard-<view>-<width>.png; the README
shows copies of them kept in docs/ (copied by hand when the views change, so a test run
leaves the checkout as it was).
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
TENANT, OTHER = "tenant_a", "tenant_b"
VIEWPORTS = [(1280, 900), (390, 844)]


@pytest.fixture(scope="module")
def site(dashboard_sites):
    """Two tenants ingested; ``site.key`` is tenant_a's key."""
    site = dashboard_sites()
    site.key = site.tenant_key(TENANT)
    assert site.ingest(site.key, TENANT)["counts"]["new"] > 0
    site.ingest(site.admin_key, OTHER)
    return site


# -- the page ---------------------------------------------------------------------------------
def _ready(tab, view: str) -> None:
    tab.page.wait_for_selector(f"body[data-view={view}][data-state=ready]", state="attached")


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def _path(url: str) -> str:
    return urlsplit(url).path


def _rows(tab) -> list[dict]:
    return tab.page.evaluate("""() => Array.from(document.querySelectorAll('[data-field="tickets.row"]'),
        row => ({id: row.dataset.key, urgency: row.dataset.urgency, customer: row.dataset.customer,
                 href: row.querySelector('a.ticket-link').getAttribute('href')}))""")


def _assert_readable(tab) -> None:
    """No sideways scroll, no console error, and every link and control the keyboard reaches
    shows where the focus is."""
    assert tab.horizontal_overflow() == 0
    assert tab.errors == []
    tab.page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    reached = []
    for _ in range(12):  # the header's and the view's first links and controls
        tab.page.keyboard.press("Tab")
        focused = tab.page.evaluate("""() => { const e = document.activeElement, s = getComputedStyle(e);
            return [e.tagName, e.id || e.getAttribute('href') || e.name || '', s.outlineStyle, parseFloat(s.outlineWidth)]; }""")
        if focused[0] == "BODY":  # past the last one
            break
        assert focused[2] != "none" and focused[3] >= 2, focused  # a visible focus ring
        reached.append(focused[1])
    assert len(reached) >= 4, reached


def _screenshot(tab, view: str, width: int) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"dashboard-{view}-{width}.png"
    tab.page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    tab.page.screenshot(path=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _list_matches_the_api(tab, site, key: str, tenant: str = TENANT) -> list[dict]:
    """The list view shows GET /tickets for the filters in its address: its total and its
    first page's tickets, each a link to its ticket view."""
    filters = _query(tab.page.url)
    answer = site.get("/tickets", key, tenant_id=tenant, **filters)
    assert tab.page.get_attribute('[data-field="tickets.total"]', "data-value") == str(answer["total"])
    rows = _rows(tab)
    assert [row["id"] for row in rows] == [ticket["id"] for ticket in answer["tickets"]]
    assert all(row["href"] == f"/dashboard/{tenant}/tickets/{quote(row['id'], safe='')}" for row in rows)
    return rows


# -- the walk ---------------------------------------------------------------------------------
@pytest.mark.parametrize("viewport", VIEWPORTS, ids=lambda size: f"{size[0]}x{size[1]}")
def test_a_support_lead_walks_from_the_overview_to_a_ticket_and_a_customer_and_another_tenant(
        open_tab, site, viewport):
    width = viewport[0]
    tab = open_tab(*viewport)
    page = tab.page

    # The overview, the key in the fragment (gone from the address once read).
    page.goto(f"{site.url}/dashboard/{TENANT}#key={site.key}")
    page.wait_for_selector("body[data-state=ready]", state="attached")
    assert "key=" not in page.url
    _assert_readable(tab)
    page.click('a[data-link="kpi:high_urgency"]')

    # The high-urgency tickets, and only those.
    _ready(tab, "tickets")
    assert _path(page.url) == f"/dashboard/{TENANT}/tickets" and _query(page.url) == {"urgency": "high"}
    assert page.input_value('select[name="urgency"]') == "high"
    listed = _list_matches_the_api(tab, site, site.key)
    assert listed and {row["urgency"] for row in listed} == {"high"}
    assert page.locator("#page-next").is_visible()  # more than one page of them
    _assert_readable(tab)
    _screenshot(tab, "tickets", width)

    # One of them: its fields, its classification's reasons, its history, newest first.
    first = listed[0]
    page.click(f'[data-key="{first["id"]}"] a.ticket-link')
    _ready(tab, "ticket")
    assert _path(page.url) == first["href"]
    ticket = site.get(f"/tickets/{first['id']}", site.key, tenant_id=TENANT)
    assert page.text_content('[data-field="ticket.subject"]') == ticket["subject"]
    assert page.locator('[data-field="ticket.reason"]').all_text_contents() == ticket["classification"]["reasons"]
    assert page.locator('[data-field="ticket.keyword"]').all_text_contents() == ticket["keywords"]
    assert page.locator('[data-field="ticket.signal"]').all_text_contents() == ticket["signals"]
    history = site.get(f"/tickets/{first['id']}/history", site.key, tenant_id=TENANT, page_size=10)["history"]
    assert page.eval_on_selector_all('[data-field="ticket.history"]', "items => items.map(i => i.dataset.key)") == \
        [entry["action"] for entry in history]
    alerts = site.get("/notifications", site.key, tenant_id=TENANT, ticket_id=first["id"])["notifications"]
    assert page.eval_on_selector_all('[data-field="ticket.alert"]', "rows => rows.map(r => r.dataset.key)") == \
        [alert["id"] for alert in alerts]
    assert page.get_attribute('[data-field="ticket.customer"]', "href") == \
        f"/dashboard/{TENANT}/customers/{quote(ticket['customer_id'], safe='')}"
    _assert_readable(tab)
    _screenshot(tab, "ticket", width)

    # Back: the list as it was.
    page.go_back()
    _ready(tab, "tickets")
    assert _query(page.url) == {"urgency": "high"} and _rows(tab) == listed

    # A word of that ticket's subject, searched within the high-urgency ones (the form keeps them).
    word = max(re.findall(r"[A-Za-z]{4,}", ticket["subject"]), key=len)
    page.fill("#f-q", word)
    page.press("#f-q", "Enter")
    page.wait_for_url(re.compile(r"[?&]q="))
    _ready(tab, "tickets")
    assert _query(page.url) == {"q": word, "urgency": "high"}
    found = _list_matches_the_api(tab, site, site.key)
    assert first["id"] in [row["id"] for row in found]
    _assert_readable(tab)

    # That ticket's customer, as a filter: only theirs (the search and urgency cleared).
    customer = ticket["customer_id"]
    page.fill("#f-q", "")
    page.select_option('select[name="urgency"]', "")
    page.fill('input[name="customer_id"]', customer)
    page.click(".filter-actions button[type=submit]")
    page.wait_for_url(re.compile(r"customer_id="))
    _ready(tab, "tickets")
    assert _query(page.url) == {"customer_id": customer}
    theirs = _list_matches_the_api(tab, site, site.key)
    assert theirs and {row["customer"] for row in theirs} == {customer}
    _assert_readable(tab)

    # The customer's view: counts by urgency and sentiment, their tickets.
    page.click(f'[data-key="{theirs[0]["id"]}"] .col-customer a')
    _ready(tab, "customer")
    assert _path(page.url) == f"/dashboard/{TENANT}/customers/{quote(customer, safe='')}"
    for name, values in (("urgency", ("high", "medium", "low")), ("sentiment", ("negative", "neutral", "positive"))):
        shown = page.eval_on_selector_all(f'[data-field="customer.{name}"]',
                                          "links => links.map(a => [a.dataset.key, Number(a.dataset.value)])")
        assert shown == [[value, site.get("/tickets", site.key, tenant_id=TENANT, customer_id=customer,
                                          page_size=1, **{name: value})["total"]] for value in values], name
    assert [row["id"] for row in _rows(tab)] == [row["id"] for row in theirs]
    _assert_readable(tab)
    _screenshot(tab, "customer", width)

    # A tenant key sees one tenant: no switcher. An admin key (given in the form) sees both.
    assert page.locator("#tenant-switch").is_hidden()
    page.click("#change-key")
    page.fill("#key-input", site.admin_key)
    page.press("#key-input", "Enter")
    page.wait_for_selector("#tenant-switch:not([hidden])")
    assert page.eval_on_selector_all("#tenant-select option", "options => options.map(o => o.value)") == \
        [TENANT, OTHER]
    page.select_option("#tenant-select", OTHER)
    page.click("#tenant-switch button")
    _ready(tab, "tickets")
    assert _path(page.url) == f"/dashboard/{OTHER}/tickets"
    assert page.text_content('[data-field="site.tenant"]') == OTHER
    _list_matches_the_api(tab, site, site.admin_key, OTHER)
    _assert_readable(tab)


def test_a_tickets_keyword_lists_the_tickets_with_it_under_a_chip_that_removes_it(open_tab, site):
    tab = open_tab(*VIEWPORTS[1])
    ticket = site.get("/tickets", site.key, tenant_id=TENANT, urgency="high", page_size=1)["tickets"][0]
    tab.page.goto(f"{site.url}/dashboard/{TENANT}/tickets/{quote(ticket['id'], safe='')}#key={site.key}")
    _ready(tab, "ticket")
    for field, name in (("ticket.keyword", "keyword"), ("ticket.signal", "signal")):
        value = ticket[name + "s"][0]
        tab.page.click(f'[data-field="{field}"][data-key="{value}"]')
        _ready(tab, "tickets")
        assert _query(tab.page.url) == {name: value}
        assert ticket["id"] in [row["id"] for row in _list_matches_the_api(tab, site, site.key)]
        assert tab.page.get_attribute(f'[data-field="filter.{name}"]', "data-key") == value
        tab.page.click(f'[data-field="filter.{name}"] a.remove')  # the chip's ×: every ticket again
        _ready(tab, "tickets")
        assert _query(tab.page.url) == {}
        assert tab.horizontal_overflow() == 0 and tab.errors == []
        tab.page.go_back()
        tab.page.go_back()
        _ready(tab, "ticket")


def test_the_export_link_hands_over_the_listed_tickets_in_keys_mode(open_tab, site):
    tab = open_tab(*VIEWPORTS[0])
    tab.page.goto(f"{site.url}/dashboard/{TENANT}/tickets?urgency=high&page_size=5#key={site.key}")
    _ready(tab, "tickets")
    with tab.page.expect_download() as download:
        tab.page.click("#export-csv")
    lines = Path(download.value.path()).read_text().splitlines()
    assert download.value.suggested_filename == f"tickets-{TENANT}.csv"
    total = site.get("/tickets", site.key, tenant_id=TENANT, urgency="high")["total"]
    assert lines[0].startswith("id,tenant_id,") and len(lines) == 1 + total  # every page, not the 5 shown
    assert tab.errors == []


def test_hostile_ticket_text_is_shown_as_text_never_run(open_tab, site):
    hostile = '<img src=x onerror="document.body.dataset.owned=1"><script>document.body.dataset.owned=1</script>'
    tab = open_tab(*VIEWPORTS[1])

    def poisoned(route):  # the API's answer, with a customer's worst subject and message
        response = route.fetch()
        answer = response.json()
        for ticket in answer.get("tickets", [answer]):
            ticket.update(subject=hostile, message=hostile, keywords=[hostile])
        route.fulfill(response=response, json=answer)

    tab.page.route(re.compile(r"/tickets(\?|/[^/?]+\?)"), poisoned)
    first = site.get("/tickets", site.key, tenant_id=TENANT, page_size=1)["tickets"][0]["id"]
    for view, url in (("tickets", f"/dashboard/{TENANT}/tickets"), ("ticket", f"/dashboard/{TENANT}/tickets/{first}")):
        tab.page.goto(f"{site.url}{url}#key={site.key}")
        _ready(tab, view)
        assert tab.page.locator("img, main script").count() == 0
        assert tab.page.evaluate("() => document.body.dataset.owned") is None
        assert hostile in tab.page.text_content("main")
        assert tab.horizontal_overflow() == 0 and tab.errors == []


def test_a_deleted_ticket_says_so_and_keeps_its_history(open_tab, site):
    tab = open_tab(*VIEWPORTS[1])
    answer = site.get("/tickets", site.key, tenant_id=TENANT, page_size=1)["tickets"][0]
    history = site.get(f"/tickets/{answer['id']}/history", site.key, tenant_id=TENANT)

    def deleted(route):  # the ticket gone upstream: the API's 404, and a deletion on top of its history
        if "/history" in route.request.url:
            route.fulfill(json={**history, "total": history["total"] + 1, "history": [
                {"action": "deleted", "changes": {}, "job_id": None, "recorded_at": "2026-03-01T12:00:00Z",
                 "reason": "gone upstream"}] + history["history"]})
        else:
            route.fulfill(status=404, json={"code": 404, "status": "Not Found", "message": "Ticket not found"})

    tab.page.route(re.compile(r"/tickets/[^/?]+(/history)?\?"), deleted)
    tab.page.goto(f"{site.url}/dashboard/{TENANT}/tickets/{answer['id']}#key={site.key}")
    _ready(tab, "ticket")
    assert tab.page.is_visible('[data-field="ticket.deleted"]')
    assert "deleted" in tab.page.text_content('[data-field="ticket.deleted"]')
    assert "gone upstream" in tab.page.text_content('[data-field="ticket.deleted"]')
    assert tab.page.locator("#ticket").is_hidden()
    actions = tab.page.eval_on_selector_all('[data-field="ticket.history"]', "items => items.map(i => i.dataset.key)")
    assert actions[0] == "deleted" and len(actions) == len(history["history"]) + 1
    # The 404 is the one console line: the browser's own report of the ticket's failed fetch.
    assert all("404" in error for error in tab.errors) and tab.horizontal_overflow() == 0
