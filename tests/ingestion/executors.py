"""Executors a test hands a runner: run a job in the test's thread after a step of its
own, or never (its worker "died" right after starting it)."""
from __future__ import annotations

from concurrent.futures import Executor, Future

from ticketsvc.ingestion.runner import InlineExecutor


class DeadWorker(Executor):
    """Takes a job and never runs it: the worker died between the start and the run."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        return Future()


class BeforeRun(InlineExecutor):
    """Runs each job in the caller's thread, after doing ``first(job)``."""

    def __init__(self, first):
        self.first = first

    def submit(self, fn, /, job, *args, **kwargs) -> Future:
        self.first(job)
        return super().submit(fn, job, *args, **kwargs)
