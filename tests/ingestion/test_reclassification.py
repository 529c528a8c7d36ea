"""A change of the classification rules, or of the stored format, reclassifies stored
tickets on the next run."""
from collections import Counter
from pathlib import Path

from support import ingest

import ticketsvc.classification as classification
from ticketsvc.api.context import get_runtime
from ticketsvc.ingestion.sync import STORED_FORMAT

TENANT = "tenant_d"
RULES = Path(classification.__file__).with_name("rules.toml")


def _escalating_broken_features(tmp_path) -> str:
    text = RULES.read_text()
    section = text.index("[categories.broken_feature]")
    line = text.index('urgency = "medium"', section)
    tuned = tmp_path / "rules.toml"
    tuned.write_text(text[:line] + 'urgency = "high"' + text[line + len('urgency = "medium"'):])
    return str(tuned)


def test_a_rules_version_bump_reclassifies_unchanged_tickets_with_history_and_alerts(make_app, database, tmp_path):
    before = get_runtime(make_app())
    ingest(before, TENANT)
    old_version = before.classifier.version
    medium_broken = database.tickets.count_documents(
        {"tenant_id": TENANT, "urgency": "medium", "keywords": {"$in": ["not working", "crash", "error", "bug"]}})
    alerts_before = database.notifications.count_documents({"tenant_id": TENANT})

    after = get_runtime(make_app(classifier_rules_path=_escalating_broken_features(tmp_path)))
    assert after.classifier.version != old_version
    record = ingest(after, TENANT)
    assert record["mode"] == "full"  # new rules: every ticket, not only the changed ones

    stored = database.tickets.count_documents({"tenant_id": TENANT})
    assert database.tickets.count_documents({"tenant_id": TENANT, "classification.version": after.classifier.version}) == stored
    escalated = list(database.ticket_history.find({"tenant_id": TENANT, "action": "updated",
                                                   "changes.urgency.new": "high", "job_id": record["job_id"]}))
    assert len(escalated) >= medium_broken > 0
    assert all(entry["changes"]["urgency"]["old"] in ("medium", "low") for entry in escalated)
    assert record["counts"]["updated"] == len({e["ticket_id"] for e in database.ticket_history.find(
        {"tenant_id": TENANT, "action": "updated", "job_id": record["job_id"]})})
    assert record["counts"]["notifications_queued"] == len(escalated)
    assert database.notifications.count_documents({"tenant_id": TENANT}) == alerts_before + len(escalated)
    # Same rules again: nothing left to reclassify.
    again = ingest(after, TENANT)
    assert (again["counts"]["updated"], again["counts"]["notifications_queued"]) == (0, 0)
    assert again["mode"] == "incremental"


# -- stored format 2: signals beside keywords ------------------------------------------------
def _as_stored_before_signals(database, runtime, tenant: str) -> None:
    """Put the tenant back where a deployment without signals left it: tickets without
    ``signals`` or a stored format, rollups without signal counts, and a last full walk
    that reached the classifier's version alone."""
    database.tickets.update_many({"tenant_id": tenant}, {"$unset": {"signals": "", "classification.format": ""}})
    for bucket in database.stats_rollups.find({"tenant_id": tenant}):
        for figures in bucket["sources"]:
            figures.pop("signals", None)
        database.stats_rollups.replace_one({"_id": bucket["_id"], "tenant_id": tenant}, bucket)
    database.tenants.update_one({"_id": tenant}, {"$set": {"last_complete_rules_version": runtime.classifier.version}})


def _top_signals_of_the_tickets(database, tenant: str) -> list[dict]:
    counts = Counter(signal for ticket in database.tickets.find({"tenant_id": tenant, "deleted_at": None})
                     for signal in set(ticket.get("signals") or ()))
    return [{"signal": s, "count": n} for s, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]]


def test_tickets_stored_before_signals_are_reclassified_by_the_next_run_quietly(make_app, database):
    runtime = get_runtime(app := make_app())
    ingest(runtime, TENANT)
    expected = {t["external_id"]: t["signals"] for t in database.tickets.find({"tenant_id": TENANT})}
    assert any(expected.values())
    _as_stored_before_signals(database, runtime, TENANT)
    history_before = database.ticket_history.count_documents({"tenant_id": TENANT})
    alerts_before = database.notifications.count_documents({"tenant_id": TENANT})
    client = app.test_client()
    assert client.get(f"/tenants/{TENANT}/stats").get_json()["top_signals"] == []  # the old rollups

    record = ingest(runtime, TENANT)

    assert record["mode"] == "full"  # a new stored format: every ticket, not only the changed ones
    stored = list(database.tickets.find({"tenant_id": TENANT}))
    assert {t["external_id"]: t["signals"] for t in stored} == expected
    assert {t["classification"]["format"] for t in stored} == {STORED_FORMAT}
    # Filling in a field the old format lacked is no change: no history, no alert, no update.
    assert database.ticket_history.count_documents({"tenant_id": TENANT}) == history_before
    assert database.notifications.count_documents({"tenant_id": TENANT}) == alerts_before
    assert (record["counts"]["updated"], record["counts"]["notifications_queued"]) == (0, 0)
    # The run's refresh rebuilt the days it touched, so the rollups count signals again.
    stats = client.get(f"/tenants/{TENANT}/stats").get_json()
    assert stats["top_signals"] == _top_signals_of_the_tickets(database, TENANT) != []
    assert all(client.get(f"/tickets/{tid}?tenant_id={TENANT}").get_json()["signals"] == signals
               for tid, signals in list(expected.items())[:5])

    again = ingest(runtime, TENANT)
    assert again["mode"] == "incremental"  # migrated: nothing left to reclassify


def test_the_migration_run_alerts_only_escalations_and_records_only_real_changes(make_app, database):
    runtime = get_runtime(make_app())
    ingest(runtime, TENANT)
    high = [t["external_id"] for t in database.tickets.find({"tenant_id": TENANT, "urgency": "high"})]
    assert len(high) >= 2
    _as_stored_before_signals(database, runtime, TENANT)
    # One high ticket was stored medium before (an older classification): the migration
    # escalates it. The others were high already: no second alert.
    escalated = high[0]
    database.tickets.update_one({"tenant_id": TENANT, "external_id": escalated}, {"$set": {"urgency": "medium"}})
    database.notifications.delete_many({"tenant_id": TENANT, "ticket_id": escalated})  # medium: never alerted
    alerts_before = database.notifications.count_documents({"tenant_id": TENANT})

    record = ingest(runtime, TENANT)

    entries = list(database.ticket_history.find({"tenant_id": TENANT, "job_id": record["job_id"]}))
    assert [(e["ticket_id"], e["action"], sorted(e["changes"])) for e in entries] == [
        (escalated, "updated", ["urgency"])]
    assert entries[0]["changes"]["urgency"] == {"old": "medium", "new": "high"}
    assert record["counts"]["notifications_queued"] == 1
    assert database.notifications.count_documents({"tenant_id": TENANT}) == alerts_before + 1
