"""Finding the rules' phrases in a ticket, and the context cues that cancel them.

Pure functions over a ``Text`` and compiled ``Rules``: no state survives a call, so one
``Rules`` serves any number of threads.
"""
from __future__ import annotations

from itertools import compress, count
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


class _Group(NamedTuple):
    """The patterns under one index key (its first ``key_len`` stems), with what tells
    cheaply which of them can match at a word: those that are the key alone (``whole``),
    those whose next stem is a word (by that word), and those whose key is followed by a
    gap (by the stem after the gap). Candidates are numbered in index order."""
    candidates: tuple[tuple[Pattern, tuple], ...]   # (pattern, its segments)
    key_len: int
    whole: tuple[int, ...]
    by_next: dict[str, tuple[int, ...]]
    by_after_gap: dict[str, tuple[int, ...]]


def _group(key_len: int, patterns: tuple[Pattern, ...]) -> _Group:
    whole: list[int] = []
    by_next: dict[str, list[int]] = {}
    by_after_gap: dict[str, list[int]] = {}
    for n, pattern in enumerate(patterns):
        stems = pattern.stems
        if len(stems) == key_len:
            whole.append(n)
        elif stems[key_len] is not None:
            by_next.setdefault(stems[key_len], []).append(n)
        else:   # a gap is never last, so a word follows it
            by_after_gap.setdefault(stems[key_len + 1], []).append(n)
    return _Group(tuple((p, _segments(p.stems)) for p in patterns), key_len, tuple(whole),
                  {w: tuple(ns) for w, ns in by_next.items()}, {w: tuple(ns) for w, ns in by_after_gap.items()})


class PhraseIndex:
    """A rules index (``rules._index``: patterns by first stem, or first two) ready for
    matching: a plain dict (a MappingProxyType lookup costs twice as much), the words a
    phrase can start with, so most ticket words cost one set lookup, and per key the
    patterns by the word that must come next (or after a gap), so a word tries only the
    patterns whose next word is there: "all" has two dozen phrases ("all * users", "all *
    stores") and usually none of them can match. Immutable after construction; build it
    once per rules."""

    __slots__ = ("_groups", "_starts", "_pair_starts")

    def __init__(self, index: Mapping):
        self._groups = {key: _group(len(key) if isinstance(key, tuple) else 1, group)
                        for key, group in index.items()}
        self._pair_starts = frozenset(key[0] for key in index if isinstance(key, tuple))
        self._starts = frozenset(key for key in index if not isinstance(key, tuple)) | self._pair_starts

    def matches(self, tokens: list[str], clauses: list[int], i: int, max_gap: int) -> list[tuple[Pattern, int]]:
        """(pattern, end) of each pattern matched from token ``i``, in index order: the
        patterns keyed by the token, then those keyed by it and the next one (a pair
        across a clause boundary simply fails to match)."""
        token = tokens[i]
        if token not in self._starts:
            return []
        found: list[tuple[Pattern, int]] = []
        group = self._groups.get(token)
        if group is not None:
            _match_group(group, tokens, clauses, i, max_gap, found)
        if token in self._pair_starts and i + 1 < len(tokens):
            group = self._groups.get((token, tokens[i + 1]))
            if group is not None:
                _match_group(group, tokens, clauses, i, max_gap, found)
        return found


def _match_group(group: _Group, tokens: list[str], clauses: list[int], i: int, max_gap: int,
                 found: list[tuple[Pattern, int]]) -> None:
    """Appends to ``found`` (pattern, end) of each of ``group``'s patterns matched from
    token ``i``, in index order; only the patterns whose next word is there are tried."""
    viable = group.whole
    if group.by_next or group.by_after_gap:
        after = i + group.key_len   # the key's words are there: the index was looked up by them
        more: list[int] = []
        if group.by_next and after < len(tokens):
            more += group.by_next.get(tokens[after], ())
        if group.by_after_gap:
            by_after_gap = group.by_after_gap
            for token in tokens[after:after + max_gap + 1]:
                more += by_after_gap.get(token, ())
        if more:
            viable = sorted({*viable, *more}) if viable or len(more) > 1 else more
    candidates = group.candidates
    clause = clauses[i]
    for n in viable:
        pattern, segments = candidates[n]
        if len(segments) > 1:
            end = _match_segments(tokens, clauses, i, segments, 0, clause, max_gap)
        else:
            end = i + len(segments[0])
            if end > len(tokens) or tokens[i:end] != segments[0] or clauses[end - 1] != clause:
                end = -1
        if end > 0:
            found.append((pattern, end))


def find_all(index: PhraseIndex, text: Text, max_gap: int, stemmed: bool = True) -> list[Hit]:
    """Every occurrence of every indexed phrase, without those lying wholly inside a
    longer one ("refund" inside "full refund", "urgent" inside "not urgent"). Phrases
    owned by nobody (the rules' ignore list) stay in the result: they hide what they
    cover, and the caller skips them. ``stemmed``: the index holds stems, not words."""
    tokens, clauses = (text.stems if stemmed else text.words), text.clauses
    hits: list[Hit] = []
    for i in compress(count(), map(index._starts.__contains__, tokens)):
        for pattern, end in index.matches(tokens, clauses, i, max_gap):
            hits.append(Hit(pattern, i, end))
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
    cues: list[Cue] = []
    free = 0   # the first word not inside a phrase found already
    for i in compress(count(), map(index._starts.__contains__, words)):   # most words start no cue
        if i < free:
            continue
        matched = index.matches(words, clauses, i, max_gap)
        if not matched:
            continue
        longest = max(end for _, end in matched)
        if all(pattern.owner for pattern, end in matched if end == longest):
            cues.extend(Cue(pattern.owner, i, end) for pattern, end in matched)
        free = longest
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
