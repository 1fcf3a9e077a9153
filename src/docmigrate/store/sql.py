"""The SQL store: one code path (SQLAlchemy Core) for SQLite and PostgreSQL.

Each :meth:`SQLStore.write` is one transaction: the provenance row, every record and every
child row are committed together or not at all. On SQLite the transaction starts with
``BEGIN IMMEDIATE`` so that a second writer waits (up to the busy timeout) instead of failing
halfway, and foreign keys are enforced.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, delete, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    SQLAlchemyError,
)

from docmigrate import jsonio
from docmigrate.exceptions import (
    DuplicateRecordError,
    StoreBusyError,
    StoreError,
    StoreLayoutError,
)
from docmigrate.family import Family
from docmigrate.pointers import resolve
from docmigrate.store.generic import GenericMapping
from docmigrate.store.mapping import RecordMapping
from docmigrate.store.production_history import ProductionHistoryMapping
from docmigrate.store.tables import LAYOUT_VERSION, headers, imports, layout, metadata

OnDuplicate = Literal["skip", "replace", "error"]


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


def database_url(text: str) -> str:
    """Return a SQLAlchemy URL: URLs pass through, a bare file path means SQLite."""
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def describe_url(url: str) -> str:
    """Render ``url`` for messages, without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


class SQLStore:
    """A store in the database named by ``url`` (tables are made on first use)."""

    def __init__(self, url: str, *, busy_timeout: float = 30.0) -> None:
        self.url = database_url(url)
        try:
            self.engine = _engine(self.url, busy_timeout)
        except (ArgumentError, NoSuchModuleError, ImportError) as error:
            raise StoreError(f"cannot use database {describe_url(self.url)}: {error}") from None
        with self._transaction() as conn:
            _ensure_layout(conn)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> SQLStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def write(
        self,
        document: Any,
        family: Family,
        provenance: Provenance,
        *,
        on_duplicate: OnDuplicate = "skip",
    ) -> WriteReport:
        """Write the records of ``document`` (at ``family``'s current version) in one transaction.

        Records already stored (same key) are skipped, replaced when they differ, or make the
        whole write fail (:class:`DuplicateRecordError`), as ``on_duplicate`` says.
        """
        mapping = mapping_for(family)
        pointer = _records_pointer(family)
        items = resolve(document, pointer)
        keyed = [(i, mapping.key_of(record, i), record) for i, record in enumerate(items)]
        if len({key for _, key, _ in keyed}) != len(keyed):
            twice = [key for key, count in Counter(k for _, k, _ in keyed).items() if count > 1]
            raise DuplicateRecordError(family.name, [f"{k} (twice in the file)" for k in twice])
        with jsonio.gc_paused(), self._transaction() as conn:
            stored = mapping.existing(conn, [key for _, key, _ in keyed])
            if stored and on_duplicate == "error":
                raise DuplicateRecordError(family.name, sorted(stored))
            fresh = [item for item in keyed if item[1] not in stored]
            changed = []
            if on_duplicate == "replace":
                changed = [
                    item for item in keyed if item[1] in stored and stored[item[1]] != item[2]
                ]
            counts = {
                "imported": len(fresh),
                "replaced": len(changed),
                "skipped": len(keyed) - len(fresh) - len(changed),
            }
            if not fresh and not changed and keyed:
                # Re-importing what is stored is a no-op: not even a provenance row.
                return WriteReport(family=family.name, import_id=None, **counts)
            import_id = _record_provenance(conn, family, provenance, counts)
            mapping.delete(conn, [key for _, key, _ in changed])
            to_write = sorted(fresh + changed, key=lambda item: item[0]) if changed else fresh
            mapping.insert(conn, import_id, to_write)
            if isinstance(mapping, GenericMapping):
                _store_header(conn, family, import_id, document, pointer)
        return WriteReport(family=family.name, import_id=import_id, **counts)

    def read(self, family: Family, *, exported_at: str | None = None) -> Any:
        """Return a current-version document holding every stored record of ``family``."""
        mapping = mapping_for(family)
        pointer = _records_pointer(family)
        with self._transaction() as conn:
            items = mapping.read(conn)
            if isinstance(mapping, ProductionHistoryMapping):
                stamp = exported_at or datetime.now(UTC).isoformat(timespec="seconds")
                return {"version": family.current, "exported_at": stamp, "production_runs": items}
            header = conn.execute(
                select(headers.c.header).where(headers.c.family == family.name)
            ).scalar()
        if header is None:
            raise StoreError(f"nothing of family {family.name!r} is stored in this database")
        document = jsonio.loads(header)
        parent = resolve(document, pointer[:-1])
        parent[pointer[-1]] = items
        return document

    def imports(self) -> list[dict[str, Any]]:
        """Return the provenance of every import, oldest first."""
        with self._transaction() as conn:
            rows = conn.execute(select(imports).order_by(imports.c.id)).mappings().all()
        return [dict(row) | {"steps": json.loads(row["steps"])} for row in rows]

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """Run a transaction, turning database errors into store errors (after rollback)."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except IntegrityError as error:
            raise StoreError(f"a constraint of the store was violated: {_reason(error)}") from error
        except DBAPIError as error:
            if "locked" in str(error.orig) or "busy" in str(error.orig):
                raise StoreBusyError(
                    f"the database {describe_url(self.url)} stayed locked by another writer; "
                    "try again when it has finished"
                ) from error
            raise StoreError(
                f"database error on {describe_url(self.url)}: {_reason(error)}"
            ) from error
        except SQLAlchemyError as error:
            raise StoreError(f"database error on {describe_url(self.url)}: {error}") from error


def mapping_for(family: Family) -> RecordMapping:
    """Return the relational mapping of ``family`` if it has one, else the generic mapping."""
    relational = ProductionHistoryMapping()
    if family.name == relational.family and family.current == relational.version:
        return relational
    return GenericMapping(family.name, family.records_key)


def _records_pointer(family: Family) -> tuple[str, ...]:
    if not family.records_pointer:
        raise StoreError(
            f"family {family.name!r} declares no [records] pointer in family.toml, "
            "so the store does not know which records to write"
        )
    return family.records_pointer


def _reason(error: DBAPIError) -> str:
    return str(error.orig).strip().splitlines()[0] if error.orig is not None else str(error)


def _engine(url: str, busy_timeout: float) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (the pysqlite recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _ensure_layout(conn: Connection) -> None:
    metadata.create_all(conn)
    found = conn.execute(select(layout.c.version)).scalars().all()
    if not found:
        conn.execute(layout.insert().values(version=LAYOUT_VERSION))
    elif found != [LAYOUT_VERSION]:
        raise StoreLayoutError(
            f"the database's docmigrate tables have layout {found}, this docmigrate knows "
            f"layout {LAYOUT_VERSION}; use the docmigrate release that wrote them"
        )


def _record_provenance(
    conn: Connection, family: Family, provenance: Provenance, counts: dict[str, int]
) -> int:
    result = conn.execute(
        imports.insert().values(
            **counts,
            family=family.name,
            file_name=provenance.file_name,
            sha256=provenance.sha256,
            source_version=provenance.source_version,
            target_version=family.current,
            steps=json.dumps(list(provenance.steps)),
            imported_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _store_header(
    conn: Connection, family: Family, import_id: int, document: Any, pointer: tuple[str, ...]
) -> None:
    """Keep the document without its records, so that an export can rebuild the rest."""
    header = jsonio.clone(document)
    parent = resolve(header, pointer[:-1])
    parent[pointer[-1]] = []
    conn.execute(delete(headers).where(headers.c.family == family.name))
    conn.execute(
        headers.insert().values(
            family=family.name, import_id=import_id, header=jsonio.dumps(header, indent=None)
        )
    )
