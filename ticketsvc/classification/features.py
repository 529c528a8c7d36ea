"""What the learned layer sees of a ticket: word, word-pair and character features of the
customer's text, and what the rules concluded about it.

One function, ``ticket_features``, serves both training and classification, so the model
is scored on exactly the features it was trained on. Text features are counts (scaling
them by the ticket's length measured no better in leave-one-writer-out runs), except
that a ticket longer than ``FULL_WEIGHT_WORDS`` words has them scaled down to that total
weight: a 20 KB email repeating itself weighs as much as a long email, not ten of them.
Rule features are 0/1.

- ``w:<stem>``: a word (stemmed); ``n:<stem>`` when a negation governs it ("not", "no",
  "never" up to three words before, in the same clause): "not urgent" is not "urgent".
- ``s:<stem>``: a word of the subject line, which says what the ticket is about.
- ``b:<stem> <stem>``: two adjacent words of one sentence ("money back", "take legal");
  ``nb:`` when a negation governs the second ("don't want a refund": ``nb:a refund``).
- ``c:<chars>``: three and four letter pieces of each word, padded with spaces, so an
  unusual form ("refunding", "chargebacks") still shares most of its pieces with the
  word the model knows; ``nc:<chars>`` for a negated word.
- ``r:...``: the rules' findings that stand after negation, question, hypothetical and
  resolved scoping (``r:refund``), those a cue cancelled (``r:x:refund``), the rules'
  own urgency (``r:urgency:high``) and lexicon tone (``r:tone:negative``), a direct
  request (``r:request``), a question, exclamation marks, shouting.
"""
from __future__ import annotations

from typing import Iterable, NamedTuple

from .text import Text

NEGATORS = frozenset({"not", "no", "never", "nothing", "none", "without", "nor", "neither", "hardly"})
NEGATION_REACH = 3
CHAR_SIZES = (3, 4)
FULL_WEIGHT_WORDS = 400   # the corpus's longest ticket has 244 words


class Features(NamedTuple):
    """Features of one ticket. ``tokens``: per word, (unigram feature, surface word);
    ``pairs``: (pair feature, surface words); ``subject``: subject-word features with their
    surface word; ``rules``: rule feature names; ``scale``: the weight of each text feature
    occurrence. Character features are derived from the surface words (``char_features``)."""
    tokens: list[tuple[str, str]]
    pairs: list[tuple[str, str]]
    subject: list[tuple[str, str]]
    rules: list[str]
    scale: float


def char_features(word: str, negated: bool = False) -> list[str]:
    """The padded 3- and 4-letter pieces of one word (with repeats)."""
    padded = f" {word} "
    prefix = "nc:" if negated else "c:"
    out = []
    for size in CHAR_SIZES:
        out.extend(prefix + padded[i:i + size] for i in range(len(padded) - size + 1))
    return out


def ticket_features(text: Text, subject_chars: int, rule_features: Iterable[str]) -> Features:
    """The learned layer's view of a tokenized ticket whose first ``subject_chars``
    characters are the subject line."""
    words, stems, clauses, sentences, spans = text.words, text.stems, text.clauses, text.sentences, text.spans
    n = len(words)
    # Comprehensions rather than one loop with appends: this runs for every word of every ticket.
    governed: list[bool] = []   # per word, whether a negation governs it (empty: no negator)
    if NEGATORS.isdisjoint(words):
        tokens = [(f"w:{stem}", word) for stem, word in zip(stems, words)]
    else:
        tokens = []
        negated_until = -1
        negation_clause = -1
        for i in range(n):
            word, stem = words[i], stems[i]
            negated = i <= negated_until and clauses[i] == negation_clause
            governed.append(negated)
            tokens.append(((f"n:{stem}" if negated else f"w:{stem}"), word))
            if word in NEGATORS:
                negated_until, negation_clause = i + NEGATION_REACH, clauses[i]
    subject_words = 0   # spans grow, so the subject's words come first
    while subject_words < n and spans[subject_words][0] < subject_chars:
        subject_words += 1
    subject = [(f"s:{stems[i]}", words[i]) for i in range(subject_words)]
    if governed:
        # A pair whose second word a negation governs is that negation's too: "a refund"
        # in "I don't want a refund" is not the pair in "I want a refund".
        pairs = [(f"nb:{stems[i]} {stems[i + 1]}" if governed[i + 1] else f"b:{stems[i]} {stems[i + 1]}",
                  f"{words[i]} {words[i + 1]}") for i in range(n - 1) if sentences[i] == sentences[i + 1]]
    else:
        pairs = [(f"b:{stem} {next_stem}", f"{word} {next_word}")
                 for stem, next_stem, word, next_word, sentence, next_sentence
                 in zip(stems, stems[1:], words, words[1:], sentences, sentences[1:]) if sentence == next_sentence]
    return Features(tokens, pairs, subject, sorted(set(rule_features)), min(1.0, FULL_WEIGHT_WORDS / max(1, n)))
