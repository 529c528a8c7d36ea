"""Realistic support-ticket texts, each with the label a support expert would give it.

The labels (``urgency``, ``sentiment``, ``requires_action``) are never served over HTTP:
they are ground truth for evaluating the service's classifier. ``requires_action`` means
the team has to change or investigate something (a refund, a fix, a deletion, an access
change), not merely answer a question or say thanks.

Placeholders in ``{braces}`` are filled from seeded values by ``render``; a subject and
its message share one set of values.
"""
from __future__ import annotations

import random
from types import MappingProxyType
from typing import NamedTuple

URGENCIES = ("high", "medium", "low")
SENTIMENTS = ("negative", "neutral", "positive")


class TicketTemplate(NamedTuple):
    category: str
    subject: str
    message: str
    urgency: str
    sentiment: str
    requires_action: bool


T = TicketTemplate

TEMPLATES: tuple[TicketTemplate, ...] = (
    # --- high urgency -------------------------------------------------------------
    T("legal_threat", "I will sue your company",
      "This is unacceptable. You charged us {amount} for a service that has not worked {when}. "
      "If this is not fixed by Friday I will sue, and my lawyer is already drafting the letter.",
      "high", "negative", True),
    T("legal_threat", "Formal notice from our attorney regarding invoice {invoice}",
      "Our attorney has reviewed the breach of contract on invoice {invoice}. Expect a lawsuit "
      "unless we receive a full refund of {amount} within {days} days.",
      "high", "negative", True),
    T("legal_threat", "Taking legal action",
      "Three weeks without a working export and nobody answers my emails. I am talking to a "
      "lawyer about taking legal action against you.",
      "high", "negative", True),
    T("security_incident", "Security breach - someone accessed our admin account",
      "We found logins to our admin account from an unknown IP address {when}, and {users} "
      "customer records were exported. Please lock the account and tell us what happened.",
      "high", "negative", True),
    T("security_incident", "Possible data breach: other companies' invoices visible",
      "One of our users can see invoices from another company in {product}. This looks like a "
      "data leak. Please investigate immediately.",
      "high", "negative", True),
    T("security_incident", "Vulnerability report: password reset token leak",
      "Hello, I am a security researcher. The password reset link exposes the reset token to "
      "third parties, which lets an attacker take over any account. I can share the details "
      "privately with your security team.",
      "high", "neutral", True),
    T("security_incident", "Account hacked - password and email changed",
      "Someone changed my password and my email address. I cannot log in and I see purchases "
      "I did not make. Please lock my account now.",
      "high", "negative", True),
    T("outage", "Service is down",
      "The service is down for our whole team {when}. We get {error} on every page and {users} "
      "agents cannot work.",
      "high", "negative", True),
    T("outage", "Site not loading",
      "Your site is not loading at all, we only get {error}. Our customers cannot place orders. "
      "Please help ASAP.",
      "high", "negative", True),
    T("outage", "API returning 503 for every request",
      "Since {when} every call to your API returns 503 Service Unavailable. Our production "
      "integration is completely broken.",
      "high", "negative", True),
    T("explicit_urgency", "URGENT: {product} stopped syncing before payroll",
      "URGENT - {product} stopped syncing and we have to run payroll today. We need this fixed "
      "within the hour.",
      "high", "negative", True),
    T("chargeback", "Chargeback filed for order {order}",
      "I have filed a chargeback with my bank for {amount} because you ignored my refund "
      "requests for {days} days.",
      "high", "negative", True),
    T("payment_dispute", "Disputing an unauthorized charge of {amount}",
      "I did not authorize the {amount} charge on my card ending {card}. If it is not reversed "
      "today I will dispute it with my bank.",
      "high", "negative", True),
    # Refund demands and double charges are high: money is leaving the customer (the
    # ticketsvc contract, issue 4: "strong signals decide").
    # --- medium urgency -----------------------------------------------------------
    T("refund_request", "Refund request for order {order}",
      "I was charged {amount} for the {plan} plan although I cancelled before the renewal. "
      "Please refund me.",
      "high", "negative", True),
    T("refund_request", "I want my money back",
      "{product} has been useless for weeks. I want a full refund of {amount}, this is "
      "ridiculous.",
      "high", "negative", True),
    T("refund_request", "Refund still not received",
      "You promised a refund of {amount} {days} days ago but it has not arrived yet. Can you "
      "check what happened?",
      "high", "negative", True),
    T("double_charge", "Charged twice this month",
      "My card ending {card} was charged twice for invoice {invoice}, {amount} each time. "
      "Please refund the duplicate payment.",
      "high", "negative", True),
    T("double_charge", "Duplicate payment for order {order}",
      "It looks like the payment for order {order} went through two times. Could you reverse "
      "one of them?",
      "high", "neutral", True),
    T("broken_feature", "Export to CSV fails",
      "When I export more than {users} rows, {product} shows {error}. It worked fine last week.",
      "medium", "negative", True),
    T("broken_feature", "Email notifications not arriving",
      "Email notifications stopped arriving {when}. We rely on them to learn about new orders.",
      "medium", "negative", True),
    T("broken_feature", "Search returns the wrong records",
      "Searching for a customer name returns unrelated records. This makes the tool very hard "
      "to use.",
      "medium", "negative", True),
    T("broken_feature", "Mobile app crashes on launch",
      "Since the latest update the mobile app crashes as soon as I open it. I am on Android 14.",
      "medium", "negative", True),
    T("broken_feature", "Dashboard extremely slow",
      "Loading the dashboard takes over a minute {when} and the reports time out.",
      "medium", "negative", True),
    T("broken_feature", "Contacts missing after import",
      "I imported {users} contacts yesterday but only half of them show up. Where did the rest "
      "go?",
      "medium", "negative", True),
    T("login_problem", "Cannot log in",
      "I keep getting 'invalid password' even after resetting it twice. Can you check my "
      "account?",
      "medium", "negative", True),
    T("login_problem", "Two-factor code not accepted",
      "My authenticator codes have been rejected {when} and I am locked out of my account.",
      "medium", "negative", True),
    T("cancellation", "Cancel my subscription",
      "Please cancel my {plan} subscription at the end of this billing period. We have moved "
      "to another tool.",
      "medium", "neutral", True),
    T("cancellation", "Cancelling because of too many bugs",
      "We are cancelling our account: too many bugs and slow support. Please confirm and stop "
      "all future charges.",
      "medium", "negative", True),
    # GDPR and data-protection requests are high: they carry legal deadlines.
    T("gdpr_request", "GDPR data deletion request",
      "Under Article 17 of the GDPR I request the deletion of all personal data you hold about "
      "me, including the account of {name}. Please confirm when it is done.",
      "high", "neutral", True),
    T("gdpr_request", "Request for a copy of my personal data",
      "Please send me a copy of all the personal data you store about me. This is a GDPR "
      "subject access request.",
      "high", "neutral", True),
    T("billing_issue", "Invoice {invoice} shows the wrong amount",
      "Invoice {invoice} says {amount} but we are on the {plan} plan, which should be cheaper. "
      "Can you correct it?",
      "medium", "neutral", True),
    T("billing_issue", "Payment keeps failing on renewal",
      "Our card is declined when we try to renew the {plan} plan, although the bank says "
      "everything is fine. We do not want the account to be suspended.",
      "medium", "negative", True),
    # --- low urgency ----------------------------------------------------------------
    T("how_to", "How do I download invoices?",
      "How do I download invoices for past months? Our accountant needs them.",
      "low", "neutral", False),
    T("how_to", "How to add a user",
      "Hi, how can I add a new user to our workspace? I could not find it in the settings.",
      "low", "neutral", False),
    T("how_to", "Question about API rate limits",
      "What are the API rate limits on the {plan} plan?",
      "low", "neutral", False),
    T("how_to", "Issue ext-{ext}: question about export",
      "Quick question about the export: can I choose which columns end up in the CSV file?",
      "low", "neutral", False),
    T("how_to", "Guide for the calendar integration?",
      "Is there a guide for connecting {product} to Google Calendar?",
      "low", "neutral", False),
    T("how_to", "Download link for the desktop app",
      "Where can I download the desktop app for Mac?",
      "low", "neutral", False),
    T("billing_question", "Is the annual plan refundable?",
      "We are thinking of switching to the annual {plan} plan. Is it refundable if we cancel "
      "halfway through the year?",
      "low", "neutral", False),
    T("billing_question", "Which payment methods do you accept?",
      "Do you accept bank transfers, or only credit cards, for the {plan} plan?",
      "low", "neutral", False),
    T("billing_question", "When is my next billing date?",
      "Could you tell me when the next payment for our {plan} subscription will be taken?",
      "low", "neutral", False),
    T("billing_question", "Can I change my plan later?",
      "If we start on the {plan} plan, can we upgrade or downgrade later without losing data?",
      "low", "neutral", False),
    T("minor_fix", "Not urgent, but our logo looks blurry",
      "Not urgent, but our logo looks blurry on the invoice PDF. Could you take a look when you "
      "have time?",
      "low", "neutral", True),
    T("minor_fix", "No need for a refund, just a corrected invoice",
      "No need for a refund, just send us a corrected invoice {invoice} with our new VAT number.",
      "low", "neutral", True),
    T("minor_fix", "Not urgent: typo in the help center",
      "Not urgent at all, I just noticed a typo in the help center article about {feature}.",
      "low", "neutral", True),
    T("access_request", "Admin access for a new team member",
      "Please give {name} admin access to our workspace, they started today.",
      "low", "neutral", True),
    T("compliance_request", "Our lawyer asks for your DPA",
      "Our lawyer needs a signed copy of your Data Processing Agreement before we renew. Can "
      "you send it?",
      "low", "neutral", True),
    T("compliance_request", "Security questionnaire for our vendor audit",
      "Our security team needs you to fill in a vendor questionnaire (encryption at rest, "
      "breach notification process, SOC 2). Can you help?",
      "low", "neutral", True),
    T("feature_request", "Feature request: {feature}",
      "It would be great if you added {feature}. Our team would use it every day.",
      "low", "neutral", False),
    T("feature_request", "Suggestion for the reports page",
      "Could the reports page remember my last filter? A small thing, but it would save us time.",
      "low", "neutral", False),
    T("thanks", "Thank you!",
      "Just wanted to say thanks to {name} for the quick help {when}. Great support!",
      "low", "positive", False),
    T("thanks", "Love the new dashboard",
      "The new dashboard is fantastic, it saves us hours every week. Keep it up!",
      "low", "positive", False),
    T("thanks", "Thanks for fixing the outage",
      "Thanks for fixing the outage so quickly yesterday, everything works perfectly now.",
      "low", "positive", False),
    T("thanks", "Great product, one question",
      "We have been happy customers for {months} months. Is there a way to export reports as "
      "PDF?",
      "low", "positive", False),
)

