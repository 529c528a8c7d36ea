"""WSGI entry point for gunicorn: ``gunicorn -c gunicorn.conf.py wsgi:app``.

gunicorn imports this in each worker after fork (no preload), so the MongoDB client and
the HTTP session are created in the process that uses them.
"""
from ticketsvc import create_app

app = create_app()
