"""How a family's records become rows, and back: the interface the SQL store drives."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, Table

CHUNK = 500
"""Keys per ``IN (...)`` query: below SQLite's and PostgreSQL's parameter limits."""


class RecordMapping(Protocol):
    """Rows for one family's records (a relational mapping or the generic JSON one)."""

    def key_of(self, record: Any, index: int) -> str:
        """Return the record's key (raises UnstorableValueError if it cannot be stored)."""
        ...

    def existing(self, conn: Connection, keys: Sequence[str]) -> dict[str, Any]:
        """Return the stored records among ``keys``, by key."""
        ...

    def delete(self, conn: Connection, keys: Sequence[str]) -> None:
        """Delete the records with ``keys`` and everything that belongs to them."""
        ...

    def insert(
        self, conn: Connection, import_id: int, records: Sequence[tuple[int, str, Any]]
    ) -> None:
        """Insert ``(position, key, record)`` triples written by import ``import_id``."""
        ...

    def read(self, conn: Connection) -> list[Any]:
        """Return every stored record, in export order."""
        ...


def chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    """Yield ``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) with one driver-level executemany.

    Core's ``insert()`` builds a parameter dictionary per row, which costs more than the
    database's own work on big imports; the statement here is the same INSERT, rendered for
    the connection's dialect, with the rows handed to the driver as they are.
    """
    if not rows:
        return
    quote = conn.dialect.identifier_preparer.quote
    marker = "?" if conn.dialect.paramstyle in ("qmark", "numeric") else "%s"
    statement = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join([marker] * len(columns))})"
    )
    conn.exec_driver_sql(statement, list(rows))