del T

_CHOICES = MappingProxyType({
    "name": ("Maria", "James", "Aiko", "Omar", "Lena", "Carlos", "Priya", "Tom", "Fatima", "Jonas"),
    "when": ("since this morning", "since yesterday", "since last night", "for the past two hours",
             "all day today"),
    "product": ("the dashboard", "the mobile app", "the reporting module", "the CSV export",
                "the calendar integration", "the billing portal"),
    "feature": ("dark mode", "single sign-on with Okta", "bulk editing", "a Slack integration",
                "custom fields", "scheduled reports"),
    "plan": ("Starter", "Pro", "Business", "Enterprise"),
    "error": ("error 500", "ERR_CONNECTION_TIMED_OUT", "a blank white page",
              "'Something went wrong'", "502 Bad Gateway"),
    "users": ("5", "12", "25", "40", "120", "300", "1500"),
})

_GENERATED = MappingProxyType({
    "amount": lambda rng: f"${rng.randint(9, 899)}.{rng.choice(('00', '49', '50', '99'))}",
    "invoice": lambda rng: f"INV-{rng.randint(10000, 99999)}",
    "order": lambda rng: f"#{rng.randint(100000, 999999)}",
    "days": lambda rng: str(rng.randint(3, 21)),
    "months": lambda rng: str(rng.randint(2, 36)),
    "card": lambda rng: f"{rng.randint(0, 9999):04d}",
    "ext": lambda rng: str(rng.randint(100, 999)),
})


