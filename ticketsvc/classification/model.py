"""The learned layer: linear models (one per label) over ``features.Features``, loaded from
a plain JSON file of vocabulary and coefficients written by ``train.py``.

No pickle: the file is data (feature names, one row of weights per feature, biases, the
decision settings found in training), so a scikit-learn upgrade cannot make it unreadable
and its hash names exactly what classifies. Scoring is a sum of the rows of the features a
ticket has, so it explains itself: each word's, pair's or rule's share of the winning
label is its row times its count.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
from itertools import chain, count, repeat
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

from .packaged import read_data_file
from .features import Features, char_features

DEFAULT_MODEL = "model.json.gz"
FORMAT = 1
HEADS = ("urgency", "sentiment", "requires_action")
_WORD_CACHE = 1 << 16
_max_of = np.maximum.reduce
_sum_of = np.add.reduce


class ModelError(ValueError):
    """The model file cannot be used."""


@dataclass(frozen=True)
class Head:
    name: str
    labels: tuple          # class labels in column order; requires_action: (False, True), one column
    columns: tuple[int, ...]

    @property
    def cells(self) -> slice:
        """The head's columns (consecutive) as a slice: cheaper than a list index."""
        return slice(self.columns[0], self.columns[-1] + 1)


@dataclass(frozen=True)
class Scored:
    """The model's view of one ticket: per head, probabilities by label; and what is
    needed to explain a label."""
    probabilities: Mapping[str, Mapping]
    _rows: np.ndarray          # the weight rows used (their numbers)
    _weights: np.ndarray | None   # their multiplicities (counts times scale); None when all are 1
    _items: np.ndarray         # which explained item each row belongs to
    _labels: tuple[str, ...]   # the items: a word, a word pair or a rule feature
    # (head, label, top) -> explain's answer: the classifier asks for urgency's twice
    _explained: dict = field(default_factory=dict, compare=False, repr=False)


