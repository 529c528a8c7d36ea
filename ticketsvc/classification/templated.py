"""The upstream's templated tickets: subject ``Issue ext-N: <keyword>``, message ``This is
a message about <keyword>.`` up to three times. The keyword is the whole content, so the
policy ("Templated upstream tickets", "Clarifications") labels them from a table: urgency
from the keyword (the stronger of two wins), sentiment neutral unless a keyword carries
it (negative beats positive beats neutral), action unless every keyword is low.
"""
from __future__ import annotations

import re
from types import MappingProxyType
from typing import NamedTuple

_RANK = MappingProxyType({"low": 0, "medium": 1, "high": 2})
_TONE = MappingProxyType({"neutral": 0, "positive": 1, "negative": 2})

_HIGH, _MEDIUM, _LOW = "high", "medium", "low"
_NEG, _NEU, _POS = "negative", "neutral", "positive"

# keyword -> (urgency, sentiment), from the policy's bullets and its clarifications.
KEYWORDS = MappingProxyType({
    # high: money back, disputes, legal threats, explicit urgency, security, data
    # protection, outages
    "refund": (_HIGH, _NEU), "refund request": (_HIGH, _NEU), "money back": (_HIGH, _NEU),
    "charged twice": (_HIGH, _NEU), "double charge": (_HIGH, _NEU), "double charged": (_HIGH, _NEU),
    "billed twice": (_HIGH, _NEU), "duplicate charge": (_HIGH, _NEU), "sla credit": (_HIGH, _NEU),
    "chargeback": (_HIGH, _NEG), "dispute": (_HIGH, _NEG), "payment dispute": (_HIGH, _NEG),
    "lawsuit": (_HIGH, _NEG), "lawyer": (_HIGH, _NEG), "attorney": (_HIGH, _NEG),
    "solicitor": (_HIGH, _NEG), "legal action": (_HIGH, _NEG), "legal threat": (_HIGH, _NEG),
    "sue": (_HIGH, _NEG), "small claims": (_HIGH, _NEG),
    "urgent": (_HIGH, _NEU), "asap": (_HIGH, _NEU), "emergency": (_HIGH, _NEU),
    "time-critical": (_HIGH, _NEU),
    "security": (_HIGH, _NEU), "security breach": (_HIGH, _NEU), "security issue": (_HIGH, _NEU),
    "data breach": (_HIGH, _NEU), "breach": (_HIGH, _NEU), "hacked": (_HIGH, _NEU),
    "account compromised": (_HIGH, _NEU), "data leak": (_HIGH, _NEU), "vulnerability": (_HIGH, _NEU),
    "phishing": (_HIGH, _NEU),
    "gdpr": (_HIGH, _NEU), "gdpr request": (_HIGH, _NEU), "ccpa": (_HIGH, _NEU),
    "data deletion": (_HIGH, _NEU), "right to be forgotten": (_HIGH, _NEU),
    "subject access request": (_HIGH, _NEU),
    "outage": (_HIGH, _NEU), "down": (_HIGH, _NEU), "site down": (_HIGH, _NEU),
    "service down": (_HIGH, _NEU), "data loss": (_HIGH, _NEU),
    # medium: malfunctions, access problems, cancellations, anger
    "broken": (_MEDIUM, _NEU), "error": (_MEDIUM, _NEU), "bug": (_MEDIUM, _NEU),
    "crash": (_MEDIUM, _NEU), "not working": (_MEDIUM, _NEU), "not syncing": (_MEDIUM, _NEU),
    "slow": (_MEDIUM, _NEU), "billing error": (_MEDIUM, _NEU), "wrong invoice": (_MEDIUM, _NEU),
    "login issue": (_MEDIUM, _NEU), "login problem": (_MEDIUM, _NEU), "locked out": (_MEDIUM, _NEU),
    "can't log in": (_MEDIUM, _NEU), "password reset": (_MEDIUM, _NEU), "2fa": (_MEDIUM, _NEU),
    "cancel": (_MEDIUM, _NEU), "cancellation": (_MEDIUM, _NEU), "cancel subscription": (_MEDIUM, _NEU),
    "close account": (_MEDIUM, _NEU),
    "angry": (_MEDIUM, _NEG), "furious": (_MEDIUM, _NEG), "frustrated": (_MEDIUM, _NEG),
    "annoyed": (_MEDIUM, _NEG), "upset": (_MEDIUM, _NEG), "complaint": (_MEDIUM, _NEG),
    # low: questions, guidance, ideas, feedback, thanks
    "help": (_LOW, _NEU), "question": (_LOW, _NEU), "how to": (_LOW, _NEU),
    "feature request": (_LOW, _NEU), "suggestion": (_LOW, _NEU), "feedback": (_LOW, _NEU),
    "thanks": (_LOW, _POS), "thank you": (_LOW, _POS), "praise": (_LOW, _POS),
})

_SUBJECT = re.compile(r"\s*issue\s+[a-z]{1,12}-\d+\s*:\s*(.+?)\s*", re.I)
_SENTENCE = re.compile(r"\s*this is a message about\s+(.+?)\s*\.", re.I)


class Templated(NamedTuple):
    keywords: tuple[str, ...]
    urgency: str
    sentiment: str
    requires_action: bool


def _keyword(raw: str) -> str:
    return " ".join(raw.lower().replace("\u2019", "'").split())


def read_templated(subject: str, message: str) -> Templated | None:
    """The table's labels when the ticket has the templated shape and its keywords are
    in the table; None otherwise (the engine reads it like any ticket)."""
    head = _SUBJECT.fullmatch(subject or "")
    if head is None or len(message or "") > 400:
        return None
    said = []
    pos = 0
    while pos < len(message):
        sentence = _SENTENCE.match(message, pos)
        if sentence is None:
            if message[pos:].strip():
                return None
            break
        said.append(_keyword(sentence.group(1)))
        pos = sentence.end()
    if not said or len(set(said)) != 1:
        return None
    keywords = tuple(dict.fromkeys((_keyword(head.group(1)), said[0])))
    if any(k not in KEYWORDS for k in keywords):
        return None
    labels = [KEYWORDS[k] for k in keywords]
    urgency = max((u for u, _ in labels), key=_RANK.__getitem__)
    sentiment = max((s for _, s in labels), key=_TONE.__getitem__)
    return Templated(keywords, urgency, sentiment, urgency != _LOW)
