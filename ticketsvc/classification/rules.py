"""The classification rules: read from TOML, validated, compiled into immutable lookup tables.

Everything an operator tunes lives in the rules file (see ``rules.toml`` for the format);
this module only checks it and turns it into indexes the classifier can use from many
threads at once. Any problem stops loading with a ``RulesError`` naming the bad key.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tomllib
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from .packaged import read_data_file
from .text import expand, phrase_pattern

# Bumped when the engine's behaviour changes for the same rules, so stored tickets carry a
# version that says "classified differently" and get reclassified.
ENGINE_VERSION = "1"

URGENCIES = ("low", "medium", "high")
SENTIMENTS = ("negative", "neutral", "positive")
DIRECTIONS = ("before", "after")
DEFAULT_RULES = "rules.toml"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_INDEXED = re.compile(r"^(.*?)((?:\[\d+\])*)$", re.S)


class RulesError(ValueError):
    """The rules file cannot be used. ``key`` is the dotted path of the offending key
    (empty when the file as a whole is unreadable)."""

    def __init__(self, source: str, key: str, problem: str):
        self.source = source
        self.key = key
        self.problem = problem
        super().__init__(f"{source}: {key}: {problem}" if key else f"{source}: {problem}")


@dataclass(frozen=True)
class Pattern:
    """A phrase as stems (terms) or words (cues); None stands for a gap of up to
    ``max_gap`` words."""
    stems: tuple[str | None, ...]
    phrase: str
    owner: str          # category name, cue kind, "ignore" or "action"
    keyword: str = ""   # canonical keyword (categories only)


@dataclass(frozen=True)
class Category:
    name: str
    label: str
    urgency: str | None
    sentiment: float
    requires_action: bool | None
    cap_urgency: str | None
    keywords: bool
    suppressed_by: tuple[str, ...]


@dataclass(frozen=True)
class CueKind:
    name: str
    label: str
    direction: str
    window: int
    fillers_only: bool
    questions_only: bool
    sentiment: float    # added once when a cue of this kind cancels a phrase


@dataclass(frozen=True)
class Combination:
    label: str
    requires: tuple[frozenset[str], ...]
    sentiment: str | None
    urgency: str | None
    requires_action: bool | None


@dataclass(frozen=True)
class SentimentRules:
    negative_at_or_below: float
    positive_at_or_above: float
    lexicon_weight: float
    negated_positive_factor: float
    negated_negative_factor: float
    lexicon_overrides: Mapping[str, float]


@dataclass(frozen=True)
class Rules:
    source: str
    version: str
    max_gap: int
    fillers: frozenset[str]
    categories: Mapping[str, Category]
    terms: Mapping[Any, tuple[Pattern, ...]]       # see _index
    cue_kinds: Mapping[str, CueKind]
    cues: Mapping[Any, tuple[Pattern, ...]]         # words, not stems: "note" is not "not"
    negation_kind: str
    action_leads: Mapping[Any, tuple[Pattern, ...]]   # words
    action_verbs: frozenset[str]
    action_window: int
    sentiment: SentimentRules
    combinations: tuple[Combination, ...]


def load_rules(path: str | os.PathLike | None = None) -> Rules:
    """Read, validate and compile a rules file (the packaged default when ``path`` is
    empty). Raises RulesError naming the file and the bad key."""
    try:
        source, data = read_data_file(path, DEFAULT_RULES)
    except OSError as exc:
        raise RulesError(str(exc.filename), "", f"cannot read rules file ({exc.strerror or exc})") from exc
    return parse_rules(data, source)


def parse_rules(data: bytes | str, source: str = "<rules>") -> Rules:
    """Validate and compile rules given as TOML text."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulesError(source, "", f"not valid TOML ({exc})") from exc
    return _compile(doc, source)


def rules_version(doc: Mapping[str, Any]) -> str:
    """A short hash of the rules' content (not their layout or comments) and the engine."""
    canonical = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    digest = hashlib.sha256(f"{ENGINE_VERSION}\n{canonical}".encode()).hexdigest()
    return f"rules-{digest[:8]}"


