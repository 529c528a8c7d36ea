"""Ticket text as the rules see it: words with their stems, grouped in clauses and sentences.

Matching works on whole words, never on substrings: "down" is not in "download" and
"refund" is not in "refundable". Both the rules' phrases and the ticket go through the
same tokenizer and the same light stemmer, so "crash" in the rules matches "crashes",
"crashed" and "crashing", and "can't log in" matches "cannot log in" and "cant log in".
"""
from __future__ import annotations

import re
from functools import lru_cache
from types import MappingProxyType

# A number with separators ("$19.99", "14.2") is one token, so its dot does not end a
# sentence. En and em dashes, and hyphens standing between spaces, separate clauses;
# a hyphen inside a word joins ("double-charged" -> "double charged").
_TOKEN = re.compile(
    r"\d+(?:[.,:]\d+)+"
    r"|[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)*"
    r"|[.!?;\n]"
    r"|[,:()\"\u201c\u201d\u2013\u2014]|\s-+\s"
)
_SENTENCE_END = frozenset(".!?;\n")
# Words that open a new clause: negation and context do not reach across them.
_CLAUSE_WORDS = frozenset({"but", "although", "though", "however", "except", "whereas"})

# A subject line is a question when it opens like one, "?" or not ("How to add a user").
_QUESTION_OPENERS = frozenset({
    "how", "what", "where", "when", "why", "which", "who", "is", "are", "can", "could", "do",
    "does", "should", "will", "would", "am",
})
_NOT_BASES = MappingProxyType({"ca": "can", "wo": "will", "sha": "shall", "ai": "is"})
_IS_BEFORE_S = frozenset({
    "it", "that", "there", "what", "here", "who", "where", "how", "everything", "nothing",
    "something", "someone", "everyone", "this", "he", "she",
})
_CLITICS = MappingProxyType({"'m": "am", "'re": "are", "'ve": "have", "'ll": "will", "'d": "would"})
# Contractions typed without the apostrophe, common in hurried tickets.
_BARE_CONTRACTIONS = MappingProxyType({
    "cant": ("can", "not"), "cannot": ("can", "not"), "dont": ("do", "not"), "doesnt": ("does", "not"),
    "didnt": ("did", "not"), "isnt": ("is", "not"), "wasnt": ("was", "not"), "arent": ("are", "not"),
    "werent": ("were", "not"), "wont": ("will", "not"), "couldnt": ("could", "not"),
    "wouldnt": ("would", "not"), "shouldnt": ("should", "not"), "havent": ("have", "not"),
    "hasnt": ("has", "not"), "hadnt": ("had", "not"), "aint": ("is", "not"), "im": ("i", "am"),
    "ive": ("i", "have"), "thats": ("that", "is"), "whats": ("what", "is"), "theres": ("there", "is"),
    "youre": ("you", "are"), "theyre": ("they", "are"), "itll": ("it", "will"),
})


def expand(word: str) -> tuple[str, ...]:
    """The lower-case words one surface token stands for ("can't" -> ("can", "not"))."""
    word = word.lower().replace("\u2019", "'")
    if "'" not in word:
        return _BARE_CONTRACTIONS.get(word, (word,))
    if word.endswith("n't"):
        base = word[:-3]
        return (_NOT_BASES.get(base, base), "not")
    head, _, tail = word.partition("'")
    tail = "'" + tail
    if tail == "'s":
        return (head, "is") if head in _IS_BEFORE_S else (head,)
    if tail in _CLITICS:
        return (head, _CLITICS[tail])
    return (head + tail[1:],)


@lru_cache(maxsize=1 << 16)   # bounded; words repeat across tickets far more than they vary
def stem(word: str) -> str:
    """A crude, consistent stem: strips plural, -ed and -ing, a final e and a doubled
    final consonant, so inflections of one word meet ("charges", "charged", "charging",
    "charge" -> "charg"). It never strips derivational endings ("refundable" stays apart
    from "refund")."""
    if len(word) <= 3 or not word.isalpha():
        return word
    w = word
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith(("ches", "shes", "xes", "zes")) or (w.endswith("ses") and len(w) > 5):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    elif w.endswith("ied") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("eed"):
        pass
    elif w.endswith("ed"):
        w = w[:-2] if len(w) >= 5 else w[:-1]
    elif w.endswith("ing") and len(w) >= 6:
        w = w[:-3]
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "aeiouy":
        w = w[:-1]
    return w


TOKEN_CACHE = 1 << 16


def _remember(tokens: dict[str, tuple], token: str) -> tuple:
    """``_token(token)``, kept in ``tokens`` (bounded: cleared when full)."""
    if len(tokens) >= TOKEN_CACHE:
        tokens.clear()
    entry = tokens[token] = _token(token)
    return entry