class _SeededValues(dict):
    """Placeholder values drawn on first use, so a ticket spends randomness only on its own fields."""

    def __init__(self, rng: random.Random):
        super().__init__()
        self._rng = rng

    def __missing__(self, key: str) -> str:
        if key in _CHOICES:
            value = self._rng.choice(_CHOICES[key])
        else:
            value = _GENERATED[key](self._rng)
        self[key] = value
        return value


def render(template: TicketTemplate, rng: random.Random) -> tuple[str, str]:
    """The template's (subject, message) with placeholders filled from ``rng``."""
    values = _SeededValues(rng)
    return template.subject.format_map(values), template.message.format_map(values)


def by_urgency() -> dict[str, tuple[TicketTemplate, ...]]:
    """Templates grouped by their urgency label."""
    return {u: tuple(t for t in TEMPLATES if t.urgency == u) for u in URGENCIES}


def labelled_examples(seed: int = 0, per_template: int = 1) -> list[dict]:
    """Rendered tickets with their expert labels: an evaluation set for a classifier."""
    rng = random.Random(seed)
    examples = []
    for template in TEMPLATES:
        for _ in range(per_template):
            subject, message = render(template, rng)
            examples.append({
                "subject": subject,
                "message": message,
                "category": template.category,
                "urgency": template.urgency,
                "sentiment": template.sentiment,
                "requires_action": template.requires_action,
            })
    return examples
