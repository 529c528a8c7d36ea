"""Runners over a test app's parts with an executor the test chooses (see executors.py)."""
from __future__ import annotations

from concurrent.futures import Executor

import pytest

from ticketsvc.ingestion.runner import IngestionRunner


@pytest.fixture
def runner_over():
    """``runner_over(runtime, executor)``: a runner over the runtime's store, upstream and
    clock (another worker of the same deployment) that hands its jobs to ``executor``."""

    def build(runtime, executor: Executor) -> IngestionRunner:
        return IngestionRunner(runtime.settings, runtime.db, runtime.clock, runtime.upstream, runtime.classifier,
                               runtime.outbox, executor=executor)

    return build
