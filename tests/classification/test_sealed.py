"""The sealed test set: tickets written to the policy by writers who never saw the engine
or its training corpus, placed in ``tests/classification/sealed/*.jsonl`` by the lead
engineer and never used to tune anything. Its figures are the ones reported."""
from __future__ import annotations

from pathlib import Path

import pytest

from classification.evaluation import (SEALED_FLOOR, SEALED_FLOOR_HIGH_RECALL, SEALED_HIGH_RECALL, SEALED_MINIMUM,
                                       evaluate, load_jsonl)

SEALED = Path(__file__).with_name("sealed")
CORPUS = Path(__file__).resolve().parents[2] / "ticketsvc" / "classification" / "corpus"


def check_labelled_directory(classifier, directory: Path, minimum=SEALED_MINIMUM,
                             high_recall=SEALED_HIGH_RECALL) -> str:
    """Evaluate ``classifier`` on every ``*.jsonl`` in ``directory``; skip when there is
    none; fail below ``minimum``/``high_recall`` (default: issue 20's bar) with the
    confusion matrices and the worst misses. Returns the summary line."""
    files = sorted(directory.glob("*.jsonl")) if directory.is_dir() else []
    if not files:
        pytest.skip(f"no sealed set yet: {directory}/*.jsonl has no files")
    result = evaluate(classifier, load_jsonl(files))
    problems = result.failures(minimum, high_recall)
    assert not problems, "; ".join(problems) + "\n" + result.report()
    return result.summary()


def test_sealed_set_meets_issue_20s_bar(classifier):
    print(check_labelled_directory(classifier, SEALED))   # the bar: SEALED_MINIMUM, SEALED_HIGH_RECALL


def test_sealed_set_holds_the_floor_the_engine_reached(classifier):
    # The level reached (at or above the bar), so that no change makes it worse.
    print(check_labelled_directory(classifier, SEALED, SEALED_FLOOR, SEALED_FLOOR_HIGH_RECALL))


# -- the harness itself, pointed at other directories, never at the sealed set ------------

def test_harness_skips_when_the_directory_has_no_files(classifier, tmp_path):
    with pytest.raises(pytest.skip.Exception, match="no sealed set yet"):
        check_labelled_directory(classifier, tmp_path)


def test_harness_passes_a_batch_the_model_was_trained_on(classifier, tmp_path):
    (tmp_path / "batch.jsonl").write_text((CORPUS / "seed.jsonl").read_text())
    assert check_labelled_directory(classifier, tmp_path).startswith("306 tickets")


class _AlwaysLow:
    def classify(self, subject, message):
        from ticketsvc.classification import Classification
        return Classification("low", "neutral", [], False, ["urgency=low: stub"], "stub")


def test_harness_fails_below_the_thresholds_with_matrices_and_worst_misses(tmp_path):
    (tmp_path / "batch.jsonl").write_text((CORPUS / "w1.jsonl").read_text())
    with pytest.raises(AssertionError) as failure:
        check_labelled_directory(_AlwaysLow(), tmp_path)
    text = str(failure.value)
    assert "urgency accuracy" in text and "high-urgency recall 0.000 < 0.97" in text
    assert "urgency: rows expected, columns classified" in text and "sentiment: rows expected" in text
    assert "worst misses (missed high urgency first" in text
    first_miss = text.split("worst misses")[1].splitlines()[1]
    assert "[urgency high->low" in first_miss


def test_harness_counts_sentiment_also_as_right(tmp_path):
    (tmp_path / "one.jsonl").write_text(
        '{"id": "x-1", "subject": "s", "message": "m", "urgency": "low", "sentiment": "negative", '
        '"sentiment_also": ["neutral"], "requires_action": false}\n')
    result = evaluate(_AlwaysLow(), load_jsonl([tmp_path / "one.jsonl"]))
    assert result.accuracy("sentiment") == 1.0
