"""Scoring a classifier against labelled tickets, and the report a failing test prints:
accuracy per label, recall of high urgency, confusion matrices, the worst misses.

A sentiment counts as right when it equals ``sentiment`` or is listed in the ticket's
``sentiment_also`` (the policy lets a calm problem report be read as negative too).
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

URGENCIES = ("high", "medium", "low")
SENTIMENTS = ("negative", "neutral", "positive")
ACTIONS = (True, False)
LABELS = ("urgency", "sentiment", "requires_action")
# What the sealed set must reach (issue 20's bar).
SEALED_MINIMUM = {"urgency": 0.90, "sentiment": 0.88, "requires_action": 0.90}
SEALED_HIGH_RECALL = 0.97
# What the engine reached on the sealed set when it was placed, less a hundredth, and never
# below the bar: cls-ffac983049 read urgency 0.867, sentiment 0.922, requires_action 0.939,
# high recall 0.912; cls-e935438e16 (seven writers, high from P(high) 0.03) 0.870, 0.937,
# 0.948, 0.975; cls-b231fa33db (eleven writers, features sized per kind while fitting,
# negated word pairs, high from 0.07 at recall 0.975 out of fold) 0.900, 0.963, 0.957,
# 0.988: issue 20's bar is met, urgency exactly at it (414 of 460). The suite holds this
# floor so that no change makes the engine worse on text it has never seen; raise it
# (never lower it) as the engine improves. The sealed set never tunes anything: these
# figures were read once per engine, after the engine was built.
SEALED_FLOOR = {"urgency": 0.90, "sentiment": 0.953, "requires_action": 0.947}
SEALED_FLOOR_HIGH_RECALL = 0.978
_SEVERITY = {("high", "low"): 0, ("high", "medium"): 1}


def load_jsonl(paths: Iterable[Path]) -> list[dict]:
    tickets = []
    for path in paths:
        for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                ticket = json.loads(line)
                ticket.setdefault("id", f"{Path(path).stem}:{n}")
                tickets.append(ticket)
    return tickets


@dataclass
class Evaluation:
    total: int = 0
    correct: Counter = field(default_factory=Counter)
    confusion: dict = field(default_factory=lambda: {name: Counter() for name in LABELS})
    misses: list = field(default_factory=list)   # (severity, line)

    def accuracy(self, name: str) -> float:
        return self.correct[name] / max(1, self.total)

    def high_recall(self) -> float:
        row = {got: n for (want, got), n in self.confusion["urgency"].items() if want == "high"}
        return row.get("high", 0) / max(1, sum(row.values()))

    def failures(self, minimum: Mapping[str, float], high_recall: float) -> list[str]:
        problems = [f"{name} accuracy {self.accuracy(name):.3f} < {low}"
                    for name, low in minimum.items() if self.accuracy(name) < low]
        if self.high_recall() < high_recall:
            problems.append(f"high-urgency recall {self.high_recall():.3f} < {high_recall}")
        return problems

    def summary(self) -> str:
        return (f"{self.total} tickets; " + ", ".join(f"{n} {self.accuracy(n):.3f}" for n in LABELS)
                + f", high recall {self.high_recall():.3f}")

    def report(self, worst: int = 40) -> str:
        lines = [self.summary()]
        for name, labels in (("urgency", URGENCIES), ("sentiment", SENTIMENTS), ("requires_action", ACTIONS)):
            matrix = self.confusion[name]
            lines.append(f"\n{name}: rows expected, columns classified")
            lines.append(" " * 10 + "".join(f"{str(label):>10}" for label in labels))
            for want in labels:
                lines.append(f"{str(want):>10}" + "".join(f"{matrix[(want, got)]:>10}" for got in labels))
        lines.append(f"\nworst misses (missed high urgency first; {len(self.misses)} in all):")
        lines += [f"  {line}" for _, line in sorted(self.misses, key=lambda m: m[0])[:worst]]
        return "\n".join(lines)


def evaluate(classifier, tickets: list[dict]) -> Evaluation:
    result = Evaluation()
    for ticket in tickets:
        got = classifier.classify(ticket["subject"], ticket["message"])
        result.total += 1
        wrong = []
        for name in LABELS:
            want, have = ticket[name], getattr(got, name)
            result.confusion[name][(want, have)] += 1
            right = want == have or (name == "sentiment" and have in ticket.get("sentiment_also", ()))
            if right:
                result.correct[name] += 1
            else:
                wrong.append(f"{name} {want}->{have}")
        if wrong:
            severity = _SEVERITY.get((ticket["urgency"], got.urgency), 2)
            result.misses.append((severity, f"{ticket.get('id', '')} [{', '.join(wrong)}] {ticket['subject']!r}: "
                                            f"{ticket['message'][:100]!r} | {got.reasons[0]}"))
    return result
