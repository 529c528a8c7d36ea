import random
import re

from mock_api.templates import SENTIMENTS, TEMPLATES, URGENCIES, labelled_examples, render

PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def test_there_are_forty_to_sixty_templates_with_valid_labels():
    assert 40 <= len(TEMPLATES) <= 60
    for template in TEMPLATES:
        assert template.urgency in URGENCIES
        assert template.sentiment in SENTIMENTS
        assert isinstance(template.requires_action, bool)


def test_templates_cover_the_required_categories():
    categories = {t.category for t in TEMPLATES}
    assert {
        "refund_request", "chargeback", "payment_dispute", "double_charge", "legal_threat",
        "security_incident", "gdpr_request", "outage", "explicit_urgency", "broken_feature",
        "login_problem", "cancellation", "billing_question", "how_to", "feature_request", "thanks",
    } <= categories


def test_tricky_templates_are_present_and_labelled_low():
    subjects = {t.subject: t for t in TEMPLATES}
    for subject in ("Issue ext-{ext}: question about export", "How do I download invoices?",
                    "Is the annual plan refundable?"):
        assert subjects[subject].urgency == "low"
    assert any(t.message.startswith("Not urgent, but") and t.urgency == "low" for t in TEMPLATES)
    assert any(t.message.startswith("No need for a refund, just") and t.urgency == "low" for t in TEMPLATES)


def test_legal_threat_texts_use_the_words_a_classifier_looks_for():
    legal = " ".join(t.subject + " " + t.message for t in TEMPLATES if t.category == "legal_threat").lower()
    for word in ("lawsuit", "lawyer", "attorney", "sue"):
        assert word in legal


def test_render_fills_every_placeholder_the_same_way_for_the_same_seed():
    for template in TEMPLATES:
        first = render(template, random.Random(3))
        assert first == render(template, random.Random(3))
        assert not PLACEHOLDER.search(first[0] + first[1])


def test_subject_and_message_share_placeholder_values():
    template = next(t for t in TEMPLATES if t.subject == "Duplicate payment for order {order}")
    subject, message = render(template, random.Random(1))
    order = subject.rsplit(" ", 1)[1]
    assert order.startswith("#") and order in message


def test_labelled_examples_carry_the_expert_labels():
    examples = labelled_examples(seed=1, per_template=2)
    assert len(examples) == 2 * len(TEMPLATES)
    assert set(examples[0]) == {"subject", "message", "category", "urgency", "sentiment", "requires_action"}
