"""The dashboard in a real browser: headless Chromium loads /dashboard/{tenant_id} from the
service under gunicorn (AUTH_MODE=keys, the tenant's key in the URL fragment), runs the
page's script, and every figure in the resulting DOM equals what the JSON API answers.
A screenshot is saved as artifacts/dashboard.png.

Skips where Chromium is not installed; ``.ci/run`` installs Debian's ``chromium``.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "artifacts" / "dashboard.png"
ADMIN_KEY = "dashboard-test-admin-key-" + "d" * 32
TENANT = "tenant_a"
BREAKDOWNS = ("by_status", "by_urgency", "by_sentiment", "by_source")

pytestmark = [
    pytest.mark.e2e, pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="the browser test needs Chromium: apt-get install -y chromium "
                                                "(.ci/run installs it when it runs as root)"),
]


# -- the browser --------------------------------------------------------------------------
def _chromium(tmp_path: Path, *args: str) -> str:
    profile = tmp_path / f"chromium-{time.monotonic_ns()}"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}",
               # Lets the page's fetches and script finish before the DOM or the picture is taken.
               "--virtual-time-budget=5000", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _dump_dom(tmp_path: Path, url: str) -> "Page":
    return Page(_chromium(tmp_path, "--dump-dom", url))


class Page(HTMLParser):
    """The rendered DOM's figures: every element carrying ``data-field``, with its
    attributes and text, in document order."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, html: str):
        super().__init__()
        self.html = html
        self.fields: list[dict] = []
        self.state = None
        self._open: list[dict | None] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "body":
            self.state = attrs.get("data-state")
        entry = {"tag": tag, **attrs, "text": ""} if "data-field" in attrs else None
        if entry is not None:
            self.fields.append(entry)
        if tag not in self.VOID:
            self._open.append(entry)

    def handle_endtag(self, tag):
        if tag not in self.VOID and self._open:
            self._open.pop()

    def handle_data(self, data):
        for entry in self._open:
            if entry is not None:
                entry["text"] += data

    def items(self, field: str) -> list[dict]:
        return [entry for entry in self.fields if entry["data-field"] == field]

    def figure(self, field: str) -> tuple[str | None, str]:
        """(data-value, shown text) of a single figure."""
        (entry,) = self.items(field)
        return entry.get("data-value"), entry["text"].strip()


