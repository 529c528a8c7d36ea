"""Misspelled words that decide a ticket, put right: "urgnetly", "emergancy", "imediately",
"atorney", "refnud" read as the words they are, so the rules and the model see them.

Only a short list of decisive words is corrected, and only a word of five letters or more
that starts like one of them and is within one edit of it (swapping two neighbouring
letters is one edit). Two edits reached real words ("disputing" is two from
"disgusting"). Real words that lie within one edit ("layer", "emergence") are listed and
left alone. Cost: a handful of dictionary look-ups
per long word, precomputed at import (the tables are frozen).
"""
from __future__ import annotations

import re
from functools import lru_cache
from types import MappingProxyType

from .text import lower_as_re_i

TARGETS = (
    "urgent", "urgently", "urgency", "emergency", "immediately", "immediate",
    "attorney", "attorneys", "lawyer", "lawyers", "lawsuit", "solicitor", "solicitors",
    "chargeback", "refund", "refunded", "reimburse", "reimbursement",
    "furious", "frustrated", "frustrating", "ridiculous", "unacceptable", "disappointed",
    "terrible", "horrible", "please",
)
# Real words within reach of a target: never "corrected".
REAL_WORDS = frozenset({
    "layer", "layers", "player", "emergence", "emergent", "immediacy", "refunds", "refuse",
    "refused", "refuge", "urgence", "pleased", "pleases", "pleas", "plead", "pleads",
    "lawyered", "reform", "refine", "refind", "reimbursed", "impediment", "atone",
    "intermediate", "furiously", "terribly", "horribly", "solicit", "solicited",
})


def _deletes(word: str, depth: int) -> set[str]:
    out = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


def _build() -> tuple[MappingProxyType, frozenset[str]]:
    table: dict[str, str] = {}
    for target in TARGETS:
        for variant in sorted(_deletes(target, 1)):
            table.setdefault(variant, target)
    return MappingProxyType(table), frozenset(t[:2] for t in TARGETS)


_TABLE, _PREFIXES = _build()
_TARGET_SET = frozenset(TARGETS)
# Only words that start like a target are looked at: most words never reach Python.
_CANDIDATE = re.compile(r"\b(?:" + "|".join(sorted(_PREFIXES)) + r")[a-z]{3,}\b", re.I)
# The same on lower-cased text (``lower_as_re_i``), twice as fast: no case folding, and it opens with
# the set of the targets' first letters (a lookahead; "(?<!\w)" is "\b" before a letter),
# so the regex engine skips the other characters without trying the alternation.
_CANDIDATE_LOWER = re.compile(r"(?=[" + "".join(sorted({p[0] for p in _PREFIXES})) + r"])(?<!\w)(?:"
                              + "|".join(sorted(_PREFIXES)) + r")[a-z]{3,}\b")


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Levenshtein plus adjacent swaps)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def correction(word: str) -> str | None:
    """The decisive word ``word`` misspells, or None."""
    lower = word.lower()
    if lower[:2] not in _PREFIXES or lower in _TARGET_SET or lower in REAL_WORDS:
        return None
    for variant in [lower] + [lower[:i] + lower[i + 1:] for i in range(len(lower))]:
        target = _TABLE.get(variant)
        if target is not None and target[:2] == lower[:2]:
            if _distance(lower, target) <= 1:
                return target
    return None


_corrected = lru_cache(maxsize=1 << 14)(correction)   # bounded; candidates repeat across tickets


def respell(text: str) -> str:
    """``text`` with misspelled decisive words corrected."""
    lower = lower_as_re_i(text)
    if lower is None:
        return _CANDIDATE.sub(lambda m: _corrected(m.group()) or m.group(), text)
    # The lower-cased text keeps every position, so its matches index ``text`` too.
    out = []
    done = 0
    for match in _CANDIDATE_LOWER.finditer(lower):
        target = _corrected(match.group())
        if target is not None:
            start, end = match.span()
            out.append(text[done:start])
            out.append(target)
            done = end
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)
