"""gunicorn settings and worker hooks for ticketsvc (``gunicorn -c gunicorn.conf.py wsgi:app``).

Server settings come from the environment (GUNICORN_BIND, GUNICORN_WORKERS, GUNICORN_THREADS,
GUNICORN_TIMEOUT, GUNICORN_GRACEFUL_TIMEOUT); the service's own settings are validated here
first so a bad value stops the master before any worker forks.
"""
import logging
import os

from ticketsvc.api.context import get_runtime, has_runtime
from ticketsvc.config import ConfigError, Settings
from ticketsvc.logging_setup import logging_config

_log = logging.getLogger("gunicorn.error")

try:
    _settings = Settings.from_env()
except ConfigError as exc:  # fail fast, naming the variable
    raise SystemExit(f"ticketsvc: invalid configuration: {exc}")

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# Long enough for running ingestion jobs to notice their cancel flag and release locks.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
preload_app = False  # each worker builds its own MongoClient after fork
accesslog = None  # the app logs each request with its request id (logger ticketsvc.access; gunicorn.access is muted)
errorlog = "-"
loglevel = _settings.log_level
# One handler for gunicorn's lines and the app's, in LOG_FORMAT (text or json).
logconfig_dict = logging_config(_settings.log_level, _settings.log_format)
limit_request_line = 8190
limit_request_fields = 100
# gunicorn 27 opens a control socket at ~/.gunicorn/gunicorn.ctl by default, one path shared by
# every instance on the host: a second instance (tests, a blue/green deploy) collides with the
# first. We do not use the control interface, so no instance opens it.
control_socket_disable = True

if _settings.embedded:
    # The embedded engine keeps its data inside the process: a second worker would see a
    # different, empty database. Run one worker and scale with threads instead; and never
    # recycle it (max_requests), which would throw that data away.
    workers = 1
    max_requests = 0
    _embedded_note = True
else:
    workers = int(os.environ.get("GUNICORN_WORKERS", os.environ.get("WEB_CONCURRENCY", "2")))
    # Recycle each worker after about this many requests, so a slow leak in any library
    # cannot grow without bound; the jitter keeps the workers from restarting together.
    # A recycled worker exits gracefully (worker_exit: its running ingestion jobs end
    # cancelled and are picked up by the next sync).
    max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "10000"))
    max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "1000"))
    _embedded_note = False


def on_starting(server):
    if _embedded_note:
        server.log.info("MONGO_URL=mongomock:// (embedded engine): running exactly 1 worker "
                        "with %d threads, since the data lives inside the worker process", threads)
    else:
        server.log.info("engine=mongodb workers=%d threads=%d", workers, threads)
    from ticketsvc.metrics import prepare_multiprocess_dir

    prepare_multiprocess_dir()


def post_worker_init(worker):
    """Start this worker's background services (scheduler, outbox drain, reaper, sync)."""
    get_runtime(worker.wsgi).start_background()


def worker_exit(server, worker):
    """Cancel this worker's running jobs, release their locks, close handles."""
    app = getattr(worker, "wsgi", None)
    if app is not None and has_runtime(app):
        get_runtime(app).stop()


def child_exit(server, worker):
    """In the master, after a worker exited for any reason (also a crash or SIGKILL, when
    worker_exit never runs): drop its live gauges from /metrics."""
    from ticketsvc.metrics import mark_process_dead

    mark_process_dead(worker.pid)
