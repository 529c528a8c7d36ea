"""The policy's structure in the output, and what reasons, keywords and signals say."""
from __future__ import annotations

import re

import pytest

from ticketsvc.classification.train import load_corpus

REASON = re.compile(r"urgency=(high|medium|low): (rule: .+|model: ('.+' [+-]\d+\.\d(, )?)+ -> \1 \(p=[01]\.\d\d"
                    r"(, high from 0\.\d\d)?\)"
                    r"|model: no strong feature -> \1 \(p=[01]\.\d\d\))")


@pytest.fixture(scope="module")
def corpus_results(classifier):
    return [(t, classifier.classify(t["subject"], t["message"])) for t in load_corpus()]


def test_every_high_or_medium_ticket_requires_action(corpus_results):
    assert all(r.requires_action for _, r in corpus_results if r.urgency in ("high", "medium"))


def test_the_first_reason_names_the_rule_or_the_weighed_features(corpus_results):
    for ticket, result in corpus_results:
        assert REASON.fullmatch(result.reasons[0]), (ticket["id"], result.reasons[0])
        assert result.reasons[1].startswith(f"sentiment={result.sentiment}: ")


def test_model_reasons_quote_the_customers_words_with_their_weight(classifier):
    result = classifier.classify("Invoice", "Our solicitors will be writing to you about the contested invoice.")
    assert result.urgency == "high"
    assert re.search(r"'[a-z ]+' \+\d\.\d", result.reasons[0]), result.reasons


@pytest.mark.parametrize("subject, message, urgency", [
    ("Export", "The export is broken and I want my money back.", "high"),
    ("Issue ext-77: thanks", "This is a message about lawyer. " * 3, "high"),
    ("Thanks", "Thanks for the help, but the app still crashes on start.", "medium"),
])
def test_strongest_signal_wins(classifier, subject, message, urgency):
    assert classifier.classify(subject, message).urgency == urgency


def test_signals_are_categories_and_keywords_are_what_the_customer_wrote(classifier):
    result = classifier.classify("Refund still not received", "The API has returned 503 for every call since noon.")
    assert "refund" in result.signals and "outage" in result.signals
    assert "503" in result.keywords and all(k in "refund still not received the api has returned 503" for k in result.keywords)


@pytest.mark.parametrize("subject, message", [
    ("Issue ext-503: login issue", "Since this morning I get an 'invalid password' error, can you check my account?"),
    ("Order #1432", "Where can I find the delivery date for order 503?"),
])
def test_ids_and_numbers_are_not_content(classifier, subject, message):
    result = classifier.classify(subject, message)
    assert result.urgency != "high" and "outage" not in result.signals
    assert not any(k.isdigit() for k in result.keywords)


def test_quoted_lines_and_signature_boilerplate_are_not_the_customers_words(classifier):
    quoted = classifier.classify("Re: invoice", "All sorted now, thank you!\n\n> I will sue you and file a chargeback.\n"
                                                "> This is URGENT.")
    assert quoted.urgency == "low" and quoted.sentiment == "positive"
    footer = classifier.classify("Team photo", "Here is the photo from the offsite, enjoy.\n\nCONFIDENTIAL: if you "
                                               "received this email in error, notify the sender immediately.")
    assert footer.urgency == "low"


def test_misspelled_urgency_is_urgency(classifier):
    assert classifier.classify("pleaes help", "Pleaes help urgnetly, the invoice run is stuck").urgency == "high"
