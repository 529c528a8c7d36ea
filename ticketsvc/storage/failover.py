"""retry_once: the one place a write is tried again after a replica-set failover.

During an election (about 10 s) the old primary refuses writes (``NotPrimaryError``) or
drops its connections (``AutoReconnect``), and a server that shuts down labels its errors
``RetryableWriteError``. The driver retries a single-document write once by itself, on a
replica set, with the same transaction number, so the server applies it at most once; a
second failure, an ``update_many``, or a write that met the old primary after the driver
had given up, reaches us. Such a write is tried once more here, and only a write that is
idempotent may be: applying it twice must leave what applying it once leaves, since a
dropped connection does not say whether the first attempt landed.

Not retried: a server-selection timeout (the driver already waited out an election for a
primary), and every other error (a duplicate key, a validation failure: trying again
gives the same answer).
"""
from __future__ import annotations

import logging
from typing import Callable, TypeVar

from pymongo.errors import AutoReconnect, PyMongoError, ServerSelectionTimeoutError

log = logging.getLogger(__name__)

T = TypeVar("T")


def is_retryable(error: BaseException) -> bool:
    """A failover's error: ``AutoReconnect`` (``NotPrimaryError``, a network error) or one
    the server labelled ``RetryableWriteError``; never a server-selection timeout."""
    if isinstance(error, ServerSelectionTimeoutError):
        return False
    if isinstance(error, AutoReconnect):
        return True
    return isinstance(error, PyMongoError) and error.has_error_label("RetryableWriteError")


def retry_once(write: Callable[[], T]) -> T:
    """``write()``, tried once more if it fails with a failover's error. ``write`` must be
    idempotent. The second failure is raised."""
    try:
        return write()
    except PyMongoError as error:
        if not is_retryable(error):
            raise
        log.warning("storage write failed over (%s: %s); trying it once more", type(error).__name__, error)
        return write()
