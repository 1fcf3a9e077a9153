"""The generic mapping: any family's records as exact JSON text, one row per record.

A record's key is the value of the family's ``[records] key`` field (as JSON text, so that
``1`` and ``"1"`` differ). A record without a usable key (no such field, or a value that is
not a string or an integer) is keyed by the sha256 of its JSON text instead: importing the same
record again is then recognised as a duplicate, and a changed record is a new one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, select

from docmigrate import jsonio
from docmigrate.store.mapping import bulk_insert, chunks
from docmigrate.store.tables import records


class GenericMapping:
    """Records of one family stored as JSON in ``docmigrate_records``."""

    def __init__(self, family: str, key_field: str | None) -> None:
        self.family = family
        self.key_field = key_field

    def key_of(self, record: Any, index: int) -> str:
        """Return ``field:<json of the key>`` or ``content:<sha256>``."""
        if self.key_field is not None and isinstance(record, dict):
            value = record.get(self.key_field)
            if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
                return "field:" + jsonio.dumps(value, indent=None)
        text = jsonio.dumps(record, indent=None)
        return "content:" + hashlib.sha256(text.encode("utf-8")).hexdigest()

    def existing(self, conn: Connection, keys: Sequence[str]) -> dict[str, Any]:
        """Return the stored records among ``keys``."""
        found: dict[str, Any] = {}
        for part in chunks(keys):
            query = select(records.c.record_key, records.c.data).where(
                records.c.family == self.family, records.c.record_key.in_(part)
            )
            found.update((key, jsonio.loads(data)) for key, data in conn.execute(query))
        return found

    def delete(self, conn: Connection, keys: Sequence[str]) -> None:
        """Delete the records with ``keys``."""
        for part in chunks(keys):
            conn.execute(
                delete(records).where(
                    records.c.family == self.family, records.c.record_key.in_(part)
                )
            )

    def insert(
        self, conn: Connection, import_id: int, items: Sequence[tuple[int, str, Any]]
    ) -> None:
        """Insert the records with their exact JSON text."""
        rows = [
            (
                self.family,
                key,
                key.split(":", 1)[0],
                import_id,
                position,
                jsonio.dumps(record, indent=None),
            )
            for position, key, record in items
        ]
        columns = ("family", "record_key", "key_source", "import_id", "position", "data")
        bulk_insert(conn, records, columns, rows)

    def read(self, conn: Connection) -> list[Any]:
        """Return the records in the order they were imported."""
        query = (
            select(records.c.data)
            .where(records.c.family == self.family)
            .order_by(records.c.import_id, records.c.position)
        )
        return [jsonio.loads(data) for (data,) in conn.execute(query)]
