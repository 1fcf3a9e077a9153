"""What an import records about itself: the provenance row, and what a write reports back."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from docmigrate import jsonio
from docmigrate.family import Family
from docmigrate.store.tables import imports


@dataclass(frozen=True)
class Provenance:
    """Where an import came from and how it was upgraded."""

    file_name: str
    sha256: str
    source_version: str
    steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class WriteReport:
    """What one write did."""

    family: str
    import_id: int | None
    """The provenance row of the import; None when nothing was written."""
    imported: int
    skipped: int
    replaced: int
    removed: int = 0
    """Records of the current state that a newer snapshot no longer has."""
    already_imported: int | None = None
    """The earlier import of this very document, when the write was a no-op for that reason."""
    current: bool = True
    """False for a snapshot older than the current one: kept by import id, state unchanged."""

    @property
    def counts(self) -> dict[str, int]:
        """The record counts by what happened to them."""
        return {
            "imported": self.imported,
            "skipped": self.skipped,
            "replaced": self.replaced,
            "removed": self.removed,
        }


def canonical_text(value: Any) -> str:
    """The exact JSON text records and headers are compared by.

    Compact, keys in their order, numbers as written: ``true`` and ``1``, ``1.0`` and
    ``1.00``, ``{"a":1,"b":2}`` and ``{"b":2,"a":1}`` all differ.
    """
    return jsonio.dumps(value, indent=None)


def document_digest(document: Any) -> str:
    """The sha256 of a document's canonical text: equal digests, equal documents."""
    return hashlib.sha256(canonical_text(document).encode("utf-8")).hexdigest()


def earlier_import(conn: Connection, family: str, digest: str) -> int | None:
    """Return the id of an earlier import of the same document into ``family``, if any."""
    query = (
        select(imports.c.id)
        .where(imports.c.family == family, imports.c.document_sha256 == digest)
        .order_by(imports.c.id)
        .limit(1)
    )
    return conn.execute(query).scalar()


def record_provenance(
    conn: Connection,
    family: Family,
    provenance: Provenance,
    counts: dict[str, int],
    *,
    digest: str,
    newest_key: str | None = None,
    import_id: int | None = None,
) -> int:
    """Insert the import's provenance row and return its id (``import_id``: that one)."""
    given = {} if import_id is None else {"id": import_id}
    result = conn.execute(
        imports.insert().values(
            **given,
            **counts,
            family=family.name,
            file_name=provenance.file_name,
            sha256=provenance.sha256,
            source_version=provenance.source_version,
            target_version=family.current,
            steps=json.dumps(list(provenance.steps)),
            imported_at=datetime.now(UTC).isoformat(timespec="seconds"),
            document_sha256=digest,
            newest_key=newest_key,
        )
    )
    if import_id is not None:
        return import_id
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
