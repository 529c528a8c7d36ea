"""What of a ticket is read: the customer's own words, with ids and numbers made neutral.

Before rules or model see a ticket:
- text beyond the cap is not read (``MAX_SUBJECT_CHARS``, ``MAX_TEXT_CHARS``), so cost is
  bounded whatever an upstream sends;
- quoted earlier messages (lines starting with ``>``, the "On ... wrote:" line above them,
  an "-----Original Message-----" block) are dropped: they are not the customer's words now;
- signature boilerplate (confidentiality and privilege notices, "notify the sender
  immediately") is dropped, and so is everything after a "-- " signature line;
- tracker ids, ticket and order numbers, long numbers and money amounts become the tokens
  ``idnum`` and ``amount``: "Issue ext-503" is not an outage, "#1432" is not a word. Short
  bare numbers stay ("returning 503"), since a customer quoting an error code says something;
- misspelled decisive words are put right ("urgnetly", "emergancy": ``spelling.py``).
"""
from __future__ import annotations

import re

from .spelling import respell
from .text import lower_as_re_i

MAX_SUBJECT_CHARS = 1_000
MAX_TEXT_CHARS = 20_000   # subject and message together; the rest is not read

ID_TOKEN = "idnum"
AMOUNT_TOKEN = "amount"

_QUOTE_HEADER = re.compile(r"^\s*(on\s.{0,200}\swrote:|-{2,}\s*original message\s*-{2,})\s*$", re.I)
_SIGNATURE_DASHES = re.compile(r"^--\s?$")
# Each phrase holds one of _BOILERPLATE_WORDS and is at most 55 characters long.
_BOILERPLATE_PHRASES = (
    r"intended (solely )?(only )?(for the )?(use of the )?(named )?(recipient|addressee)",
    r"received this (e-?mail|message|communication) in error",
    r"notify the sender",
    r"(legally )?privileged and confidential|confidential and (legally )?privileged",
    r"subject to legal privilege|legal(ly)? privilege",
    r"confidentiality (notice|statement|disclaimer)",
    r"(any|unauthori[sz]ed) (review|use|disclosure|distribution|dissemination|copying)",
    r"this (e-?mail|message) (and any attachments? )?(is|are|may be) confidential",
)
_DISCLAIMER_FIRST = r"\s*disclaimer\b"   # a text that opens with "Disclaimer"
_BOILERPLATE = re.compile("|".join(_BOILERPLATE_PHRASES + ("^" + _DISCLAIMER_FIRST,)), re.I)
# The same in two parts, so that the phrases are looked for only near the words they
# hold (within _BOILERPLATE_REACH characters, room to spare), not along the whole text.
_BOILERPLATE_ANYWHERE = re.compile("|".join(_BOILERPLATE_PHRASES), re.I)
_DISCLAIMER_AT_START = re.compile(_DISCLAIMER_FIRST, re.I)
_BOILERPLATE_REACH = 80

_AMOUNT = re.compile(
    r"(?:[$\u20ac\u00a3]|\b(?:usd|eur|gbp|aud|cad|chf|inr|pln|brl)\b)\s?\d[\d,.]*(?:\s?[kKmM]\b)?"
    r"|\b\d[\d,.]*\s?(?:[$\u20ac\u00a3]|(?:usd|eur|gbp|aud|cad|chf|inr|pln|brl|euros?|dollars?|pounds?|zloty|reais)\b)",
    re.I)
_IDS = re.compile(
    r"#\s?\d[\w-]*"                                     # #1432, # 88
    r"|\b[A-Za-z]{1,12}[-_/]\d[\w./-]*"                 # ext-503, INV-2024-0012, PO/7781
    r"|\b(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]{6,}\b"  # A1B2C3D4, GB29NWBK6016...
    r"|\b\d{4,}\b(?![.,]\d)"                            # 1432, 20240611
    r"|\b\d+(?:[-/.]\d+){2,}\b",                        # 12/06/2024, 4471-22-9
    re.I)
# Every boilerplate phrase holds one of these: most text is passed by looking for them
# alone instead of running the whole alternation above.
_BOILERPLATE_WORDS = ("intended", "received this", "notify the sender", "privilege", "confidential",
                      "disclaimer", "any ", "unauthori")
