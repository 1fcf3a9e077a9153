"""The store: writes the records of current-version documents to a database, reads them back.

``SQLStore`` implements the :class:`Store` protocol with SQLAlchemy Core, for SQLite (the
default; a bare file path means a SQLite file) and PostgreSQL (``postgresql+psycopg://...``,
with the ``docmigrate[postgres]`` extra).
"""

from __future__ import annotations

from typing import Any, Protocol

from docmigrate.family import Family
from docmigrate.store.provenance import Provenance, WriteReport
from docmigrate.store.sql import OnDuplicate, SQLStore, database_url, is_in_memory


class Store(Protocol):
    """What the commands need from a store."""

    def write(
        self,
        document: Any,
        family: Family,
        provenance: Provenance,
        *,
        on_duplicate: OnDuplicate | None = None,
    ) -> WriteReport:
        """Write the records of one current-version document atomically."""
        ...

    def read(
        self, family: Family, *, exported_at: str | None = None, import_id: int | None = None
    ) -> Any:
        """Return ``family``'s current state (or snapshot ``import_id``) as one document."""
        ...

    def close(self) -> None:
        """Release the store's resources."""
        ...


def open_store(url: str, *, create: bool = True) -> SQLStore:
    """Open the store at ``url`` (a SQLAlchemy URL or a SQLite file path).

    ``create=False`` opens an existing database to read it, creating nothing (see SQLStore).
    """
    return SQLStore(url, create=create)


__all__ = [
    "OnDuplicate",
    "Provenance",
    "SQLStore",
    "Store",
    "WriteReport",
    "database_url",
    "is_in_memory",
    "open_store",
]
