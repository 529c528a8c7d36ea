"""Storage: the MongoDB client, the collections and their indexes (``storage/embedded``
holds the in-process engine's adapters)."""
from .database import Database
from .indexes import INDEXES

__all__ = ["Database", "INDEXES"]