_BOILERPLATE_WORDS_RE = re.compile("|".join(_BOILERPLATE_WORDS), re.I)
_DIGIT = re.compile(r"\d")
_DIGITS = re.compile(r"\d+")
# Every match of _AMOUNT, _NUMBER_AFTER_NOUN and _IDS holds a digit and reaches at most
# two whitespace-separated words before the digit's word ("order # 88", "$ 5") and one
# after it ("5 usd", "12 k"); none starts or ends with whitespace. So the three passes
# only need the text around digits: the digit's word, two words before, one after
# (on the reversed text, the rest of the word and the words before it).
_WORDS_BEFORE = re.compile(r"\S*(?:\s+\S+){0,2}")
_WORDS_AFTER = re.compile(r"\S*(?:\s+\S+)?")
# Joins the pieces around digits: no match can hold it, and it stands for the whitespace
# around a piece as \b and the patterns' lookarounds see it (neither a word character nor
# "." or ",").
_JOIN = "\x00"
_NUMBER_AFTER_NOUN = re.compile(
    r"\b(order|ticket|invoice|case|ref|reference|no|nr|number|account|acct|id|po|customer|"
    r"member|booking|transaction|receipt|contract|policy|claim|issue|tracking)(\.?\s*[:#]?\s*)\d+\b",
    re.I)


def customer_text(subject: str | None, message: str | None) -> tuple[str, str]:
    """The subject and message as the engine reads them (see the module docstring)."""
    subject = (subject or "")[:MAX_SUBJECT_CHARS]
    message = (message or "")[:max(0, MAX_TEXT_CHARS - len(subject))]
    return respell(neutral_ids(subject)), respell(neutral_ids(own_words(message)))


def own_words(message: str) -> str:
    """The message without quoted replies and signature boilerplate."""
    screened = _may_be_boilerplate(message)   # else no line can be
    if ">" not in message and "--" not in message and not (screened and _has_boilerplate(message)):
        return message
    kept: list[str] = []
    for line in message.split("\n"):
        stripped = line.lstrip()
        if stripped.startswith(">"):
            continue
        if _SIGNATURE_DASHES.match(stripped.rstrip()):
            break
        if _QUOTE_HEADER.match(stripped):
            if "original message" in stripped.lower():
                break
            continue
        if screened and _has_boilerplate(line):
            continue
        kept.append(line)
    return "\n".join(kept)


def _may_be_boilerplate(text: str) -> bool:
    """False when ``text`` holds none of ``_BOILERPLATE_WORDS`` (as ``re.I`` matches them)."""
    lower = lower_as_re_i(text)
    if lower is None:
        return _BOILERPLATE_WORDS_RE.search(text) is not None
    return any(word in lower for word in _BOILERPLATE_WORDS)


def _has_boilerplate(text: str) -> bool:
    """Whether ``_BOILERPLATE.search(text)`` finds something, found by searching only
    around the words the phrases hold."""
    lower = lower_as_re_i(text)
    if lower is None:
        return _BOILERPLATE.search(text) is not None
    if _DISCLAIMER_AT_START.match(text):
        return True
    reach = _BOILERPLATE_REACH
    windows: list[list[int]] = []
    for word in _BOILERPLATE_WORDS:
        at = lower.find(word)
        while at >= 0:
            windows.append([max(0, at - reach), at + reach])
            at = lower.find(word, at + 1)
    windows.sort()
    merged: list[list[int]] = []
    for window in windows:
        if merged and window[0] <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], window[1])
        else:
            merged.append(window)
    # Nothing in the phrases looks past their end, so a search stopping at a window's end
    # finds only what a search of the whole text would.
    return any(_BOILERPLATE_ANYWHERE.search(text, start, end) for start, end in merged)


def neutral_ids(text: str) -> str:
    """Ids, long numbers and amounts replaced by neutral tokens."""
    if not _DIGIT.search(text):
        return text
    if _JOIN in text:
        return _neutral(text)
    windows = _around_digits(text)
    pieces = _neutral(_JOIN.join(text[start:end] for start, end in windows)).split(_JOIN)
    out = []
    done = 0
    for (start, end), piece in zip(windows, pieces):
        out.append(text[done:start])
        out.append(piece)
        done = end
    out.append(text[done:])
    return "".join(out)


def _neutral(text: str) -> str:
    """The three passes, in order: amounts, numbers after a noun, ids."""
    text = _AMOUNT.sub(f" {AMOUNT_TOKEN} ", text)
    text = _NUMBER_AFTER_NOUN.sub(lambda m: f"{m.group(1)}{m.group(2)}{ID_TOKEN}", text)
    return _IDS.sub(ID_TOKEN, text)


def _around_digits(text: str) -> list[list[int]]:
    """[start, end) of the stretches any id or amount can lie in: each digit's word, two
    words before and one after, overlapping stretches merged, in order."""
    backwards = text[::-1]
    size = len(text)
    windows: list[list[int]] = []
    for digits in _DIGITS.finditer(text):
        start, end = digits.span()
        right = _WORDS_AFTER.match(text, end).end()
        if windows and start < windows[-1][1]:   # a later word: its window starts no earlier
            windows[-1][1] = max(windows[-1][1], right)
            continue
        left = size - _WORDS_BEFORE.match(backwards, size - start).end()
        if windows and left <= windows[-1][1]:
            windows[-1][1] = right
        else:
            windows.append([left, right])
    return windows
