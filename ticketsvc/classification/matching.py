"""Finding the rules' phrases in a ticket, and the context cues that cancel them.

Pure functions over a ``Text`` and compiled ``Rules``: no state survives a call, so one
``Rules`` serves any number of threads.
"""
from __future__ import annotations

from typing import Mapping, NamedTuple

from .rules import CueKind, Pattern
from .text import Text


class Hit(NamedTuple):
    pattern: Pattern
    start: int
    end: int   # exclusive


class Cue(NamedTuple):
    kind: str
    start: int
    end: int


def _segments(pattern: tuple) -> tuple[list[str], ...]:
    """A pattern's runs of words between its gaps (a pattern neither starts nor ends with
    a gap, nor has two in a row, so none is empty)."""
    segments: list[list[str]] = [[]]
    for want in pattern:
        if want is None:
            segments.append([])
        else:
            segments[-1].append(want)
    return tuple(segments)


def _match_segments(tokens: list[str], clauses: list[int], pos: int, segments: tuple, k: int,
                    clause: int, max_gap: int) -> int:
    """The end of ``segments[k:]`` matched from token ``pos`` inside ``clause``, or -1:
    each gap takes the fewest words (up to ``max_gap``) that let the rest match, and each
    run is compared by one slice. Clause ids never decrease, so a run's last word is in the
    clause exactly when all the words up to it are."""
    segment = segments[k]
    end = pos + len(segment)
    if end > len(tokens) or tokens[pos:end] != segment or clauses[end - 1] != clause:
        return -1
    if k + 1 == len(segments):
        return end
    following = segments[k + 1][0]
    window = tokens[end:end + max_gap + 1]
    for skip, token in enumerate(window):   # only where the next run can start
        if token == following:
            found = _match_segments(tokens, clauses, end + skip, segments, k + 1, clause, max_gap)
            if found >= 0:
                return found
    return -1


class PhraseIndex:
    """A rules index (``rules._index``: patterns by first stem, or first two) ready for
    matching: a plain dict (a MappingProxyType lookup costs twice as much), the words a
    phrase can start with, so most ticket words cost one set lookup, and per pattern its
    words as a list when it has no gap, so it matches by one slice comparison. Immutable
    after construction; build it once per rules."""

    __slots__ = ("_groups", "_starts", "_pair_starts")

    def __init__(self, index: Mapping):
        self._groups = {key: tuple((p, _segments(p.stems)) for p in group) for key, group in index.items()}
        self._pair_starts = frozenset(key[0] for key in index if isinstance(key, tuple))
        self._starts = frozenset(key for key in index if not isinstance(key, tuple)) | self._pair_starts

    def matches(self, tokens: list[str], clauses: list[int], i: int, max_gap: int):
        """(pattern, end) of each pattern matched from token ``i``, in index order: the
        patterns keyed by the token, then those keyed by it and the next one (a pair
        across a clause boundary simply fails to match)."""
        token = tokens[i]
        if token not in self._starts:
            return
        candidates = self._groups.get(token, ())
        if token in self._pair_starts and i + 1 < len(tokens):
            pair = self._groups.get((token, tokens[i + 1]))
            if pair:
                candidates = candidates + pair if candidates else pair
        clause = clauses[i]
        for pattern, segments in candidates:
            if len(segments) > 1:
                end = _match_segments(tokens, clauses, i, segments, 0, clause, max_gap)
            else:
                end = i + len(segments[0])
                if end > len(tokens) or tokens[i:end] != segments[0] or clauses[end - 1] != clause:
                    end = -1
            if end > 0:
                yield pattern, end


