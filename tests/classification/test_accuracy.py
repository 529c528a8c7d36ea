"""Accuracy on tickets the engine was trained or tuned on: the hand-written seed batch of
the corpus and the mock upstream's templates. These are tuning figures, not estimates of
accuracy on new text (that is the sealed set's job, ``test_sealed.py``, and the
leave-one-writer-out figures of ``python -m ticketsvc.classification.train --evaluate``).
A failure prints the confusion matrices and the misclassified tickets."""
from __future__ import annotations

from collections import Counter

import pytest

from classification.evaluation import ACTIONS, SENTIMENTS, URGENCIES, evaluate

MINIMUM = {"urgency": 0.90, "sentiment": 0.85, "requires_action": 0.90}
MINIMUM_HIGH_RECALL = 0.97


def test_labelled_set_has_150_tickets_covering_every_label(labelled_tickets):
    assert len(labelled_tickets) >= 150
    for name, labels in (("urgency", URGENCIES), ("sentiment", SENTIMENTS), ("requires_action", ACTIONS)):
        counts = Counter(t[name] for t in labelled_tickets)
        assert set(counts) == set(labels), f"{name}: {counts}"
    assert all(set(t) == {"id", "subject", "message", "urgency", "sentiment", "requires_action"}
               for t in labelled_tickets)


def test_labelled_set_contains_the_edge_cases_of_the_spec(labelled_tickets):
    texts = [f"{t['subject']} {t['message']}".lower() for t in labelled_tickets]
    for phrase in ("not urgent", "no need for a refund", "i'm not angry", "nothing is broken", "download",
                   "refundable", "issue ext-", "charged twice", "double-charged", "billed twice", "hacked",
                   "unauthorized access", "data leak", "can't log in", "locked out", "not working",
                   "keeps crashing", "cancel my subscription", "asap", "immediately", "emergency", "right away"):
        assert any(phrase in text for text in texts), phrase


def test_labelled_set_meets_the_accuracy_thresholds(classifier, labelled_tickets):
    result = evaluate(classifier, labelled_tickets)
    problems = result.failures(MINIMUM, MINIMUM_HIGH_RECALL)
    assert not problems, "; ".join(problems) + "\n" + result.report()


# The mock's template authors label refund requests, double charges and GDPR requests
# "medium", and every problem report "negative"; the policy makes refund demands, double
# charges and data-protection requests "high", and reads a calm problem report as neutral
# (or negative). Where the two disagree the policy wins.
SPEC_URGENCY = {"refund_request": "high", "double_charge": "high", "gdpr_request": "high"}


def rendered_templates(seeds=range(3)) -> list[dict]:
    templates = pytest.importorskip("mock_api.templates")
    tickets = []
    for seed in seeds:
        for example in templates.labelled_examples(seed=seed, per_template=1):
            example["urgency"] = SPEC_URGENCY.get(example["category"], example["urgency"])
            if example["urgency"] != "low" and example["sentiment"] == "negative":
                example["sentiment_also"] = ["neutral"]
            tickets.append(example)
    return tickets


def test_mock_upstream_templates_meet_the_accuracy_thresholds(classifier):
    result = evaluate(classifier, rendered_templates())
    problems = result.failures(MINIMUM, MINIMUM_HIGH_RECALL)
    assert not problems, "; ".join(problems) + "\n" + result.report()


def test_mock_templates_disagree_with_the_spec_only_on_the_documented_categories(classifier):
    """Guards the exception above: with the mock's own labels, the only urgency misses
    are in the categories where the spec says otherwise."""
    templates = pytest.importorskip("mock_api.templates")
    missed = set()
    for example in templates.labelled_examples(seed=5, per_template=1):
        if classifier.classify(example["subject"], example["message"]).urgency != example["urgency"]:
            missed.add(example["category"])
    # Known miss: "Admin access for a new team member" (access_request, low) reads as high,
    # at P(high) 0.09 against a threshold of 0.07: the price of finding 97.5% of highs on
    # new writers (train.py HIGH_RECALL_TARGET). "Not urgent, but our logo looks blurry"
    # (minor_fix), the known miss of an earlier model, is now right.
    assert missed <= set(SPEC_URGENCY) | {"access_request"}, missed
