"""The engine's output does not change unnoticed: every field of ``to_dict()`` (urgency,
sentiment, keywords, signals, requires_action, reasons, version) for a sample of the
corpus equals what was recorded in ``golden_outputs.jsonl``. A speed-up must pass this
unchanged; an intended change of behaviour regenerates the file (see golden_outputs.py)."""
from __future__ import annotations

import json

from classification.golden_outputs import GOLDEN, outputs


def test_outputs_match_the_recorded_ones(classifier):
    recorded = [json.loads(line) for line in GOLDEN.read_text(encoding="utf-8").splitlines() if line.strip()]
    current = outputs(classifier)
    assert [row["id"] for row in current] == [row["id"] for row in recorded]
    differing = [(old, new) for old, new in zip(recorded, current) if old != new]
    assert not differing, (f"{len(differing)} of {len(recorded)} outputs changed; first: "
                           f"{json.dumps(differing[0][0], indent=1)}\nnow\n{json.dumps(differing[0][1], indent=1)}")
