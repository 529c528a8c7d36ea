"""Loading the rules file: validation errors name the bad key, the version follows the content."""
from __future__ import annotations

import re

from typing import Callable

import pytest

from ticketsvc.classification import RulesError, load_classifier


def replace_once(old: str, new: str) -> Callable[[str], str]:
    """An edit for the ``rules_file`` fixture: replace exactly one occurrence of ``old``."""
    def edit(text: str) -> str:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the packaged rules"
        return text.replace(old, new)
    return edit


def test_packaged_rules_load_with_a_content_version(classifier):
    assert re.fullmatch(r"cls-[0-9a-f]{10}", classifier.version)
    assert re.fullmatch(r"rules-[0-9a-f]{8}", classifier.rules.version)
    assert load_classifier().version == classifier.version
    assert load_classifier(None).version == load_classifier("").version == classifier.version


def test_a_copy_of_the_packaged_rules_has_the_same_version(classifier, rules_file):
    assert load_classifier(rules_file()).version == classifier.version


def test_comments_and_layout_do_not_change_the_version(classifier, rules_file):
    path = rules_file(lambda text: "# tuned by ops\n\n" + text.replace("max_gap = 3", "max_gap   =   3  # words"))
    assert load_classifier(path).version == classifier.version


@pytest.mark.parametrize("edit", [
    replace_once('lawsuit = ["lawsuit",', 'lawsuit = ["lawsuit", "lawsuits galore",'),
    replace_once("negative_at_or_below = -0.3", "negative_at_or_below = -0.31"),
    replace_once('[categories.cancellation]\nlabel = "cancellation"\nurgency = "medium"',
                 '[categories.cancellation]\nlabel = "cancellation"\nurgency = "high"'),
])
def test_changing_the_rules_changes_the_version(classifier, rules_file, edit):
    assert load_classifier(rules_file(edit)).version != classifier.version


def test_alternatives_in_a_phrase_stand_for_each_phrase(rules_file):
    path = rules_file(replace_once('outage = ["outage",', 'outage = ["(kaboom|kablam) (again|)", "outage",'))
    tuned = load_classifier(path)
    for message in ("It went kaboom.", "Kablam again!", "kaboom again"):
        assert tuned.classify("", message).signals == ["outage"], message


def test_rules_from_a_file_drive_classification_without_code_changes(rules_file):
    path = rules_file(replace_once('outage = ["outage",', 'outage = ["kaboom", "outage",'))
    tuned = load_classifier(path)
    result = tuned.classify("Help", "Everything went kaboom.")
    assert (result.signals, result.keywords, result.version) == (["outage"], ["kaboom"], tuned.version)
    assert "rules: urgency=high: outage ('kaboom')" in result.reasons


def error_for(rules_file, edit) -> RulesError:
    with pytest.raises(RulesError) as info:
        load_classifier(rules_file(edit))
    return info.value


@pytest.mark.parametrize("edit, key, problem", [
    (lambda t: t + "\n[surprise]\nx = 1\n", "surprise", "unknown key"),
    (replace_once('label = "refund demand"', 'label = "refund demand"\nurgnecy = "high"'),
     "categories.refund.urgnecy", "unknown key"),
    (replace_once('label = "refund demand"\nurgency = "high"', 'label = "refund demand"\nurgency = "urgent"'),
     "categories.refund.urgency", "expected one of low, medium, high, got 'urgent'"),
    (replace_once('compensation = ["compensate", "compensation"]', "compensation = []"),
     "categories.refund.terms.compensation", "must not be empty"),
    (replace_once('typo = ["typo", "typos",', 'typo = ["typo", "",'),
     "categories.minor_fix.terms.typo[1]", "expected a non-empty string"),
    (replace_once('typo = ["typo", "typos",', 'typo = ["typo", "(typos",'),
     "categories.minor_fix.terms.typo[1]", "unbalanced or nested parentheses"),
    (replace_once('typo = ["typo", "typos",', 'typo = ["typo", "(typos) here",'),
     "categories.minor_fix.terms.typo[1]", "a group needs alternatives"),
    (replace_once("max_gap = 3", 'max_gap = "three"'), "matching.max_gap", "expected an integer from 1 to 6"),
    (replace_once("negative_at_or_below = -0.3", "negative_at_or_below = 0.5"),
     "sentiment.negative_at_or_below", "expected a number from -1.0 to 0.0"),
    (lambda t: t.replace("negative_at_or_below = -0.3", "negative_at_or_below = 0.0")
                .replace("positive_at_or_above = 0.45", "positive_at_or_above = 0.0"),
     "sentiment.negative_at_or_below", "must be below positive_at_or_above"),
    (replace_once('label = "legal threat"\nurgency = "high"\nsentiment = -3.0\nrequires_action = true',
                  'label = "legal threat"\nurgency = "high"\nsentiment = -3.0\nrequires_action = "yes"'),
     "categories.legal_threat.requires_action", "expected true or false"),
    (replace_once('suppressed_by = ["negation", "hypothetical"]\n[categories.legal_threat.terms]',
                  'suppressed_by = ["negation", "sarcasm"]\n[categories.legal_threat.terms]'),
     "categories.legal_threat.suppressed_by[1]", "unknown cue kind 'sarcasm'"),
    (replace_once('requires = [["broken_feature", "access_problem"], ["wide_impact"]]',
                  'requires = [["broken_feature", "acess_problem"], ["wide_impact"]]'),
     "combinations[0].requires[0]", "unknown category 'acess_problem'"),
    (replace_once('compensation = ["compensate", "compensation"]', 'compensation = ["compensate", "* compensation"]'),
     "categories.refund.terms.compensation[1]", "must not start or end with '*'"),
    (replace_once('compensation = ["compensate", "compensation"]', 'compensation = ["compensate", "full refund"]'),
     "categories.refund.terms.compensation[1]", "already counts as 'refund'"),
    (replace_once('[categories.minor_fix.terms]', '[categories.minor_fix.extra]\nx = 1\n[categories.minor_fix.terms]'),
     "categories.minor_fix.extra", "unknown key"),
    (replace_once('"not urgent" = [', '"not urgent" = 7\nunused = ['),
     'categories.de_escalation.terms."not urgent"', "expected a list of strings"),
])
def test_invalid_rules_are_rejected_naming_the_key(rules_file, edit, key, problem):
    error = error_for(rules_file, edit)
    assert error.key == key
    assert problem in error.problem
    assert str(error).endswith(f"{key}: {error.problem}") and error.source.endswith(".toml")


def test_a_category_without_terms_is_rejected(rules_file):
    error = error_for(rules_file, lambda t: t + '\n[categories.empty]\nlabel = "empty"\n[categories.empty.terms]\n')
    assert (error.key, error.problem) == ("categories.empty.terms", "must not be empty")


def test_a_missing_required_section_is_rejected(rules_file):
    error = error_for(rules_file, lambda t: t.replace("[action]", "[actions]", 1))
    assert error.key in {"action", "actions"}


def test_invalid_toml_is_rejected_with_the_file_name(rules_file):
    path = rules_file(lambda t: t + "\n[broken\n")
    with pytest.raises(RulesError, match="not valid TOML") as info:
        load_classifier(path)
    assert info.value.source == str(path)


def test_a_missing_file_is_rejected(tmp_path):
    with pytest.raises(RulesError, match="cannot read rules file"):
        load_classifier(tmp_path / "nope.toml")
