"""Lexicon sentiment in the manner of VADER, over the classifier's own tokens.

VADER (vaderSentiment) is a lexicon and a handful of rules made for short informal text.
Its lexicon is used as is, except for the words the rules file re-weights for support
tickets ("please" and "help" are not praise there). The VADER rules kept here are the
ones that matter in tickets: intensifiers ("very"), capitals for emphasis, negation,
"but" shifting the weight to what follows, and exclamation marks. Negation uses the
rules' negation cues, so "I'm not angry" and "not happy" are read the same way the
domain terms are. Words inside a matched domain term are left to that term's weight.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Callable, Mapping

from vaderSentiment import vaderSentiment as vader

from .rules import SentimentRules
from .text import Text

# VADER's intensifiers ("very", "extremely", "slightly"), single words only: multi-word
# ones ("kind of") never equal one token.
_BOOSTERS = MappingProxyType({w: v for w, v in vader.BOOSTER_DICT.items() if " " not in w})
_CAPS = vader.C_INCR
_DISTANCE_SCALE = (1.0, 0.95, 0.9)
_EXCLAMATION = 0.292
ALPHA = 15.0   # VADER's normalisation constant


def build_lexicon(rules: SentimentRules) -> Mapping[str, float]:
    """VADER's lexicon with the rules' overrides applied (0 removes a word)."""
    lexicon = dict(vader.SentimentIntensityAnalyzer().lexicon)
    for word, value in rules.lexicon_overrides.items():
        if value == 0:
            lexicon.pop(word, None)
        else:
            lexicon[word] = value
    return MappingProxyType(lexicon)


def but_scale(text: Text) -> list[float]:
    """Per word: 0.5 before the last "but" of its sentence, 1.5 after it, else 1 (the
    last "but" itself is 1.5 when an earlier "but" precedes it). One pass per word."""
    words, sentences = text.words, text.sentences
    n = len(words)
    scale = [1.0] * n
    last_but: dict[int, int] = {}
    first_but: dict[int, int] = {}
    for i, word in enumerate(words):
        if word == "but":
            last_but[sentences[i]] = i
            first_but.setdefault(sentences[i], i)
    if not last_but:
        return scale
    for i in range(n):
        pivot = last_but.get(sentences[i])
        if pivot is None:
            continue
        if i < pivot:
            scale[i] = 0.5
        elif i > pivot or first_but[sentences[i]] < pivot:
            scale[i] = 1.5
    return scale


def lexicon_score(text: Text, lexicon: Mapping[str, float], rules: SentimentRules,
                  skip: list[bool], negated: Callable[[int], bool],
                  scale: list[float]) -> tuple[float, list[tuple[str, float]]]:
    """VADER-style raw valence sum over the words not in ``skip``, and the words that
    contributed, with their contribution."""
    words, caps, clauses = text.words, text.caps, text.clauses
    n_caps = sum(caps)
    cap_differential = 0 < n_caps < len(words)
    total = 0.0
    contributors: list[tuple[str, float]] = []
    for i, word in enumerate(words):
        if skip[i]:
            continue
        valence = lexicon.get(word)
        if not valence:
            continue
        sign = 1.0 if valence > 0 else -1.0
        if cap_differential and caps[i]:
            valence += _CAPS * sign
        for distance in (1, 2, 3):
            j = i - distance
            if j < 0 or clauses[j] != clauses[i]:
                break
            boost = _BOOSTERS.get(words[j])
            if boost:
                boost *= sign
                if cap_differential and caps[j]:
                    boost += _CAPS * sign
                valence += boost * _DISTANCE_SCALE[distance - 1]
        if negated(i):
            valence *= rules.negated_positive_factor if valence > 0 else rules.negated_negative_factor
        valence *= scale[i]
        if valence:
            total += valence
            contributors.append((word, valence))
    if total and text.exclamations:
        total += min(text.exclamations, 4) * _EXCLAMATION * (1 if total > 0 else -1)
    return total * rules.lexicon_weight, contributors


def normalize(score: float) -> float:
    """VADER's compound: the raw sum squashed into (-1, 1)."""
    return score / (score * score + ALPHA) ** 0.5
