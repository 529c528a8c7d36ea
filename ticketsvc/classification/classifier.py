"""The classifier: rules for what they are sure of, a learned layer for everything else.

How one ticket is decided:
1. Read only the customer's own words (``scope.py``): the first 20,000 characters, no
   quoted replies or signature boilerplate, ids and numbers made neutral.
2. The upstream's templated tickets ("Issue ext-N: lawyer") are labelled from the
   policy's keyword table (``templated.py``) and nothing else.
3. The rules read the ticket (``rule_reader.py``): the phrases that stand after negation,
   question, hypothetical and resolved scoping, and what the rules make of them.
4. The learned layer (``model.py``) scores urgency, sentiment and requires_action from the
   words, word pairs, character pieces and the rules' findings (``features.py``).
5. The policy's structure on top: high as soon as P(high) reaches a threshold chosen
   out of fold (a missed high costs more than an over-rated medium); the strongest signal wins (a rule the training corpus
   found sure, e.g. a chargeback, sets a floor under the model's urgency), and every
   high or medium ticket requires action.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, NamedTuple

from .features import Features, ticket_features
from .model import LinearModel, Scored, load_model
from .rule_reader import RuleReader, RuleReading
from .rules import URGENCIES, Rules, load_rules
from .scope import customer_text
from .templated import read_templated
from .text import Text

# Bumped when the engine decides differently for the same rules and model, so stored
# tickets carry a version that says "classified differently" and get reclassified.
ENGINE_VERSION = "2"
# The signal of the upstream's templated tickets; every other signal is a rules category.
TEMPLATED_SIGNAL = "templated"

_RANK = MappingProxyType({u: n for n, u in enumerate(URGENCIES)})
_EXPLAINED = 3
_KEYWORD_SHARE = 0.3
# Words too common to stand as what a customer "said" in ``keywords``.
STOPWORDS = frozenset("""
a an the and or but if of to in on at for with from by as is are was were be been being am i we you he
she it they me us my our your their its this that these those there here not no so do does did have has
had will would can could should may might must just also very too all any some what which who when
where why how please hi hello thanks thank again still now today yesterday get got""".split())


@dataclass(frozen=True)
class Classification:
    """What the classifier concluded about one ticket, and why. ``keywords``: the words
    the customer wrote that decided; ``signals``: the rule categories that stand."""
    urgency: str
    sentiment: str
    keywords: list[str]
    requires_action: bool
    reasons: list[str]
    version: str
    signals: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "urgency": self.urgency,
            "sentiment": self.sentiment,
            "keywords": list(self.keywords),
            "signals": list(self.signals),
            "requires_action": self.requires_action,
            "reasons": list(self.reasons),
            "version": self.version,
        }


class Analysis(NamedTuple):
    """A ticket as the engine sees it before deciding (what training learns from)."""
    subject: str
    message: str
    reading: RuleReading
    features: Features


def rule_features(reading: RuleReading) -> list[str]:
    """The rules' findings as features of the learned layer."""
    text = reading.text
    out = [f"r:{name}" for name in reading.found]
    out += [f"r:x:{name}" for name, _ in reading.cancelled]
    out += [f"r:x:{name}:{cue}" for name, cue in reading.cancelled]
    out.append(f"r:urgency:{reading.urgency}")
    # On a short ticket the rules misread less (no quoted thread, no story around the
    # words): the model can learn to trust them more there.
    size = "short" if len(text) < 25 else "mid" if len(text) < 80 else "long"
    out.append(f"r:size:{size}")
    out.append(f"r:urgency:{reading.urgency}:{size}")
    out += [f"r:{name}:{size}" for name in reading.found]
    out.append(f"r:tone:{reading.sentiment}")
    if reading.request:
        out.append("r:request")
    if any(text.questions):
        out.append("r:question")
    if text.exclamations >= 2:
        out.append("r:exclaim")
    if sum(1 for c, w in zip(text.caps, text.words) if c and len(w) > 2) >= 2:
        out.append("r:shout")
    return out


def _quote(top: list[tuple[str, float]], reading: RuleReading, categories: Mapping) -> str:
    """The model's top items as ``reasons`` quotes them ("'refund' +1.3, ..."), each named
    by ``_named`` (a word or pair stands as written: no call for it)."""
    return ", ".join([f"'{_named(w, reading, categories) if w[:2] == 'r:' else w}' {v:+.1f}" for w, v in top]) \
        or "no strong feature"


