"""Rule-based ticket classification: urgency, sentiment, requires_action, keywords.

    clf = load_classifier()            # packaged rules.toml, validated
    clf = load_classifier(path)        # an operator's rules file
    clf.classify(subject, message)     # -> Classification (frozen), thread-safe

The rules are data (``rules.toml``); ``clf.version`` is a hash of their content, so a
tuned rules file reclassifies stored tickets.
"""
from .classifier import Classification, Classifier, load_classifier
from .rules import RulesError

__all__ = ["Classification", "Classifier", "RulesError", "load_classifier"]
