"""The rules' reading of a ticket: which rule phrases stand, and what the rules alone make
of urgency, sentiment and requires_action, with the reasons for them.

How one ticket is read:
1. Find every rules phrase (whole words, stems) and every context cue.
2. Drop phrases a cue governs: "no need for a refund" (negation), "do you offer refunds?"
   (question), "if there is a data breach" (hypothetical), "thanks for fixing the outage"
   (resolved). Each category says which cues can cancel it.
3. Sentiment: the lexicon's valence of the remaining words plus the weight of each
   category found (a chargeback is negative however calmly it is put).
4. Urgency: the highest urgency among the categories and combinations found; a
   de-escalation ("not urgent", "no rush") lowers a medium to its cap but never a high.
5. requires_action: high urgency, or a category that needs work (a fix, a refund, a
   cancellation); else a direct request ("please update ...", "could you send ...")
   unless a category says otherwise (a feature request is not a support action).

The classifier (``classifier.py``) lets the rules decide what they are sure of and
hands everything, these conclusions included, to the learned layer as features.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Iterable, NamedTuple

from .matching import Cue, Cues, Hit, PhraseIndex, cue_for, find_all, find_cues
from .rules import URGENCIES, Category, Rules
from .sentiment import build_lexicon, but_scale, lexicon_score, normalize
from .text import Text

_RANK = MappingProxyType({u: n for n, u in enumerate(URGENCIES)})


class RuleReading(NamedTuple):
    """What the rules make of one ticket."""
    text: Text
    found: dict[str, list[Hit]]          # category name -> its phrases that stand
    cancelled: list[tuple[str, str]]     # (category, cue kind) for each phrase a cue cancelled
    ignored: list[str]                   # reasons for the cancelled phrases
    urgency: str
    urgency_reasons: list[str]
    sentiment: str
    sentiment_reason: str
    requires_action: bool
    action_reason: str
    request: bool                        # a direct request to support ("please send ...")


def _quote(words: Iterable[str]) -> str:
    return ", ".join(f"'{w}'" for w in dict.fromkeys(words))


class _Findings(NamedTuple):
    found: dict[str, list[Hit]]     # category name -> its phrases that stand
    ignored: list[str]              # reasons: phrases a cue cancelled
    cancelled_by: set[str]          # the cue kinds that cancelled something
    cancelled: list[tuple[str, str]]  # (category, cue kind)
    in_term: list[bool]             # per word: part of a rules phrase (not scored by the lexicon)
    cues: Cues


class RuleReader:
    """Reads tickets with one set of compiled rules. Immutable after construction, so one
    instance serves every thread."""

    def __init__(self, rules: Rules):
        self.rules = rules
        self.version = rules.version
        self._lexicon = build_lexicon(rules.sentiment)
        self._terms = PhraseIndex(rules.terms)
        self._cues = PhraseIndex(rules.cues)
        self._action_leads = PhraseIndex(rules.action_leads)

    def read(self, text: Text) -> RuleReading:
        """The rules' reading of a tokenized ticket. Never raises for any text."""
        findings = self._find(text)
        sentiment, sentiment_reason = self._sentiment(text, findings)
        urgency, urgency_reasons, combined_action = self._urgency(text, findings.found, sentiment)
        requires_action, action_reason = self._requires_action(urgency, findings, combined_action, text)
        request = action_reason.startswith("requires_action: asks support")
        return RuleReading(text, findings.found, findings.cancelled, findings.ignored, urgency, urgency_reasons,
                           sentiment, sentiment_reason, requires_action, action_reason, request)

    def _find(self, text: Text) -> _Findings:
        """The rules' phrases in the text, minus those a context cue cancels."""
        rules = self.rules
        cues = find_cues(self._cues, text, rules.max_gap)
        found: dict[str, list[Hit]] = {}
        ignored: list[str] = []
        cancelled_by: set[str] = set()
        cancelled: list[tuple[str, str]] = []
        in_term = [False] * len(text)
        for hit in find_all(self._terms, text, rules.max_gap):
            for i in range(hit.start, hit.end):
                in_term[i] = True
            if not hit.pattern.owner:   # an ignore phrase: it only hides what it covers
                continue
            category = rules.categories[hit.pattern.owner]
            cue = self._governing_cue(hit, category, cues, text)
            if cue is None:
                found.setdefault(category.name, []).append(hit)
            else:
                cancelled_by.add(cue.kind)
                cancelled.append((category.name, cue.kind))
                ignored.append(f"ignored {category.label} '{text.surface(hit.start, hit.end)}': "
                               f"{rules.cue_kinds[cue.kind].label} ('{text.surface(cue.start, cue.end)}')")
        return _Findings(found, ignored, cancelled_by, cancelled, in_term, cues)

    def _governing_cue(self, hit: Hit, category: Category, cues: Cues, text: Text) -> Cue | None:
        for kind_name in category.suppressed_by:
            cue = cue_for(hit.start, hit.end, self.rules.cue_kinds[kind_name], cues, text, self.rules.fillers)
            if cue is not None:
                return cue
        return None

    def _sentiment(self, text: Text, findings: _Findings) -> tuple[str, str]:
        """Lexicon valence of the words outside rules phrases, plus each category's weight."""
        rules = self.rules
        scale = but_scale(text)
        negation = rules.cue_kinds[rules.negation_kind]
        lexical, contributors = lexicon_score(
            text, self._lexicon, rules.sentiment, findings.in_term,
            lambda i: cue_for(i, i + 1, negation, findings.cues, text, rules.fillers) is not None, scale)
        domain = 0.0
        parts = []
        for name, hits in findings.found.items():
            category = rules.categories[name]
            if category.sentiment:
                weight = category.sentiment * max(scale[h.start] for h in hits)
                domain += weight
                parts.append(f"{category.label} {weight:+.1f}")
        for kind_name in sorted(findings.cancelled_by):   # "thanks for fixing the outage" is good news
            kind = rules.cue_kinds[kind_name]
            if kind.sentiment:
                domain += kind.sentiment
                parts.append(f"{kind.label} {kind.sentiment:+.1f}")
        score = normalize(lexical + domain)
        if score <= rules.sentiment.negative_at_or_below:
            sentiment = "negative"
        elif score >= rules.sentiment.positive_at_or_above:
            sentiment = "positive"
        else:
            sentiment = "neutral"
        top = sorted(contributors, key=lambda c: -abs(c[1]))[:3]
        detail = f"lexicon {lexical:+.1f}" + (f" ({_quote(w for w, _ in top)})" if top else "")
        if parts:
            detail += f"; domain: {', '.join(parts)}"
        return sentiment, f"sentiment={sentiment} (score {score:+.2f}): {detail}"

    def _urgency(self, text: Text, found: dict[str, list[Hit]],
                 sentiment: str) -> tuple[str, list[str], bool | None]:
        """The highest urgency any category or combination asks for, after a customer's
        de-escalation (which lowers a medium, never a high); with the reasons, and what
        the combinations that applied say about action."""
        rules = self.rules
        signals: list[tuple[str, str, str]] = []   # (urgency, label, evidence)
        for name, hits in found.items():
            category = rules.categories[name]
            if category.urgency is not None:
                signals.append((category.urgency, category.label, _quote(text.surface(h.start, h.end) for h in hits)))
        combined_action = None
        for combo in rules.combinations:
            if not all(group & found.keys() for group in combo.requires):
                continue
            if combo.sentiment is not None and combo.sentiment != sentiment:
                continue
            evidence = " + ".join("/".join(rules.categories[n].label for n in sorted(group & found.keys()))
                                  for group in combo.requires)
            if combo.sentiment:
                evidence += f", {sentiment} tone"
            if combo.urgency is not None:
                signals.append((combo.urgency, combo.label, evidence))
            if combo.requires_action is not None:
                combined_action = combined_action or combo.requires_action
        urgency = max((s[0] for s in signals), key=_RANK.__getitem__, default="low")

        reasons = [f"urgency={u}: {label} ({evidence})" for u, label, evidence in signals if u == urgency]
        caps = [(rules.categories[n], hits) for n, hits in found.items() if rules.categories[n].cap_urgency]
        if caps and urgency != "high":
            category, hits = min(caps, key=lambda c: _RANK[c[0].cap_urgency])
            if _RANK[category.cap_urgency] < _RANK[urgency]:
                reasons = [f"urgency={category.cap_urgency}, lowered from {urgency}: {category.label} "
                           f"({_quote(text.surface(h.start, h.end) for h in hits)})"]
                urgency = category.cap_urgency
        if not reasons:
            reasons = ["urgency=low: no problem, request or urgency signal"]
        reasons += [f"also: {label} ({evidence}) suggests {u}" for u, label, evidence in signals if u != urgency]
        return urgency, reasons, combined_action

    def _requires_action(self, urgency: str, findings: _Findings, combined: bool | None,
                         text: Text) -> tuple[bool, str]:
        """High urgency or a category that needs work: yes. Otherwise a category that says
        no (a feature request) wins over a polite request; a direct request is a yes."""
        categories = self.rules.categories
        if urgency == "high":
            return True, "requires_action: high urgency"
        needing = [categories[n].label for n in findings.found if categories[n].requires_action]
        if needing or combined:
            return True, f"requires_action: {', '.join(needing) or 'combined signals'}"
        declining = [categories[n].label for n in findings.found if categories[n].requires_action is False]
        if declining:
            return False, f"no action: {', '.join(declining)}"
        request = self._direct_request(findings.cues, text)
        if request:
            return True, f"requires_action: asks support to act ('{request}')"
        return False, "no action: nothing asked of support"

    def _direct_request(self, cues: Cues, text: Text) -> str | None:
        """A request to do something ("please update", "could you send"), not a question
        ("could you tell me") and not negated ("you don't need to change anything")."""
        rules = self.rules
        negation = rules.cue_kinds[rules.negation_kind]
        stems, clauses = text.stems, text.clauses
        for lead in find_all(self._action_leads, text, 0, stemmed=False):
            for j in range(lead.end, min(lead.end + rules.action_window, len(stems))):
                if clauses[j] != clauses[lead.start]:
                    break
                if stems[j] in rules.action_verbs:
                    if cue_for(j, j + 1, negation, cues, text, rules.fillers) is None:
                        return text.surface(lead.start, j + 1)
                    break
        return None
