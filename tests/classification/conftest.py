"""Fixtures for the classifier's tests: the packaged classifier (built once: it is
immutable and thread-safe), the labelled evaluation set, and variants of the packaged
rules written to a temporary file."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Callable

import pytest

from ticketsvc.classification import Classifier, load_classifier

CORPUS = Path(__file__).resolve().parents[2] / "ticketsvc" / "classification" / "corpus"
# The hand-written set the rules were tuned on: now the "seed" batch of the training corpus.
LABELLED_SET = CORPUS / "seed.jsonl"


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    return load_classifier()


@pytest.fixture(scope="session")
def labelled_tickets() -> list[dict]:
    return [json.loads(line) for line in LABELLED_SET.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def packaged_rules() -> str:
    return resources.files("ticketsvc.classification").joinpath("rules.toml").read_text()


@pytest.fixture
def rules_file(tmp_path, packaged_rules) -> Callable[..., Path]:
    """``rules_file(edit)`` writes ``edit(packaged rules text)`` to a file and returns its path."""
    counter = iter(range(1000))

    def write(edit: Callable[[str], str] = lambda text: text) -> Path:
        path = tmp_path / f"rules-{next(counter)}.toml"
        path.write_text(edit(packaged_rules))
        return path

    return write

