"""Ticket classification: urgency, sentiment, requires_action, keywords and signals.

    clf = load_classifier()                  # packaged rules.toml and model.json.gz
    clf = load_classifier(path)              # an operator's rules file
    clf = load_classifier(model_path=path)   # another trained model
    clf.classify(subject, message)           # -> Classification (frozen), thread-safe

Rules decide what they are sure of; a learned layer trained on the corpus in
``corpus/`` (``python -m ticketsvc.classification.train``) weighs the rest.
``clf.version`` hashes the engine, the rules and the model, so a change reclassifies
stored tickets.
"""
from .classifier import TEMPLATED_SIGNAL, Classification, Classifier, load_classifier
from .model import ModelError
from .rules import RulesError

__all__ = ["TEMPLATED_SIGNAL", "Classification", "Classifier", "ModelError", "RulesError", "load_classifier"]