def find_all(index: PhraseIndex, text: Text, max_gap: int, stemmed: bool = True) -> list[Hit]:
    """Every occurrence of every indexed phrase, without those lying wholly inside a
    longer one ("refund" inside "full refund", "urgent" inside "not urgent"). Phrases
    owned by nobody (the rules' ignore list) stay in the result: they hide what they
    cover, and the caller skips them. ``stemmed``: the index holds stems, not words."""
    tokens, clauses = (text.stems if stemmed else text.words), text.clauses
    hits: list[Hit] = []
    starts = index._starts
    for i in [i for i, token in enumerate(tokens) if token in starts]:
        hits.extend(Hit(pattern, i, end) for pattern, end in index.matches(tokens, clauses, i, max_gap))
    if len(hits) > 1:
        hits = _outermost(hits)
    return hits


def _outermost(hits: list[Hit]) -> list[Hit]:
    """``hits`` without those lying wholly inside a longer one, and without duplicates
    (same owner, keyword and span), in order of start. One sort and one sweep: a hit is
    inside a longer one exactly when an earlier hit in (start, -end) order, with another
    span, reaches at least as far."""
    hits = sorted(hits, key=lambda h: (h.start, -h.end))
    kept: list[Hit] = []
    seen: set[tuple] = set()
    reach = -1          # furthest end among hits of earlier spans
    group_reach = -1    # furthest end including the current span's group
    span = None
    for h in hits:
        if (h.start, h.end) != span:
            span = (h.start, h.end)
            reach = group_reach
        group_reach = max(group_reach, h.end)
        if reach >= h.end:
            continue
        key = (h.pattern.owner, h.pattern.keyword, h.start, h.end)
        if key not in seen:
            seen.add(key)
            kept.append(h)
    return kept


class Cues(NamedTuple):
    """The cues found in one ticket, with lookups by (kind, first word) and (kind, last
    word), so deciding whether a cue governs a phrase costs the kind's window, not the
    number of cues."""
    found: list[Cue]
    by_last: dict[tuple[str, int], Cue]
    by_first: dict[tuple[str, int], Cue]


def find_cues(index: PhraseIndex, text: Text, max_gap: int) -> Cues:
    """Context cues, left to right, not overlapping: every cue starting at a word counts
    ("what is your" is a general question and holds the question "what is"), unless the
    longest phrase there is a non-cue ("no one"), which hides the cues inside it. Cues
    match words, not stems."""
    words, clauses = text.words, text.clauses
    starts = index._starts
    cues: list[Cue] = []
    i, n = 0, len(words)
    while i < n:
        if words[i] not in starts:   # most words start no cue: one set lookup
            i += 1
            continue
        matched = [(end, pattern.owner) for pattern, end in index.matches(words, clauses, i, max_gap)]
        if not matched:
            i += 1
            continue
        longest = max(end for end, _ in matched)
        if all(owner for end, owner in matched if end == longest):
            cues.extend(Cue(owner, i, end) for end, owner in matched)
        i = longest
    by_last: dict[tuple[str, int], Cue] = {}
    by_first: dict[tuple[str, int], Cue] = {}
    for cue in cues:
        by_last.setdefault((cue.kind, cue.end - 1), cue)
        by_first.setdefault((cue.kind, cue.start), cue)
    return Cues(cues, by_last, by_first)


def cue_for(start: int, end: int, kind: CueKind, cues: Cues, text: Text,
            fillers: frozenset[str]) -> Cue | None:
    """The cue of ``kind`` that governs words [start, end), if any: in the same clause,
    within the kind's window before (or after) them, with only filler words in between
    when the kind asks for that. Costs at most the kind's window in lookups."""
    clauses, words = text.clauses, text.words
    clause = clauses[start]
    if kind.questions_only and not text.questions[start]:
        return None
    name = kind.name
    if kind.direction == "before":
        lookup = cues.by_last
        j, step = start - 1, -1
    else:
        lookup = cues.by_first
        j, step = end, 1
    for _ in range(kind.window):
        if j < 0 or j >= len(words) or clauses[j] != clause:
            return None
        cue = lookup.get((name, j))
        if cue is not None:
            return cue
        if kind.fillers_only and words[j] not in fillers:
            return None
        j += step
    return None
