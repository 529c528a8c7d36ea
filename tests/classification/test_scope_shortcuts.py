"""The reading scope's shortcuts give exactly what the plain passes give, on any text:
``neutral_ids`` runs its three patterns only around digits (hypothesis draws texts dense
with digits, currencies, the nouns ids follow, separators and odd whitespace),
boilerplate is looked for only near the words its phrases hold, and ``respell`` looks for
candidates in the lower-cased text without case folding."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from ticketsvc.classification import scope, spelling

# What ids and amounts are made of, and what could fool a shortcut: words around digits,
# separators, currency words and symbols, every kind of whitespace, non-ASCII digits.
_PIECES = st.sampled_from([
    "0", "7", "12", "503", "1432", "2024", "19.99", "1,000", "\u0663", "\uff15",
    "$", "\u20ac", "\u00a3", "usd", "EUR", "dollars", "euro", "k", "M",
    "order", "ticket", "No", "ref", "issue", "invoice", "INV", "ext", "PO", "A1B2C3",
    "a", "refund", "site", "down", "abc",
    "#", "-", "/", "_", ".", ",", ":", "'",
    " ", " ", " ", "  ", "\n", "\t", "\u00a0", "\u2003",
])
_TEXTS = st.lists(_PIECES, max_size=40).map("".join)


def _plain(text: str) -> str:
    """The three passes over the whole text, as ``neutral_ids`` defines them."""
    if not scope._DIGIT.search(text):
        return text
    return scope._neutral(text)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXTS)
def test_neutral_ids_around_digits_equals_the_passes_over_the_whole_text(text):
    assert scope.neutral_ids(text) == _plain(text)


def test_neutral_ids_keeps_text_between_the_ids():
    text = "Order #1432 was charged $19.99 twice.\n\nSee INV-2024-0012, ticket 88 and ext-503 here."
    assert scope.neutral_ids(text) == _plain(text)
    assert scope.neutral_ids(text) == ("Order #idnum was charged  amount  twice.\n\n"
                                       "See idnum, ticket idnum and idnum here.")


_WORDS = st.lists(st.sampled_from([
    "urgnetly", "Urgnetly", "URGNETLY", "emergancy", "imediately", "atorney", "refnud", "pleaes", "please",
    "plea", "layer", "x_urgnetly", "9urgnetly", "urgnetly9", "re", "refunding", "fruious", "\u017fo", "caf\u00e9",
    "\u212aurgnetly", "urg\u212aently", "\u0130mediately", "\u00c9mergancy", "\u2019",
    " ", " ", "  ", "\n", "-", "_", ".", "'", "!",
]), max_size=30).map("".join)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_WORDS)
def test_respell_on_lower_cased_text_equals_the_case_folding_pattern(text):
    assert spelling.respell(text) == spelling._CANDIDATE.sub(
        lambda m: spelling.correction(m.group()) or m.group(), text)


_LINES = st.lists(st.sampled_from([
    "Disclaimer", "disclaimers", "  DISCLAIMER:", "intended", "only for the", "use of the", "named", "recipient",
    "received this", "e-mail", "email", "message", "in error", "notify the sender", "legally", "privileged",
    "and", "confidential", "confidentiality", "notice", "subject to legal privilege", "legal", "any", "Any",
    "unauthorised", "unauthorized", "review", "use", "copying", "this", "attachments", "is", "may be",
    "refund", "x" * 90, "caf\u00e9", "\u0130", "\u0131ntended", "unauthori\u017fed", "\u212a",
    " ", " ", "  ", "\n", "\t", ".", ",",
]), max_size=30).map(" ".join)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES)
def test_boilerplate_looked_for_near_its_words_is_found_as_by_the_whole_pattern(text):
    assert scope._has_boilerplate(text) == (scope._BOILERPLATE.search(text) is not None)
    assert scope._may_be_boilerplate(text) == (scope._BOILERPLATE_WORDS_RE.search(text) is not None)