class LinearModel:
    """Immutable after loading (but for a bounded cache of each word's rows); one instance serves every thread."""

    def __init__(self, doc: Mapping, digest: str, source: str):
        try:
            if doc["format"] != FORMAT:
                raise ModelError(f"{source}: format {doc['format']!r}, this engine reads {FORMAT}")
            names = doc["features"]
            matrix = np.asarray(doc["weights"], dtype=np.float64)
            bias = np.asarray(doc["bias"], dtype=np.float64)
            heads = []
            column = 0
            for name in HEADS:
                labels = tuple(doc["heads"][name])
                width = 1 if len(labels) == 2 else len(labels)
                heads.append(Head(name, labels, tuple(range(column, column + width))))
                column += width
            self.settings = MappingProxyType(dict(doc.get("settings", {})))
            self.trained_on = MappingProxyType(dict(doc.get("corpus", {})))
            packed_words = doc.get("words", [])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{source}: not a model file ({exc})") from exc
        if matrix.shape != (len(names), column) or bias.shape != (column,):
            raise ModelError(f"{source}: weights {matrix.shape} do not match {len(names)} features x {column} columns")
        index = {name: n for n, name in enumerate(names)}
        # Each frequent word's character pieces, summed once here: a known word then costs
        # one row instead of a dozen.
        packs = [matrix[[index[g] for g in char_features(w) if g in index]].sum(axis=0) for w in packed_words]
        # Plain dicts, private and never written after this: MappingProxyType.get costs
        # twice as much, and these are read for every word of every ticket.
        self._pack_row = {w: len(names) + n for n, w in enumerate(packed_words)}
        if packs:
            matrix = np.vstack([matrix, np.asarray(packs)])
        matrix.setflags(write=False)
        self._matrix = matrix
        self._ones = np.ones(4096)
        self._ones.setflags(write=False)
        self._bias = bias
        self._index = index
        # (word feature, surface word) -> its rows: the only state written after loading;
        # a lost race between threads writes the same tuple twice.
        self._word_rows: dict[tuple[str, str], tuple[int, ...]] = {}
        self.heads = MappingProxyType({h.name: h for h in heads})
        # (head, label) -> each row's part towards the label, computed once here rather
        # than for the rows of every ticket that is explained.
        self._shares = {(h.name, label): self._label_shares(h, label) for h in heads for label in h.labels}
        # The multi-class heads side by side in consecutive columns of one width (as
        # train.py writes them): their softmax is then taken in one pass, row by row, over
        # a (heads x labels) view of the logits.
        multi = [h for h in heads if len(h.columns) > 1]
        side_by_side = bool(multi) and [c for h in multi for c in h.columns] == list(
            range(multi[0].columns[0], multi[0].columns[0] + len(multi) * len(multi[0].columns)))
        self._softmax_cells = (slice(multi[0].columns[0], multi[-1].columns[-1] + 1), len(multi)) if side_by_side else None
        self.digest = digest
        self.source = source

    def score(self, features: Features) -> Scored:
        """Probabilities per head for one ticket, and what ``explain`` needs."""
        index = self._index
        tokens = features.tokens
        # Each word's rows and item in a few C-level passes (map, chain, repeat) instead
        # of a Python loop over the words: this runs for every word of every ticket.
        found = list(map(self._word_rows.get, tokens))
        if None in found:
            found = [rows if rows is not None else self._rows_of(*token) for rows, token in zip(found, tokens)]
        words = [word for _, word in tokens]
        item_of: dict[str, int] = dict(zip(dict.fromkeys(words), count()))   # numbered as first met
        rows: list[int] = list(chain.from_iterable(found))
        items: list[int] = list(chain.from_iterable(map(repeat, map(item_of.__getitem__, words), map(len, found))))
        get = index.get
        for group in (features.subject, features.pairs):
            for name, label in group:
                row = get(name)
                if row is not None:
                    rows.append(row)
                    items.append(item_of.setdefault(label, len(item_of)))
        text_rows = len(rows)
        for name in features.rules:
            row = get(name)
            if row is not None:
                rows.append(row)
                items.append(item_of.setdefault(name, len(item_of)))
        if features.scale == 1.0:
            # A view of ones kept from loading (np.ones allocates and fills, through a
            # Python-level wrapper, for every ticket); the same values either way.
            weight_array = self._ones[:len(rows)] if len(rows) <= len(self._ones) else np.ones(len(rows))
        else:
            weight_array = np.asarray([features.scale] * text_rows + [1.0] * (len(rows) - text_rows), dtype=np.float64)

        row_ids = np.asarray(rows, dtype=np.intp)
        selected = self._matrix.take(row_ids, axis=0)   # the rows; take costs a quarter of [row_ids]
        logits = self._bias + weight_array @ selected
        softmax = iter(())
        if self._softmax_cells is not None:   # every multi-class head's softmax at once, row by row
            cells, count_of_heads = self._softmax_cells
            values = logits[cells].reshape(count_of_heads, -1)
            # The ufuncs' reduce directly: what ndarray.max and .sum call, without their
            # Python-level wrappers (a few microseconds a ticket).
            exp = np.exp(values - _max_of(values, axis=1, keepdims=True))
            exp /= _sum_of(exp, axis=1, keepdims=True)
            softmax = iter(exp.tolist())
        probabilities = {}
        for head in self.heads.values():
            if len(head.columns) == 1:
                p_true = 1.0 / (1.0 + math.exp(-float(logits[head.columns[0]])))
                probabilities[head.name] = {head.labels[0]: 1.0 - p_true, head.labels[1]: p_true}
            elif self._softmax_cells is not None:
                probabilities[head.name] = dict(zip(head.labels, next(softmax)))
            else:
                values = logits[head.cells]
                exp = np.exp(values - values.max())
                exp /= exp.sum()
                probabilities[head.name] = dict(zip(head.labels, exp.tolist()))
        return Scored(probabilities, row_ids, None if features.scale == 1.0 else weight_array,
                      np.asarray(items, dtype=np.intp), tuple(item_of))

    def _rows_of(self, name: str, word: str) -> tuple[int, ...]:
        """The weight rows of one word feature and its surface word's character pieces (or
        their pack), in scoring order; remembered, since words repeat across tickets."""
        index = self._index
        rows = []
        row = index.get(name)
        if row is not None:
            rows.append(row)
        pack = None if name[0] == "n" else self._pack_row.get(word)
        if pack is not None:
            rows.append(pack)
        else:
            rows.extend(r for r in map(index.get, char_features(word, name[0] == "n")) if r is not None)
        rows = tuple(rows)
        if len(self._word_rows) >= _WORD_CACHE:
            self._word_rows.clear()   # bounded: a flood of unseen words cannot grow it
        self._word_rows[(name, word)] = rows
        return rows

    def _label_shares(self, head: Head, label) -> np.ndarray:
        """Per weight row, its part towards ``label`` of ``head``: the label's column, or
        for a multi-class head that minus the row's mean over the head's columns."""
        matrix = self._matrix
        if len(head.columns) == 1:
            return matrix[:, head.columns[0]] * (1.0 if label == head.labels[1] else -1.0)
        column = head.columns[head.labels.index(label)]
        # The mean as numpy's mean computes it (sum, then divide), without its overhead.
        return matrix[:, column] - matrix[:, head.cells].sum(axis=1) / len(head.columns)

    def explain(self, scored: Scored, head_name: str, label, top: int = 3) -> list[tuple[str, float]]:
        """The items (words, word pairs, rule features) that weighed most towards ``label``
        on ``head_name``, with their weight: for a multi-class head, each item's logit for
        the label minus its mean over the head's labels."""
        key = (head_name, label, top)
        known = scored._explained.get(key)
        if known is None:
            known = scored._explained[key] = self._explain(scored, self.heads[head_name], label, top)
        return list(known)

    def _explain(self, scored: Scored, head: Head, label, top: int) -> list[tuple[str, float]]:
        if not len(scored._items):
            return []
        shares = self._shares.get((head.name, label))
        if shares is None:
            shares = self._label_shares(head, label)
        share = shares[scored._rows]
        if scored._weights is not None:   # else each is 1, and x * 1.0 is x
            share = share * scored._weights
        totals = np.bincount(scored._items, weights=share, minlength=len(scored._labels))
        order = (-totals).argsort(kind="stable")[:top]   # np.argsort without its wrapper
        # The few picked totals as Python floats in one call, not a numpy scalar per look.
        labels = scored._labels
        return [(labels[i], total) for i, total in zip(order.tolist(), totals[order].tolist()) if total > 0.05]


def load_model(path: str | os.PathLike | None = None) -> LinearModel:
    """The model at ``path`` (the packaged one when empty). Raises ModelError."""
    try:
        source, data = read_data_file(path, DEFAULT_MODEL)
    except OSError as exc:
        if not path and isinstance(exc, FileNotFoundError):
            raise ModelError(f"{exc.filename}: missing; run python -m ticketsvc.classification.train") from exc
        raise ModelError(f"{exc.filename}: cannot read model file ({exc.strerror or exc})") from exc
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        doc = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{source}: not a model file ({exc})") from exc
    return LinearModel(doc, digest, source)
