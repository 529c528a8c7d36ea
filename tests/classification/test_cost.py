"""Cost linear in the text's length, and a cap beyond which text is not read. Measured in
Python operations (trace events), not seconds, so the assertion is deterministic;
bench/classify_bench.py prints the timings."""
from __future__ import annotations

import sys

import pytest

from ticketsvc.classification.scope import MAX_TEXT_CHARS

# Dense with rule phrases, cues and "but"s: the shape that used to cost quadratic time
# (every hit compared with every other, every cue scanned per hit).
DENSE = ("The export is broken and not working, but I want a refund, not urgent. "
         "We were charged twice but nobody answers; is there an outage? ")
PLAIN = "We met on Tuesday and went through the quarterly plan for the team, then had lunch. "


def operations(call) -> int:
    """Python line events executed by ``call()``: a deterministic measure of work."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        count += 1
        return tracer

    sys.settrace(tracer)
    try:
        call()
    finally:
        sys.settrace(None)
    return count


def sized(unit: str, chars: int) -> str:
    return (unit * (chars // len(unit) + 1))[:chars]


def test_a_20_kb_ticket_costs_at_most_10x_a_2_kb_one(classifier):
    for unit in (DENSE, PLAIN):
        small = operations(lambda: classifier.classify("Help", sized(unit, 2_000)))
        large = operations(lambda: classifier.classify("Help", sized(unit, 20_000)))
        assert large <= 10.5 * small, (unit[:20], small, large, large / small)


def test_text_beyond_the_cap_is_not_read(classifier):
    body = sized(PLAIN, MAX_TEXT_CHARS)
    plain = classifier.classify("Meeting notes", body)
    tail = classifier.classify("Meeting notes", body + " URGENT: we are suing you, refund now, site down!")
    assert tail == plain


def test_text_within_the_cap_is_read(classifier):
    body = sized(PLAIN, 5_000)
    result = classifier.classify("Meeting notes", body + "\nThe whole site is down for everyone, nothing loads.")
    assert "outage" in result.signals and "outage" not in classifier.classify("Meeting notes", body).signals


def test_a_long_ticket_weighs_no_more_than_a_long_email(classifier):
    """Beyond 400 words the text features are scaled to a 400-word ticket's weight, so a
    20 KB message does not drive the model to certainty by repetition."""
    from ticketsvc.classification.features import FULL_WEIGHT_WORDS
    analysis = classifier.analyse("Meeting notes", sized(PLAIN, 20_000))
    assert len(analysis.features.tokens) * analysis.features.scale == pytest.approx(FULL_WEIGHT_WORDS)
