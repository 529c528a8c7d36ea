"""Prometheus metrics, correct across gunicorn workers (prometheus-client multiprocess mode).

Under gunicorn the master points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before
forking; each worker writes its samples there and ``/metrics`` aggregates them. Outside
gunicorn (tests, CLI) the default single-process registry is used.
"""
from __future__ import annotations

import os
import shutil
import tempfile

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir() -> str:
    """Called once in the gunicorn master: an empty directory for this server's samples."""
    path = os.environ.get(MULTIPROC_ENV) or os.path.join(tempfile.gettempdir(), f"ticketsvc-metrics-{os.getpid()}")
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)
    os.environ[MULTIPROC_ENV] = path
    return path


def mark_process_dead(pid: int) -> None:
    """Called when a worker exits, so its live gauges stop counting."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