def _named(label: str, reading: RuleReading | None = None, categories: Mapping | None = None) -> str:
    """A feature as ``reasons`` names it: a word or pair as written; a rule finding by its
    name, with the customer's words that made it when it is a category that stands
    ("legal threat: lawsuit"); the rules' own urgency with the words of the findings that
    set it ("urgency high: lawsuit")."""
    if not label.startswith("r:"):
        return label
    name = label[2:].replace(":", " ").replace("_", " ")
    if reading is None:
        return name
    parts = label[2:].split(":")
    if parts[0] == "urgency" and len(parts) > 1 and categories is not None:
        hits = [h for found, found_hits in reading.found.items()
                if found in categories and categories[found].urgency == parts[1] for h in found_hits]
    else:
        hits = reading.found.get(parts[0])
    if hits:
        words = ", ".join(dict.fromkeys(reading.text.surface(h.start, h.end) for h in sorted(hits, key=lambda h: h.start)))
        return f"{name}: {words}"
    return name


class Classifier:
    """Classifies tickets with one set of compiled rules and one model. Immutable after
    construction (but for a bounded cache of what each token is), so one instance serves
    every thread; build it once and keep it."""

    def __init__(self, rules: Rules, model: LinearModel | None):
        self.rules = rules
        self.model = model
        self._reader = RuleReader(rules)
        # What each surface token is (words, stems, capitals), remembered for Text: the
        # only state written after construction; a lost race writes an equal entry twice.
        self._tokens: dict[str, tuple] = {}
        settings: Mapping = model.settings if model else {}
        self._urgency_bias = MappingProxyType(dict(settings.get("urgency_bias", {})))
        self._high_threshold = settings.get("high_threshold")
        self._sentiment_bias = MappingProxyType(dict(settings.get("sentiment_bias", {})))
        self._action_threshold = float(settings.get("action_threshold", 0.5))
        self._sure = frozenset(settings.get("sure_rules", ()))
        self.version = compose_version(rules.version, model.digest if model else "")

    def analyse(self, subject: str, message: str) -> Analysis:
        """The rules' reading and the learned layer's features of one ticket."""
        subject, message = customer_text(subject, message)
        text = Text(subject, message, self._tokens)
        reading = self._reader.read(text)
        return Analysis(subject, message, reading, ticket_features(text, len(subject), rule_features(reading)))

    def classify(self, subject: str, message: str) -> Classification:
        """Classify one ticket. Never raises for any text (empty included)."""
        templated = read_templated(subject or "", message or "")
        if templated is not None:
            quoted = ", ".join(f"'{k}'" for k in templated.keywords)
            return Classification(
                urgency=templated.urgency, sentiment=templated.sentiment, keywords=list(templated.keywords),
                requires_action=templated.requires_action,
                reasons=[f"urgency={templated.urgency}: rule: templated upstream ticket ({quoted})",
                         f"sentiment={templated.sentiment}: rule: templated upstream ticket ({quoted})",
                         f"requires_action={str(templated.requires_action).lower()}: rule: templated upstream "
                         f"ticket ({quoted})"],
                version=self.version, signals=[TEMPLATED_SIGNAL])
        analysis = self.analyse(subject, message)
        reading = analysis.reading
        if self.model is None:
            return self._rules_only(reading)
        scored = self.model.score(analysis.features)
        urgency, urgency_reason, decided_by = self._urgency(reading, scored)
        sentiment, sentiment_reason = self._sentiment(reading, scored)
        requires_action, action_reason = self._requires_action(urgency, reading, scored)
        return Classification(
            urgency=urgency,
            sentiment=sentiment,
            keywords=self._keywords(reading, scored, urgency, decided_by),
            requires_action=requires_action,
            reasons=[urgency_reason, sentiment_reason, action_reason]
                    + [f"rules: {r}" for r in reading.urgency_reasons] + reading.ignored,
            version=self.version,
            signals=list(reading.found),
        )

    def _urgency(self, reading: RuleReading, scored: Scored) -> tuple[str, str, str]:
        """The model's urgency, unless a sure rule asks for more: the strongest signal wins."""
        probabilities = scored.probabilities["urgency"]
        model_urgency = model_urgency_of(probabilities, self._urgency_bias, self._high_threshold)
        sure = [(self.rules.categories[name], hits) for name, hits in reading.found.items()
                if name in self._sure and self.rules.categories[name].urgency]
        if sure:
            category, hits = max(sure, key=lambda c: _RANK[c[0].urgency])
            if _RANK[category.urgency] >= _RANK[model_urgency]:
                words = ", ".join(dict.fromkeys(f"'{reading.text.surface(h.start, h.end)}'" for h in hits))
                return category.urgency, f"urgency={category.urgency}: rule: {category.label} ({words})", "rule"
        top = self.model.explain(scored, "urgency", model_urgency, _EXPLAINED)
        cut = f", high from {self._high_threshold:.2f}" if model_urgency == "high" and self._high_threshold else ""
        return (model_urgency,
                f"urgency={model_urgency}: model: {_quote(top, reading, self.rules.categories)}"
                f" -> {model_urgency} (p={probabilities[model_urgency]:.2f}{cut})", "model")

    def _sentiment(self, reading: RuleReading, scored: Scored) -> tuple[str, str]:
        probabilities = scored.probabilities["sentiment"]
        sentiment = max(probabilities, key=lambda s: probabilities[s] * _bias(self._sentiment_bias, s))
        top = self.model.explain(scored, "sentiment", sentiment, _EXPLAINED)
        return sentiment, (f"sentiment={sentiment}: model: {_quote(top, reading, self.rules.categories)}"
                           f" -> {sentiment} (p={probabilities[sentiment]:.2f})")

    def _requires_action(self, urgency: str, reading: RuleReading, scored: Scored) -> tuple[bool, str]:
        """Every high or medium ticket requires action; a low one when the model says so."""
        if urgency != "low":
            return True, f"requires_action: {urgency} urgency"
        p_true = scored.probabilities["requires_action"][True]
        decided = p_true >= self._action_threshold
        top = self.model.explain(scored, "requires_action", decided, _EXPLAINED)
        return decided, (f"requires_action={str(decided).lower()}: model: "
                         f"{_quote(top, reading, self.rules.categories)} (p={p_true:.2f})")

    def _keywords(self, reading: RuleReading, scored: Scored, urgency: str, decided_by: str) -> list[str]:
        """The customer's words that fired: the rule phrases that stand, in order of
        appearance; when none stands and the model found a problem, the content words that
        weighed most towards its urgency."""
        text = reading.text
        hits = sorted((h for hits in reading.found.values() for h in hits), key=lambda h: h.start)
        categories = self.rules.categories
        words = [text.surface(h.start, h.end) for h in hits if categories[h.pattern.owner].keywords]
        if not words and decided_by == "model" and urgency != "low":
            words = [w for w, share in self.model.explain(scored, "urgency", urgency, _EXPLAINED)
                     if share >= _KEYWORD_SHARE and not w.startswith("r:") and not set(w.split()) <= STOPWORDS]
        return list(dict.fromkeys(words))

    def _rules_only(self, reading: RuleReading) -> Classification:
        """Without a model (training's first pass): the rules' own conclusions."""
        text = reading.text
        hits = sorted((h for hits in reading.found.values() for h in hits), key=lambda h: h.start)
        return Classification(
            urgency=reading.urgency, sentiment=reading.sentiment,
            keywords=list(dict.fromkeys(text.surface(h.start, h.end) for h in hits
                                        if self.rules.categories[h.pattern.owner].keywords)),
            requires_action=reading.requires_action,
            reasons=reading.urgency_reasons + [reading.sentiment_reason, reading.action_reason] + reading.ignored,
            version=self.version, signals=list(reading.found))