class _Table:
    """One TOML table being validated: typed getters that remember which keys were read,
    and ``done()`` that rejects any key nobody asked for."""

    def __init__(self, value: Any, path: str, source: str):
        self.source = source
        self.path = path
        if not isinstance(value, dict):
            self.fail("", f"expected a table, got {_kind(value)}")
        self.value = value
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        """Dotted path of ``name`` (which may end in list indexes, "terms[3]"), quoting
        keys TOML would quote."""
        base, index = _INDEXED.match(name).groups()
        if not _BARE_KEY.match(base):
            base = json.dumps(base, ensure_ascii=False)
        return f"{self.path}.{base}{index}" if self.path else base + index

    def fail(self, name: str, problem: str):
        raise RulesError(self.source, self.key(name) if name else self.path or "(top level)", problem)

    def get(self, name: str, required: bool) -> Any:
        self.seen.add(name)
        if name not in self.value:
            if required:
                self.fail(name, "required key is missing")
            return None
        return self.value[name]

    def table(self, name: str, required: bool = True) -> "_Table | None":
        value = self.get(name, required)
        return None if value is None else _Table(value, self.key(name), self.source)

    def string(self, name: str, required: bool = True) -> str | None:
        value = self.get(name, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(name, f"expected a non-empty string, got {_kind(value)}")
        return value.strip()

    def choice(self, name: str, options: tuple[str, ...], required: bool = True) -> str | None:
        value = self.get(name, required)
        if value is None:
            return None
        if value not in options:
            self.fail(name, f"expected one of {', '.join(options)}, got {value!r}")
        return value

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        value = self.get(name, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(name, f"expected true or false, got {_kind(value)}")
        return value

    def number(self, name: str, low: float, high: float, default: float | None = None,
               integer: bool = False) -> float:
        value = self.get(name, default is None)
        if value is None:
            return default
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok or not math.isfinite(value) or not low <= value <= high:
            kind = "an integer" if integer else "a number"
            self.fail(name, f"expected {kind} from {low} to {high}, got {value!r}")
        return value

    def strings(self, name: str, required: bool = True) -> tuple[str, ...]:
        value = self.get(name, required)
        if value is None:
            return ()
        return _string_list(value, self.key(name), self.source)

    def done(self) -> None:
        unknown = sorted(set(self.value) - self.seen)
        if unknown:
            self.fail(unknown[0], "unknown key" + (f" (also: {', '.join(unknown[1:])})" if unknown[1:] else ""))


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _string_list(value: Any, path: str, source: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise RulesError(source, path, f"expected a list of strings, got {_kind(value)}")
    if not value:
        raise RulesError(source, path, "must not be empty")
    out = []
    for n, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise RulesError(source, f"{path}[{n}]", f"expected a non-empty string, got {_kind(item)}")
        out.append(item.strip())
    return tuple(out)


_GROUP = re.compile(r"\(([^()]*)\)")
MAX_EXPANSIONS = 2000


def expand_alternatives(phrase: str, path: str, source: str) -> list[str]:
    """"(all|every) * (users|clients)" -> the four phrases it stands for. An empty
    alternative makes a word optional: "(is|) down"."""
    parts = _GROUP.split(phrase)
    if "(" in "".join(parts[::2]) or ")" in "".join(parts[::2]):
        raise RulesError(source, path, f"phrase {phrase!r} has unbalanced or nested parentheses")
    variants = [""]
    for n, part in enumerate(parts):
        options = part.split("|") if n % 2 else [part]
        if n % 2 and len(options) < 2:
            raise RulesError(source, path, f"phrase {phrase!r}: a group needs alternatives separated by '|'")
        variants = [v + o for v in variants for o in options]
        if len(variants) > MAX_EXPANSIONS:
            raise RulesError(source, path, f"phrase {phrase!r} expands to more than {MAX_EXPANSIONS} phrases")
    return [" ".join(v.split()) for v in variants]


def _patterns(phrase: str, owner: str, path: str, source: str, keyword: str = "",
              stemmed: bool = True) -> list[Pattern]:
    return [_pattern(p, owner, path, source, keyword, stemmed) for p in expand_alternatives(phrase, path, source)]


def _pattern(phrase: str, owner: str, path: str, source: str, keyword: str = "",
             stemmed: bool = True) -> Pattern:
    stems = phrase_pattern(phrase, stemmed)
    if not any(stems):
        raise RulesError(source, path, f"phrase {phrase!r} has no words")
    if stems[0] is None or stems[-1] is None:
        raise RulesError(source, path, f"phrase {phrase!r} must not start or end with '*'")
    if any(a is None and b is None for a, b in zip(stems, stems[1:])):
        raise RulesError(source, path, f"phrase {phrase!r} has two gaps in a row")
    return Pattern(stems, phrase, owner, keyword)


def _index(patterns: list[Pattern]) -> Mapping[Any, tuple[Pattern, ...]]:
    """Patterns by their first stem, or by their first two stems when the second is a
    word: a ticket word then only tries the few phrases that can start there."""
    groups: dict[Any, list[Pattern]] = {}
    for pattern in patterns:
        stems = pattern.stems
        key = stems[:2] if len(stems) > 1 and stems[1] is not None else stems[0]
        groups.setdefault(key, []).append(pattern)
    return MappingProxyType({key: tuple(group) for key, group in groups.items()})


def _compile(doc: dict, source: str) -> Rules:
    top = _Table(doc, "", source)

    matching = top.table("matching")
    max_gap = int(matching.number("max_gap", 1, 6, integer=True))
    fillers = frozenset(w for phrase in matching.strings("fillers") for w in expand(phrase))
    matching.done()

    cue_table = top.table("cues")
    cue_kinds: dict[str, CueKind] = {}
    cue_patterns: list[Pattern] = []
    for kind in sorted(cue_table.value):
        if kind == "not_cues":
            continue
        cue_table.seen.add(kind)
        if not _NAME.match(kind):
            cue_table.fail(kind, "cue kind names use lower case letters, digits and _")
        spec = cue_table.table(kind)
        cue_kinds[kind] = CueKind(
            name=kind,
            label=spec.string("label"),
            direction=spec.choice("direction", DIRECTIONS, required=False) or "before",
            window=int(spec.number("window", 1, 12, integer=True)),
            fillers_only=spec.boolean("fillers_only", False),
            questions_only=spec.boolean("questions_only", False),
            sentiment=float(spec.number("sentiment", -5.0, 5.0, default=0.0)),
        )
        for n, phrase in enumerate(spec.strings("phrases")):
            cue_patterns += _patterns(phrase, kind, f"{spec.key('phrases')}[{n}]", source, stemmed=False)
        spec.done()
    # Phrases that look like cues but are not ("no one", "not only"): matched first so
    # they hide the cue inside them.
    for n, phrase in enumerate(cue_table.strings("not_cues", required=False)):
        cue_patterns += _patterns(phrase, "", f"cues.not_cues[{n}]", source, stemmed=False)
    cue_table.done()
    if "negation" not in cue_kinds:
        cue_table.fail("negation", "required key is missing")

    sentiment_table = top.table("sentiment")
    negative = sentiment_table.number("negative_at_or_below", -1.0, 0.0)
    positive = sentiment_table.number("positive_at_or_above", 0.0, 1.0)
    overrides_table = sentiment_table.table("lexicon_overrides", required=False)
    overrides: dict[str, float] = {}
    if overrides_table is not None:
        for word in list(overrides_table.value):
            overrides[word.lower()] = float(overrides_table.number(word, -4.0, 4.0))
        overrides_table.done()
    sentiment = SentimentRules(
        negative_at_or_below=negative,
        positive_at_or_above=positive,
        lexicon_weight=sentiment_table.number("lexicon_weight", 0.0, 5.0),
        negated_positive_factor=sentiment_table.number("negated_positive_factor", -2.0, 2.0),
        negated_negative_factor=sentiment_table.number("negated_negative_factor", -2.0, 2.0),
        lexicon_overrides=MappingProxyType(overrides),
    )
    sentiment_table.done()

    action = top.table("action")
    lead_patterns = [p for n, phrase in enumerate(action.strings("lead_ins"))
                     for p in _patterns(phrase, "action", f"action.lead_ins[{n}]", source, stemmed=False)]
    verbs = action.strings("verbs")
    for n, verb in enumerate(verbs):
        if len(phrase_pattern(verb)) != 1:
            action.fail(f"verbs[{n}]", f"expected one word, got {verb!r}")
    action_verbs = frozenset(phrase_pattern(v)[0] for v in verbs)
    action_window = int(action.number("window", 1, 8, integer=True))
    action.done()

    term_patterns: list[Pattern] = []
    ignore = top.table("ignore", required=False)
    if ignore is not None:
        for n, phrase in enumerate(ignore.strings("phrases")):
            term_patterns += _patterns(phrase, "", f"ignore.phrases[{n}]", source)
        ignore.done()

    categories_table = top.table("categories")
    categories: dict[str, Category] = {}
    if not categories_table.value:
        categories_table.fail("", "must define at least one category")
    for name in categories_table.value:
        if not _NAME.match(name):
            categories_table.fail(name, "category names use lower case letters, digits and _")
        spec = categories_table.table(name)
        suppressed_by = spec.strings("suppressed_by", required=False) or ("negation",)
        for n, kind in enumerate(suppressed_by):
            if kind not in cue_kinds:
                spec.fail(f"suppressed_by[{n}]", f"unknown cue kind {kind!r} (known: {', '.join(sorted(cue_kinds))})")
        categories[name] = Category(
            name=name,
            label=spec.string("label"),
            urgency=spec.choice("urgency", URGENCIES, required=False),
            sentiment=float(spec.number("sentiment", -5.0, 5.0, default=0.0)),
            requires_action=spec.boolean("requires_action"),
            cap_urgency=spec.choice("cap_urgency", URGENCIES, required=False),
            keywords=spec.boolean("keywords", True),
            suppressed_by=suppressed_by,
        )
        terms = spec.table("terms")
        if not terms.value:
            terms.fail("", "must not be empty")
        owners: dict[tuple, str] = {}
        for keyword in terms.value:
            for n, phrase in enumerate(terms.strings(keyword)):
                path = f"{terms.key(keyword)}[{n}]"
                for pattern in _patterns(phrase, name, path, source, keyword=keyword.strip().lower()):
                    owner = owners.get(pattern.stems)
                    if owner is None:
                        owners[pattern.stems] = pattern.keyword
                        term_patterns.append(pattern)
                    elif owner != pattern.keyword:
                        raise RulesError(source, path, f"phrase {pattern.phrase!r} already counts as {owner!r}")
                    # else: the same phrase again ("user" and "users" stem alike); once is enough
        terms.done()
        spec.done()
    categories_table.done()

    combinations: list[Combination] = []
    items = top.get("combinations", False) or []
    if not isinstance(items, list):
        top.fail("combinations", f"expected an array of tables ([[combinations]]), got {_kind(items)}")
    for n, item in enumerate(items):
        spec = _Table(item, f"combinations[{n}]", source)
        groups = spec.get("requires", True)
        if not isinstance(groups, list) or not groups:
            spec.fail("requires", "expected a non-empty list of lists of category names")
        requires = []
        for g, group in enumerate(groups):
            names = _string_list(group, f"{spec.key('requires')}[{g}]", source)
            for name in names:
                if name not in categories:
                    spec.fail(f"requires[{g}]", f"unknown category {name!r}")
            requires.append(frozenset(names))
        combinations.append(Combination(
            label=spec.string("label"),
            requires=tuple(requires),
            sentiment=spec.choice("sentiment", SENTIMENTS, required=False),
            urgency=spec.choice("urgency", URGENCIES, required=False),
            requires_action=spec.boolean("requires_action"),
        ))
        spec.done()
    top.done()

    if negative >= positive:
        raise RulesError(source, "sentiment.negative_at_or_below", "must be below positive_at_or_above")

    return Rules(
        source=source,
        version=rules_version(doc),
        max_gap=max_gap,
        fillers=fillers,
        categories=MappingProxyType(categories),
        terms=_index(term_patterns),
        cue_kinds=MappingProxyType(cue_kinds),
        cues=_index(cue_patterns),
        negation_kind="negation",
        action_leads=_index(lead_patterns),
        action_verbs=action_verbs,
        action_window=action_window,
        sentiment=sentiment,
        combinations=tuple(combinations),
    )
