"""Training is deterministic and the model file is plain data the engine reads without
scikit-learn."""
from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from importlib import resources

import pytest

from ticketsvc.classification import load_classifier
from ticketsvc.classification.train import CORPUS, train


@pytest.fixture
def small_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("seed.jsonl", "templated.jsonl"):
        shutil.copy(CORPUS / name, corpus / name)
    return corpus


def test_training_twice_on_the_same_corpus_writes_the_same_file(small_corpus, tmp_path):
    train(corpus=small_corpus, out=tmp_path / "a.json.gz")
    train(corpus=small_corpus, out=tmp_path / "b.json.gz")
    assert (tmp_path / "a.json.gz").read_bytes() == (tmp_path / "b.json.gz").read_bytes()


def test_a_trained_model_file_drives_the_classifier_and_its_version(small_corpus, tmp_path):
    train(corpus=small_corpus, out=tmp_path / "small.json.gz")
    small = load_classifier(model_path=tmp_path / "small.json.gz")
    assert small.version != load_classifier().version
    assert small.classify("Refund", "I want my money back.").urgency == "high"


def test_the_model_file_is_gzipped_json_of_features_and_weights():
    doc = json.loads(gzip.decompress(resources.files("ticketsvc.classification").joinpath("model.json.gz").read_bytes()))
    assert {"format", "heads", "features", "weights", "bias", "settings", "corpus"} <= set(doc)
    assert len(doc["features"]) == len(doc["weights"])
    assert doc["corpus"]["templated"] > 0 and sum(doc["corpus"].values()) >= 3000


def test_the_engine_loads_and_classifies_without_scikit_learn():
    code = ("import sys; sys.modules['sklearn'] = None; sys.modules['scipy'] = None\n"
            "from ticketsvc.classification import load_classifier\n"
            "print(load_classifier().classify('Refund', 'I want my money back.').urgency)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "high"


@pytest.mark.slow
def test_the_packaged_model_is_what_training_the_repository_corpus_writes(tmp_path):
    # The decision settings are taken from the packaged file (choosing them out of fold
    # costs six more fits; the small-corpus test above covers that path's determinism).
    packaged = resources.files("ticketsvc.classification").joinpath("model.json.gz").read_bytes()
    train(out=tmp_path / "model.json.gz", settings=json.loads(gzip.decompress(packaged))["settings"])
    assert (tmp_path / "model.json.gz").read_bytes() == packaged
