"""The log context: fields (``request_id``, ``job_id``, ``tenant``) stamped on every log
line written inside it, in whatever thread the work runs. Framework-free, so services use it.

A request's id is bound for the request's duration by the app. Work handed to another
thread does not inherit it (a thread pool starts from an empty context): capture it where
the work is submitted and re-enter it where the work runs::

    captured = capture_log_context()                       # in the request's thread
    ...
    with log_context(**captured, job_id=job_id, tenant=tenant_id):   # in the pool thread
        run()
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any, Iterator, Mapping

_context: ContextVar[Mapping[str, Any]] = ContextVar("ticketsvc_log_context", default={})


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` (None values skipped) to every line logged inside the block; nested
    blocks add to the outer one."""
    token = bind_log_context(**fields)
    try:
        yield
    finally:
        _context.reset(token)


def bind_log_context(**fields: Any) -> Token:
    """``log_context`` for code that cannot use a ``with`` block (request hooks); undo with
    ``unbind_log_context(token)``."""
    return _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


def unbind_log_context(token: Token) -> None:
    _context.reset(token)


def capture_log_context() -> dict[str, Any]:
    """The current log context, to pass to the thread that will run work started here."""
    return dict(_context.get())
