"""Per-tenant metrics: opt-in, bounded label values (a list, or ``all`` below a cap), and
each labelled tenant's last successful run."""
from __future__ import annotations

from support import ingest
from ticketsvc import metrics
from ticketsvc.api.context import get_runtime

LAST_SUCCESS = "ticketsvc_tenant_last_success_timestamp"


def test_all_gives_every_tenant_its_label_and_its_last_success_time(make_app, scrape):
    app = make_app(metrics_tenant_labels="all")
    runtime = get_runtime(app)
    runs = {tenant: ingest(runtime, tenant) for tenant in ("tenant_a", "tenant_b")}
    samples = scrape(app.test_client())
    for tenant, run in runs.items():
        assert samples.value("ticketsvc_ingestion_runs_total", tenant=tenant, status="completed") == 1
        assert samples.value(LAST_SUCCESS, tenant=tenant) == run["ended_at"].timestamp()
    assert samples.value("ticketsvc_ingestion_runs_total", tenant="other", status="completed") == 0


def test_all_stops_at_the_cap_and_reports_further_tenants_as_other(make_app, scrape, monkeypatch):
    monkeypatch.setattr(metrics, "TENANT_LABEL_CAP", 1)
    app = make_app(metrics_tenant_labels="all")
    runtime = get_runtime(app)
    ingest(runtime, "tenant_a")
    ingest(runtime, "tenant_b")
    samples = scrape(app.test_client())
    assert samples.value("ticketsvc_ingestion_runs_total", tenant="tenant_a", status="completed") == 1
    assert samples.value("ticketsvc_ingestion_runs_total", tenant="other", status="completed") == 1
    assert "tenant_b" not in samples.text
    assert set(dict(labels)["tenant"] for labels in samples.series(LAST_SUCCESS)) == {"tenant_a"}


def test_a_listed_tenant_has_a_last_success_time_and_others_are_not_reported(make_app, scrape):
    app = make_app(metrics_tenant_labels="tenant_b")
    runtime = get_runtime(app)
    ingest(runtime, "tenant_a")
    run = ingest(runtime, "tenant_b")
    series = scrape(app.test_client()).series(LAST_SUCCESS)
    assert series == {frozenset({("tenant", "tenant_b")}): run["ended_at"].timestamp()}


def test_by_default_no_tenant_is_a_label_and_the_family_is_empty(app, runtime, scrape):
    ingest(runtime, "tenant_a")
    samples = scrape(app.test_client())
    assert LAST_SUCCESS in samples.families and not samples.series(LAST_SUCCESS)
    assert "tenant_a" not in samples.text
