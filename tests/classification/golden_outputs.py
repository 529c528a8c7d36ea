"""Writes ``golden_outputs.jsonl``: the classifier's output for a fixed sample of the
training corpus (every 8th ticket of each batch, plus long tickets stitched from them and
cut at the text cap), so ``test_golden_outputs.py`` fails on any change of behaviour.

Regenerate only when a change of output is intended (new rules, a retrained model, an
engine change), and say so in the commit:

    .venv/bin/python tests/classification/golden_outputs.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "ticketsvc" / "classification" / "corpus"
GOLDEN = Path(__file__).resolve().parent / "golden_outputs.jsonl"
EVERY = 8


def sample() -> list[tuple[str, str, str]]:
    """(id, subject, message) of the sampled corpus tickets and the long ones."""
    picked = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        tickets = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        picked += [(t["id"], t["subject"], t["message"]) for t in tickets[::EVERY]]
    text = "\n\n".join(message for _, _, message in picked)
    for size in (2_000, 20_000, 30_000):   # beyond the cap: the rest is not read
        picked.append((f"long-{size}", "Support request", text[:size]))
    return picked


def outputs(classifier) -> list[dict]:
    return [{"id": ticket_id, **classifier.classify(subject, message).to_dict()}
            for ticket_id, subject, message in sample()]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from ticketsvc.classification import load_classifier

    rows = outputs(load_classifier())
    GOLDEN.write_text("".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows),
                      encoding="utf-8")
    print(f"{len(rows)} outputs written to {GOLDEN.relative_to(ROOT)}")