@lru_cache(maxsize=TOKEN_CACHE)   # bounded; tokens repeat across tickets far more than they vary
def _token(token: str) -> tuple:
    """What one surface token is, worked out once: a punctuation mark is (None, the
    sentence-ending mark it is or ""); a plain word (one word that opens no clause) is
    (word, stem, typed in capitals, True); else (words, stems, capitals, False, opens a
    clause per word)."""
    if not token[0].isalnum():
        return None, token[0] if token[0] in _SENTENCE_END else ""
    lower = token.lower()
    words = expand(lower) if ("'" in lower or "\u2019" in lower or lower in _BARE_CONTRACTIONS) else (lower,)
    upper = len(token) > 1 and token.isupper()
    if len(words) == 1 and words[0] not in _CLAUSE_WORDS:
        return words[0], stem(words[0]), upper, True
    return words, tuple(map(stem, words)), (upper,) * len(words), False, tuple(w in _CLAUSE_WORDS for w in words)


class Text:
    """One ticket, tokenized. Parallel per-word lists: ``words`` (lower case, contractions
    expanded), ``stems``, ``clauses`` and ``sentences`` (ids), ``questions`` (the word's
    sentence ends with "?", or it is in a subject line that opens like a question),
    ``caps`` (typed in capitals), ``spans`` (character span of the surface token in
    ``raw``); and the number of exclamation marks."""

    __slots__ = ("raw", "words", "stems", "clauses", "sentences", "questions", "caps", "spans",
                 "exclamations")

    def __init__(self, subject: str, message: str, tokens: dict[str, tuple] | None = None):
        """``tokens``: a cache of what each surface token is, owned by the caller (the
        classifier keeps one): a plain dict's hit costs half of the shared lru_cache's."""
        subject = subject or ""
        raw = f"{subject}\n{message or ''}"
        self.raw = raw
        words: list[str] = []
        stems: list[str] = []
        caps: list[bool] = []
        spans: list[tuple[int, int]] = []
        # Clause, sentence and question ids are the same for a run of words, so they are
        # written a run at a time when the run ends, not word by word: this loop runs for
        # every word of every ticket, and most tokens are a plain word (four appends).
        clauses: list[int] = []
        sentences: list[int] = []
        questions: list[bool] = []
        clause = sentence = 0
        clause_start = sentence_start = 0
        exclamations = 0
        subject_question = False
        known = _token if tokens is None else tokens.get   # _token never answers None
        for match in _TOKEN.finditer(raw):
            token = match[0]
            entry = known(token) or _remember(tokens, token)
            if entry[0] is None:
                end = len(words)
                if clause_start != end:
                    clauses += [clause] * (end - clause_start)
                    clause_start = end
                clause += 1
                mark = entry[1]
                if not mark:
                    continue
                if sentence_start != end:
                    if sentence == 0:
                        # The subject line ends at the first newline at the latest; when
                        # it opens like a question ("How to add a user") so does its sentence.
                        first = raw[spans[0][0]:spans[0][1]].lower()
                        subject_question = first in _QUESTION_OPENERS and spans[0][0] < len(subject)
                    sentences += [sentence] * (end - sentence_start)
                    questions += [mark == "?" or (sentence == 0 and subject_question)] * (end - sentence_start)
                    sentence += 1
                    sentence_start = end
                    if mark == "!" and sentence == 1 and subject_question:
                        continue   # it ends the subject's question
                if mark == "!":
                    exclamations += 1
                continue
            if entry[3]:
                words.append(entry[0])
                stems.append(entry[1])
                caps.append(entry[2])
                spans.append(match.span())
                continue
            span = match.span()
            for word, stemmed, upper, opens_clause in zip(entry[0], entry[1], entry[2], entry[4]):
                if opens_clause:
                    end = len(words)
                    if clause_start != end:
                        clauses += [clause] * (end - clause_start)
                        clause_start = end
                    clause += 1
                words.append(word)
                stems.append(stemmed)
                caps.append(upper)
                spans.append(span)
        end = len(words)
        clauses += [clause] * (end - clause_start)
        sentences += [sentence] * (end - sentence_start)
        questions += [False] * (end - sentence_start)
        self.words = words
        self.stems = stems
        self.clauses = clauses
        self.sentences = sentences
        self.questions = questions
        self.caps = caps
        self.spans = spans
        self.exclamations = exclamations

    def __len__(self) -> int:
        return len(self.words)

    def surface(self, start: int, end: int) -> str:
        """The customer's own words for word positions [start, end), in lower case."""
        return self.raw[self.spans[start][0]:self.spans[end - 1][1]].lower().replace("\n", " ")


def lower_as_re_i(text: str) -> str | None:
    """``text`` lower-cased, when that finds ASCII words at the same places as ``re.I``
    does; else None. Lower-casing keeps every position unless a letter becomes two
    ("\u0130"), and ``re.I`` also matches "i" to the dotless "\u0131" and "s" to the long
    "\u017f", which lower-casing leaves as they are."""
    lower = text.lower()
    if len(lower) != len(text) or (not text.isascii() and ("\u0131" in text or "\u017f" in text)):
        return None
    return lower


def phrase_pattern(phrase: str, stemmed: bool = True) -> tuple[str | None, ...]:
    """A rules phrase as a pattern of stems (or of plain words, for cues); ``*`` (a gap of
    a few words) becomes None."""
    pattern: list[str | None] = []
    for n, part in enumerate(phrase.split("*")):
        if n:
            pattern.append(None)
        for match in _TOKEN.finditer(part):
            token = match.group()
            if token[0].isalnum():
                pattern.extend(stem(w) if stemmed else w for w in expand(token))
    return tuple(pattern)
