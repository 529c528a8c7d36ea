"""Ingestion: pull a tenant's tickets from the upstream and keep the local copy faithful."""
