"""Accuracy on labelled tickets: the hand-written evaluation set and the mock upstream's
templates. A failure prints the confusion matrices and the misclassified tickets."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest

URGENCIES = ("high", "medium", "low")
SENTIMENTS = ("negative", "neutral", "positive")
ACTIONS = (True, False)
MINIMUM = {"urgency": 0.90, "sentiment": 0.85, "requires_action": 0.90}
MINIMUM_HIGH_RECALL = 0.97


@dataclass
class Evaluation:
    total: int = 0
    correct: Counter = field(default_factory=Counter)
    confusion: dict = field(default_factory=lambda: {f: Counter() for f in MINIMUM})
    misses: list = field(default_factory=list)

    def accuracy(self, name: str) -> float:
        return self.correct[name] / self.total

    def high_recall(self) -> float:
        row = {got: n for (want, got), n in self.confusion["urgency"].items() if want == "high"}
        return row.get("high", 0) / max(1, sum(row.values()))

    def failures(self) -> list[str]:
        problems = [f"{name} accuracy {self.accuracy(name):.3f} < {low}"
                    for name, low in MINIMUM.items() if self.accuracy(name) < low]
        if self.high_recall() < MINIMUM_HIGH_RECALL:
            problems.append(f"high-urgency recall {self.high_recall():.3f} < {MINIMUM_HIGH_RECALL}")
        return problems

    def report(self) -> str:
        lines = [f"{self.total} tickets; " + ", ".join(f"{n} {self.accuracy(n):.3f}" for n in MINIMUM)
                 + f", high recall {self.high_recall():.3f}"]
        for name, labels in (("urgency", URGENCIES), ("sentiment", SENTIMENTS), ("requires_action", ACTIONS)):
            matrix = self.confusion[name]
            lines.append(f"\n{name}: rows expected, columns classified")
            lines.append(" " * 10 + "".join(f"{str(label):>10}" for label in labels))
            for want in labels:
                lines.append(f"{str(want):>10}" + "".join(f"{matrix[(want, got)]:>10}" for got in labels))
        lines.append("\nmisclassified:")
        lines += [f"  {miss}" for miss in self.misses]
        return "\n".join(lines)


def evaluate(classifier, tickets: list[dict]) -> Evaluation:
    result = Evaluation()
    for ticket in tickets:
        got = classifier.classify(ticket["subject"], ticket["message"])
        result.total += 1
        wrong = []
        for name in MINIMUM:
            want, have = ticket[name], getattr(got, name)
            result.confusion[name][(want, have)] += 1
            if want == have:
                result.correct[name] += 1
            else:
                wrong.append(f"{name} {want}->{have}")
        if wrong:
            result.misses.append(f"[{', '.join(wrong)}] {ticket['subject']!r}: {ticket['message'][:90]!r}")
    return result


def test_labelled_set_has_150_tickets_covering_every_label(labelled_tickets):
    assert len(labelled_tickets) >= 150
    for name, labels in (("urgency", URGENCIES), ("sentiment", SENTIMENTS), ("requires_action", ACTIONS)):
        counts = Counter(t[name] for t in labelled_tickets)
        assert set(counts) == set(labels), f"{name}: {counts}"
    assert all(set(t) == {"subject", "message", "urgency", "sentiment", "requires_action"} for t in labelled_tickets)


def test_labelled_set_contains_the_edge_cases_of_the_spec(labelled_tickets):
    texts = [f"{t['subject']} {t['message']}".lower() for t in labelled_tickets]
    for phrase in ("not urgent", "no need for a refund", "i'm not angry", "nothing is broken", "download",
                   "refundable", "issue ext-", "charged twice", "double-charged", "billed twice", "hacked",
                   "unauthorized access", "data leak", "can't log in", "locked out", "not working",
                   "keeps crashing", "cancel my subscription", "asap", "immediately", "emergency", "right away"):
        assert any(phrase in text for text in texts), phrase


def test_labelled_set_meets_the_accuracy_thresholds(classifier, labelled_tickets):
    result = evaluate(classifier, labelled_tickets)
    assert not result.failures(), "; ".join(result.failures()) + "\n" + result.report()


# The mock's template authors label refund requests, double charges and GDPR requests
# "medium"; the classification spec makes refund demands, double charges and
# data-protection requests "high" (as the packaged rules do). Where the two disagree the
# spec wins: those templates are expected "high", every other label is the mock's own.
SPEC_URGENCY = {"refund_request": "high", "double_charge": "high", "gdpr_request": "high"}


def rendered_templates(seeds=range(3)) -> list[dict]:
    templates = pytest.importorskip("mock_api.templates")
    tickets = []
    for seed in seeds:
        for example in templates.labelled_examples(seed=seed, per_template=1):
            example["urgency"] = SPEC_URGENCY.get(example["category"], example["urgency"])
            tickets.append(example)
    return tickets


def test_mock_upstream_templates_meet_the_accuracy_thresholds(classifier):
    result = evaluate(classifier, rendered_templates())
    assert not result.failures(), "; ".join(result.failures()) + "\n" + result.report()


def test_mock_templates_disagree_with_the_spec_only_on_the_documented_categories(classifier):
    """Guards the exception above: with the mock's own labels, the only urgency misses
    are in the categories where the spec says otherwise."""
    templates = pytest.importorskip("mock_api.templates")
    missed = set()
    for example in templates.labelled_examples(seed=5, per_template=1):
        if classifier.classify(example["subject"], example["message"]).urgency != example["urgency"]:
            missed.add(example["category"])
    assert missed <= set(SPEC_URGENCY), missed
