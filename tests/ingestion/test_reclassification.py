"""A change of the classification rules reclassifies stored tickets on the next run."""
from pathlib import Path

from support import ingest

import ticketsvc.classification as classification
from ticketsvc.api.context import get_runtime

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