def _bias(biases: Mapping[str, float], label: str) -> float:
    return float(biases.get(label, 1.0))


def model_urgency_of(probabilities: Mapping[str, float], bias: Mapping[str, float],
                     high_threshold: float | None = None) -> str:
    """The model's urgency. Missing a high costs far more than over-rating a medium, so
    with a ``high_threshold`` (chosen out of fold in training) a ticket is high as soon as
    P(high) reaches it, and otherwise medium or low by their weighed probabilities; without
    one, the label whose probability times its ``bias`` is largest."""
    if high_threshold is not None:
        if probabilities["high"] >= high_threshold:
            return "high"
        return max(("low", "medium"), key=lambda u: (probabilities[u] * _bias(bias, u), _RANK[u]))
    return max(URGENCIES, key=lambda u: (probabilities[u] * _bias(bias, u), _RANK[u]))


def compose_version(rules_version: str, model_digest: str) -> str:
    """A short stable string naming the engine, the rules and the model together."""
    digest = hashlib.sha256(f"{ENGINE_VERSION}\n{rules_version}\n{model_digest}".encode()).hexdigest()
    return f"cls-{digest[:10]}"


def load_classifier(path: str | os.PathLike | None = None,
                    model_path: str | os.PathLike | None = None) -> Classifier:
    """A classifier over the rules at ``path`` and the model at ``model_path`` (the
    packaged ones when empty). Raises RulesError or ModelError naming the file."""
    return Classifier(load_rules(path), load_model(model_path))
