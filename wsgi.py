"""WSGI entry point for gunicorn: ``gunicorn -c gunicorn.conf.py wsgi:app``.

gunicorn imports this in each worker after fork (no preload), so the MongoDB client and
the HTTP session are created in the process that uses them.
"""
import sys

from ticketsvc import create_app
from ticketsvc.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # A refusal to start (no admin key, a too-short one, a bad rules file) is one line that
    # says what to do, not a traceback; exit status 3 makes gunicorn's master stop too
    # ("Worker failed to boot") instead of forking the same failure again and again.
    print(f"ticketsvc: cannot start: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(3) from None
