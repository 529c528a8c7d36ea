"""The mock's errors: each carries the HTTP status it is answered with."""
from __future__ import annotations


class MockApiError(Exception):
    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadRequest(MockApiError):
    status = 400


class NotFound(MockApiError):
    status = 404