# -- the API's answers ------------------------------------------------------------------
def _get(service, path: str, key: str, **params) -> dict:
    response = requests.get(service.url + path, params=params, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return response.json()


def _alert_totals(service, key: str) -> dict[str, int]:
    return {status: _get(service, "/notifications", key, tenant_id=TENANT, status=status, page_size=1)["total"]
            for status in ("pending", "delivered", "dead")}


def _what_the_api_says(service, key: str, **stats_params) -> dict:
    stats = _get(service, f"/tenants/{TENANT}/stats", key, **stats_params)
    stats.pop("generated_at")
    return {"stats": stats, "runs": _get(service, "/ingest/logs", key, tenant_id=TENANT, page_size=8)["logs"],
            "alerts": _alert_totals(service, key),
            "running": _get(service, "/ingest/status", key, tenant_id=TENANT)["running"]}


def _settled_alerts(service, key: str, timeout: float = 30.0) -> dict[str, int]:
    """Wait until delivery stops moving alerts (all sent, or held by the open circuit)."""
    deadline = time.monotonic() + timeout
    previous = None
    while time.monotonic() < deadline:
        totals = _alert_totals(service, key)
        if totals == previous:
            return totals
        previous = totals
        time.sleep(1.5)  # longer than NOTIFY_POLL_S: a drain tick ran in between
    raise AssertionError(f"alerts still moving after {timeout}s: {previous}")


def _ingest(service, key: str) -> dict:
    started = requests.post(service.url + "/ingest/run", params={"tenant_id": TENANT},
                            headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = _get(service, f"/ingest/progress/{started.json()['job_id']}", key)
        # Completed, and its end-of-run rollup refresh done: the stats are as of this run.
        if job["status"] != "running" and \
                (_get(service, f"/tenants/{TENANT}/stats", key)["as_of_run"] or {}).get("job_id") == job["job_id"]:
            assert job["status"] == "completed", job
            return job
        time.sleep(0.1)
    raise AssertionError("ingestion did not finish")


def _tenant_key(service, tenant_id: str) -> str:
    response = requests.post(service.url + "/admin/api-keys", json={"tenant_id": tenant_id, "name": "dashboard"},
                             headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["key"]


# -- the checks ---------------------------------------------------------------------------
def _assert_page_shows(page: Page, expected: dict) -> None:
    stats, runs, alerts = expected["stats"], expected["runs"], expected["alerts"]
    assert page.state == "ready", page.html[-2000:]

    # The open backlog first: what needs action now.
    assert [entry["data-field"] for entry in page.fields if entry["data-field"].startswith(("open.", "total_"))][:4] \
        == ["open.total", "open.high_urgency_count", "open.requires_action_count", "total_tickets"]
    for field in ("total", "high_urgency_count", "requires_action_count"):
        assert page.figure(f"open.{field}") == (str(stats["open"][field]), f"{stats['open'][field]:,}"), field
    run = stats["as_of_run"]
    assert page.figure("as_of_run") == (run["job_id"], f"as of the run that ended {run['ended_at'][11:16]} UTC")
    assert page.figure("sync_running")[0] == str(expected["running"]).lower()
    assert page.figure("range.from")[0] == (stats["range"]["from"] or "")

    for field in ("total_tickets", "requires_action_count"):
        assert page.figure(field) == (str(stats[field]), f"{stats[field]:,}"), field
    for field in ("urgency_high_ratio", "negative_sentiment_ratio"):
        value, text = page.figure(field)
        assert float(value) == stats[field] and text == f"{100 * stats[field]:.1f}%", field
    assert page.figure("high_urgency_count")[0] == str(stats["by_urgency"]["high"])
    assert page.figure("negative_count")[0] == str(stats["by_sentiment"]["negative"])
    assert page.figure("alerts.pending") == (str(alerts["pending"]), f"{alerts['pending']:,}")
    assert page.figure("alerts.dead") == (str(alerts["dead"]), f"{alerts['dead']:,}")

    for field in BREAKDOWNS:
        assert {item["data-key"]: int(item["data-value"]) for item in page.items(field)} == stats[field], field
    assert [(bar["data-key"], int(bar["data-value"])) for bar in page.items("hourly_trend")] == \
        [(bucket["hour"], bucket["count"]) for bucket in stats["hourly_trend"]]
    assert [(row["data-key"], int(row["data-value"])) for row in page.items("top_keywords")] == \
        [(row["keyword"], row["count"]) for row in stats["top_keywords"]]
    assert [(row["data-key"], int(row["data-high"]), int(row["data-negative"]))
            for row in page.items("at_risk_customers")] == \
        [(c["customer_id"], c["high_urgency_count"], c["negative_count"]) for c in stats["at_risk_customers"]]
    for customer in stats["at_risk_customers"]:
        links = [a for a in page.items("at_risk_ticket") if a["data-customer"] == customer["customer_id"]]
        assert [a["data-key"] for a in links] == customer["ticket_ids"]
        assert all(a["href"] == f"/tickets/{a['data-key']}?tenant_id={TENANT}" for a in links)
    assert [(row["data-key"], row["data-status"]) for row in page.items("runs")] == \
        [(run["job_id"], run["status"]) for run in runs]


def test_dashboard_in_chromium_shows_exactly_the_apis_figures(gunicorn_service, mock_upstream, tmp_path):
    # Alerts for a share of the tickets fail for good, so the page has a backlog to show: one
    # attempt each (dead at once), and the circuit they trip stays open (the rest pending).
    mock_upstream.admin("POST", "/admin/config", json={"notify": {"fail_first_attempts": 100, "fail_share": 0.6}})
    service = gunicorn_service(AUTH_MODE="keys", ADMIN_API_KEY=ADMIN_KEY, NOTIFY_MAX_ATTEMPTS="1", CB_OPEN_S="3600")
    key = _tenant_key(service, TENANT)
    first = _ingest(service, key)
    _ingest(service, key)
    assert first["counts"]["new"] > 0
    _settled_alerts(service, key)

    url = f"{service.url}/dashboard/{TENANT}#key={key}"
    for _ in range(2):  # again if the hour turned (the trend moves) while the page loaded
        before = _what_the_api_says(service, key)
        page = _dump_dom(tmp_path, url)
        if _what_the_api_says(service, key) == before:
            break
    _assert_page_shows(page, before)
    assert key not in page.html  # read from the fragment, never written into the page

    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    _chromium(tmp_path, "--hide-scrollbars", "--window-size=1280,1800", f"--screenshot={SCREENSHOT}", url)
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dashboard_range_and_source_come_from_the_address_and_narrow_every_figure(
        gunicorn_service, mock_upstream, tmp_path):
    service = gunicorn_service(AUTH_MODE="keys", ADMIN_API_KEY=ADMIN_KEY)
    key = _tenant_key(service, TENANT)
    _ingest(service, key)
    _settled_alerts(service, key)  # the page and the API must see the same alert counts
    url = f"{service.url}/dashboard/{TENANT}?range=7d&source=email#key={key}"
    for _ in range(2):  # again if the hour turned while the page loaded
        page = _dump_dom(tmp_path, url)
        used_from = page.figure("range.from")[0]
        expected = _what_the_api_says(service, key, from_date=used_from, source="email")
        if page.figure("range.from")[0] == expected["stats"]["range"]["from"]:
            break
    assert used_from and expected["stats"]["source"] == "email"
    # Seven days back, to the hour the service rounded the edge down to.
    age_h = (time.time() - time.mktime(time.strptime(used_from, "%Y-%m-%dT%H:%M:%SZ")) + time.timezone) / 3600
    assert 7 * 24 <= age_h < 7 * 24 + 1.5, age_h
    _assert_page_shows(page, expected)
    assert {item["data-key"]: int(item["data-value"]) for item in page.items("by_source")}["email"] == \
        expected["stats"]["total_tickets"]


def test_dashboard_in_chromium_shows_nothing_to_another_tenants_key_and_asks_without_one(
        gunicorn_service, tmp_path):
    service = gunicorn_service(AUTH_MODE="keys", ADMIN_API_KEY=ADMIN_KEY)
    _ingest(service, ADMIN_KEY)  # a known tenant: an unknown one's page is a 404 that says so
    other_key = _tenant_key(service, "tenant_b")

    page = _dump_dom(tmp_path, f"{service.url}/dashboard/{TENANT}#key={other_key}")
    assert page.state == "forbidden"
    assert page.figure("total_tickets") == (None, "–") and not page.items("hourly_trend")

    page = _dump_dom(tmp_path, f"{service.url}/dashboard/{TENANT}")
    assert page.state == "need-key"
    assert page.figure("total_tickets") == (None, "–")
