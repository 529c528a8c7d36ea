"""Words for text search, as MongoDB's text index splits them with ``default_language: none``.

The tickets' text index (``storage/indexes.py``) uses no language: no stemming and no
stop words, so a word matches only itself, whatever the language of a ticket. Words are
runs of letters, digits and ``_``; case and accents do not count (the index is version 3:
case- and diacritic-insensitive). The embedded engine emulates the index with the same
function (``storage/embedded``), so both engines answer a search the same way.
"""
from __future__ import annotations

import re
import unicodedata

TEXT_LANGUAGE = "none"
_WORD = re.compile(r"\w+")


def text_words(text: str) -> list[str]:
    """The distinct words of ``text``, folded (lower case, no accents), in first-seen order."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return list(dict.fromkeys(_WORD.findall(plain)))


def all_words_query(words: list[str]) -> dict:
    """A ``$text`` criterion matching documents that hold every one of ``words``.

    Unquoted terms are ORed by MongoDB; quoted ones (phrases) must all be present, so each
    word is quoted. ``words`` come from ``text_words``, so they hold no quote."""
    if not words:
        raise ValueError("a text search needs at least one word")
    return {"$text": {"$search": " ".join(f'"{word}"' for word in words)}}


def quoted_words(search: str) -> list[str] | None:
    """The words of a ``$search`` built by ``all_words_query``; None for any other form
    (unquoted terms, negations), which the embedded engine does not emulate."""
    phrases = re.findall(r'"([^"]*)"', search)
    if not phrases or re.sub(r'"[^"]*"', "", search).strip():
        return None
    words = [text_words(phrase) for phrase in phrases]
    if any(len(w) != 1 for w in words):
        return None
    return [w[0] for w in words]
