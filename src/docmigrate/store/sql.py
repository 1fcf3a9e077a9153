"""The SQL store: one code path (SQLAlchemy Core) for SQLite and PostgreSQL.

Each :meth:`SQLStore.write` is one transaction: the provenance row, every record and every
child row are committed together or not at all. Writers take turns: on SQLite the transaction
starts with ``BEGIN IMMEDIATE``, on PostgreSQL it first takes a transaction-level advisory lock,
so that a second writer waits (up to the busy timeout) and then sees what the first committed,
instead of failing on its keys or on creating the tables. On SQLite foreign keys are enforced.

Only a writing store creates anything: ``SQLStore(url, create=False)`` opens an existing
database for reading, and neither creates a SQLite file nor the tables.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event, func, inspect, select
from sqlalchemy.engine import URL, make_url
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
    NothingStoredError,
    RecordConflictError,
    StoreBusyError,
    StoreError,
    StoreLayoutError,
    StoreNotFoundError,
    StoreURLError,
)
from docmigrate.family import Family
from docmigrate.pointers import json_path
from docmigrate.store import generic
from docmigrate.store.mapping import RecordMapping
from docmigrate.store.production_history import ProductionHistoryMapping
from docmigrate.store.provenance import (
    Provenance,
    WriteReport,
    canonical_text,
    document_digest,
    earlier_import,
    record_provenance,
)
from docmigrate.store.tables import LAYOUT_VERSION, imports, layout, metadata

OnDuplicate = Literal["skip", "replace", "error"]

WRITER_LOCK = int.from_bytes(b"docmigr", "big")
"""The PostgreSQL advisory lock key that docmigrate's writers take turns on."""
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL SQLSTATE: lock_timeout expired
NO_SUCH_DATABASE = "3D000"  # PostgreSQL SQLSTATE: invalid_catalog_name
_NO_SUCH_DATABASE_TEXT = re.compile(r'FATAL: +database ".*" does not exist')


def database_url(text: str) -> str:
    """Return a SQLAlchemy URL: URLs pass through, a bare file path means SQLite."""
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def describe_url(url: str) -> str:
    """Render ``url`` for messages, without its password (even when it does not parse)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", url)


def is_in_memory(url: str) -> bool:
    """Tell whether ``url`` names an in-memory SQLite database (gone when its process ends)."""
    try:
        return _in_memory(make_url(database_url(url)))
    except (ArgumentError, ValueError):
        return False


class SQLStore:
    """A store in the database named by ``url``.

    With ``create`` (the default) the database and its tables are made on first use. With
    ``create=False`` the database must exist (else :class:`StoreNotFoundError`) and nothing is
    created in it, so a mistyped URL cannot leave an empty database behind; reading a family of
    which nothing is stored raises :class:`NothingStoredError`.
    """

    def __init__(self, url: str, *, busy_timeout: float = 30.0, create: bool = True) -> None:
        self.url = database_url(url)
        self.busy_timeout = busy_timeout
        self.engine = _open_engine(self.url, busy_timeout, create=create)
        try:
            with self._transaction() as conn:
                _ensure_layout(conn, create=create, timeout=busy_timeout)
        except BaseException:
            self.engine.dispose()
            raise

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
        on_duplicate: OnDuplicate | None = None,
    ) -> WriteReport:
        """Write the records of ``document`` (at ``family``'s current version) in one transaction.

        A document already imported into ``family`` (same canonical text) changes nothing (with
        ``on_duplicate="error"`` on a merge family, its stored records fail it). For a merge
        family, records already stored (same key) are skipped, replaced when their text
        differs, or make the whole write fail (:class:`DuplicateRecordError`), as
        ``on_duplicate`` says (default skip). For a snapshot family the newest import is the
        state (see :mod:`docmigrate.store.generic`); ``on_duplicate="error"`` refuses one
        that would replace or remove a stored record.
        """
        digest = document_digest(document)
        mapping = mapping_for(family)
        if mapping is None:
            prepared = generic.prepare(document, family)
        else:
            keyed = _keyed(mapping, document, family)
        with jsonio.gc_paused(), self._transaction() as conn:
            _take_writer_turn(conn, self.busy_timeout)
            earlier = earlier_import(conn, family.name, digest)
            # "error" on a merge family refuses a re-import below, naming the stored records.
            refuse = on_duplicate == "error" and family.mode == "merge"
            if earlier is not None and not refuse:
                size = prepared.total if mapping is None else len(keyed)
                return WriteReport(family.name, None, 0, size, 0, already_imported=earlier)
            if mapping is None:
                return generic.write(
                    conn, family, prepared, provenance, on_duplicate=on_duplicate, digest=digest
                )
            return self._write_mapped(
                conn, mapping, family, keyed, provenance, on_duplicate or "skip", digest
            )

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction, this writer's turn taken, as :meth:`write` runs its own.

        For writers that bring their records in batches (a streamed import): an exception
        leaves the database as it was.
        """
        with jsonio.gc_paused(), self._transaction() as conn:
            _take_writer_turn(conn, self.busy_timeout)
            yield conn

    def _write_mapped(
        self,
        conn: Connection,
        mapping: RecordMapping,
        family: Family,
        keyed: list[tuple[int, str, Any]],
        provenance: Provenance,
        on_duplicate: OnDuplicate,
        digest: str,
    ) -> WriteReport:
        """Write records through a relational mapping (merge mode: records accumulate)."""
        pointer = _records_pointer(family)
        stored = mapping.existing(conn, [key for _, key, _ in keyed])
        if stored and on_duplicate == "error":
            first = next(i for i, key, _ in keyed if key in stored)
            raise DuplicateRecordError(family.name, sorted(stored), path=(*pointer, first))
        fresh = [item for item in keyed if item[1] not in stored]
        changed = []
        if on_duplicate == "replace":
            changed = [
                (position, key, record)
                for position, key, record in keyed
                if key in stored and _unordered_text(stored[key]) != _unordered_text(record)
            ]
        counts = {
            "imported": len(fresh),
            "replaced": len(changed),
            "skipped": len(keyed) - len(fresh) - len(changed),
        }
        written = WriteReport(family.name, None, len(fresh), counts["skipped"], len(changed))
        if not fresh and not changed and _has_imports(conn, family):
            return written  # nothing new: not even a provenance row
        import_id = record_provenance(conn, family, provenance, counts, digest=digest)
        mapping.delete(conn, [key for _, key, _ in changed])
        to_write = sorted(fresh + changed, key=lambda item: item[0]) if changed else fresh
        mapping.insert(conn, import_id, to_write)
        return dataclasses.replace(written, import_id=import_id)

    def read(
        self, family: Family, *, exported_at: str | None = None, import_id: int | None = None
    ) -> Any:
        """Return a current-version document of ``family``'s current state.

        With ``import_id``, return the document that snapshot import stored, whole (snapshot
        families only). Raises :class:`NothingStoredError` when no file of ``family`` was ever
        imported here (or there is no such snapshot import).
        """
        mapping = mapping_for(family)
        if import_id is not None and family.mode != "snapshot":
            raise StoreError(
                f'family {family.name!r} merges its imports (mode = "merge"), so a single '
                "import cannot be exported on its own; only snapshot families keep each "
                "import whole"
            )
        with self._transaction(snapshot=True) as conn:
            self._require_stored(conn, family)
            if import_id is not None:
                nothing = (
                    f"no import {import_id} of family {family.name!r} is stored in "
                    f"{describe_url(self.url)} (see docmigrate_imports for the ids)"
                )
                return generic.read_snapshot(conn, family, import_id, nothing)
            if mapping is None:
                return generic.read(conn, family, self._nothing_of(family))
            items = mapping.read(conn)
        stamp = exported_at or datetime.now(UTC).isoformat(timespec="seconds")
        return {"version": family.current, "exported_at": stamp, "production_runs": items}

    def imports(self) -> list[dict[str, Any]]:
        """Return the provenance of every import, oldest first (none without the tables)."""
        with self._transaction() as conn:
            if not inspect(conn).has_table(imports.name):
                return []
            rows = conn.execute(select(imports).order_by(imports.c.id)).mappings().all()
        return [dict(row) | {"steps": json.loads(row["steps"])} for row in rows]

    def _require_stored(self, conn: Connection, family: Family) -> None:
        """Raise NothingStoredError unless some file of ``family`` was imported here."""
        if not inspect(conn).has_table(imports.name):
            raise NothingStoredError(
                family.name,
                f"nothing is stored in {describe_url(self.url)}: it has no docmigrate tables "
                "(import files into it first)",
            )
        query = select(imports.c.id).where(imports.c.family == family.name).limit(1)
        if conn.execute(query).first() is None:
            raise NothingStoredError(family.name, self._nothing_of(family))

    def _nothing_of(self, family: Family) -> str:
        return f"nothing of family {family.name!r} is stored in {describe_url(self.url)}"

    @contextmanager
    def _transaction(self, *, snapshot: bool = False) -> Iterator[Connection]:
        """Run a transaction, turning database errors into store errors (after rollback).

        ``snapshot``: every statement sees the database as at the first one, so that a read of
        several tables never mixes states before and after another writer's commit (PostgreSQL
        runs REPEATABLE READ for it; SQLite's BEGIN IMMEDIATE already keeps writers out).
        """
        try:
            with self.engine.connect() as conn:
                if snapshot and conn.dialect.name == "postgresql":
                    conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    yield conn
        except IntegrityError as error:
            raise StoreError(f"a constraint of the store was violated: {_reason(error)}") from error
        except DBAPIError as error:
            state = getattr(error.orig, "sqlstate", None)
            # psycopg gives no SQLSTATE for a refused connection: the server's message tells.
            if state == NO_SUCH_DATABASE or _NO_SUCH_DATABASE_TEXT.search(str(error.orig)):
                raise StoreNotFoundError(
                    f"the database {describe_url(self.url)} does not exist: {_reason(error)}"
                ) from None
            if (
                state == LOCK_NOT_AVAILABLE
                or "locked" in str(error.orig)
                or "busy" in str(error.orig)
            ):
                raise StoreBusyError(
                    f"the database {describe_url(self.url)} stayed locked by another writer; "
                    "try again when it has finished"
                ) from error
            raise StoreError(
                f"database error on {describe_url(self.url)}: {_reason(error)}"
            ) from error
        except SQLAlchemyError as error:
            raise StoreError(f"database error on {describe_url(self.url)}: {error}") from error


def mapping_for(family: Family) -> RecordMapping | None:
    """Return the relational mapping of ``family`` if it has one (None: the generic one)."""
    relational = ProductionHistoryMapping()
    if (
        family.name == relational.family
        and family.current == relational.version
        and family.mode == "merge"
        and len(family.collections) == 1
    ):
        return relational
    _records_pointer(family)
    return None


def _keyed(mapping: RecordMapping, document: Any, family: Family) -> list[tuple[int, str, Any]]:
    """Key the records of a relationally mapped family; refuse a key used twice."""
    items = generic.records_at(document, family.collections[0])
    keyed = [(i, mapping.key_of(record, i), record) for i, record in enumerate(items)]
    _refuse_keys_used_twice(keyed, family.collections[0].pointer)
    return keyed


def _unordered_text(value: Any) -> str:
    """Canonical text with object keys sorted: relational columns keep no key order."""
    return canonical_text(_sorted_keys(value))


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value


def _has_imports(conn: Connection, family: Family) -> bool:
    query = select(imports.c.id).where(imports.c.family == family.name).limit(1)
    return conn.execute(query).first() is not None


def _take_writer_turn(conn: Connection, timeout: float) -> None:
    """Wait (up to ``timeout`` seconds) until no other docmigrate writer is inside a transaction.

    SQLite's ``BEGIN IMMEDIATE`` already does this; on PostgreSQL a transaction-level advisory
    lock does, released at commit or rollback. A writer that has waited then sees every row and
    table the other committed, so it skips what is stored instead of colliding on a key.
    """
    if conn.dialect.name != "postgresql":
        return
    # lock_timeout 0 would mean "wait for ever": wait at least a millisecond's worth.
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {max(1, int(timeout * 1000))}")
    conn.execute(select(func.pg_advisory_xact_lock(WRITER_LOCK)))


def _refuse_keys_used_twice(
    keyed: Sequence[tuple[int, str, Any]], pointer: tuple[str, ...]
) -> None:
    """Raise RecordConflictError at the second record of the file that repeats a key."""
    if len({key for _, key, _ in keyed}) == len(keyed):
        return
    first_at: dict[str, int] = {}
    for index, key, _ in keyed:
        first = first_at.setdefault(key, index)
        if first != index:
            raise RecordConflictError(
                (*pointer, index),
                f"key {key} is used twice in the file (first at {json_path((*pointer, first))}); "
                "a record's key must be unique",
            )


def _records_pointer(family: Family) -> tuple[str, ...]:
    if not family.records_pointer:
        raise StoreError(
            f"family {family.name!r} declares no [records] in family.toml, "
            "so the store does not know which records to write"
        )
    return family.records_pointer


def _reason(error: DBAPIError) -> str:
    return str(error.orig).strip().splitlines()[0] if error.orig is not None else str(error)


def _open_engine(url: str, busy_timeout: float, *, create: bool) -> Engine:
    """Make the engine, turning a URL that cannot be used into a StoreURLError."""
    shown = describe_url(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as error:
        raise StoreURLError(f"cannot use database {shown}: {error}") from None
    try:
        return _engine(parsed, busy_timeout, create=create)
    except ImportError as error:  # the driver the URL names is not installed
        if parsed.get_backend_name() == "postgresql":
            raise StoreURLError(
                f"cannot use database {shown}: PostgreSQL needs the psycopg driver: "
                f"pip install 'docmigrate[postgres]' and use a postgresql+psycopg:// URL "
                f"({error})"
            ) from None
        raise StoreURLError(f"cannot use database {shown}: {error}") from None
    except (ArgumentError, NoSuchModuleError, ValueError, TypeError) as error:
        # ValueError/TypeError: a port or a query option SQLAlchemy or the driver cannot read
        raise StoreURLError(f"cannot use database {shown}: {error}") from None


def _is_uri(url: URL) -> bool:
    """Whether a SQLite URL's database is a ``file:`` URI (``?uri=true``)."""
    return str(url.query.get("uri", "")).lower() in ("true", "1")


def _in_memory(url: URL) -> bool:
    if url.get_backend_name() != "sqlite":
        return False
    database = url.database or ""
    return database in ("", ":memory:") or (
        _is_uri(url) and (":memory:" in database or "mode=memory" in database)
    )


def _require_sqlite_file(url: URL) -> None:
    """Raise StoreNotFoundError unless the SQLite database ``url`` names is an existing file."""
    if _in_memory(url):
        raise StoreNotFoundError(
            f"{url.render_as_string(hide_password=True)} is an in-memory SQLite database, "
            "which holds nothing to read"
        )
    database = url.database or ""
    path = database.removeprefix("file:").split("?", 1)[0] if _is_uri(url) else database
    if not Path(path).is_file():
        raise StoreNotFoundError(
            f"there is no SQLite database at {path} (nothing was created; import creates one)"
        )


def _engine(url: URL, busy_timeout: float, *, create: bool) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout})
    if not create:
        _require_sqlite_file(url)

        @event.listens_for(engine, "do_connect")
        def _open_existing(_dialect: Any, _record: Any, cargs: list[Any], cparams: Any) -> None:
            # mode=rw: SQLite opens the file only if it is there, never creates it (the check
            # above gives the clear message; this closes the gap between check and open).
            cargs[0] = _read_write_uri(cargs[0], already_uri=_is_uri(url))
            cparams["uri"] = True

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


def _read_write_uri(filename: str, *, already_uri: bool) -> str:
    """Return a SQLite ``file:`` URI that opens ``filename`` read-write without creating it."""
    if not already_uri:
        return f"file:{quote(filename)}?mode=rw"
    if "mode=" in filename:
        return filename
    return filename + ("&" if "?" in filename else "?") + "mode=rw"


def _ensure_layout(conn: Connection, *, create: bool, timeout: float) -> None:
    """Check the tables' layout version, then make missing tables (writing stores only).

    The check comes first, so that a database of another layout is refused before anything
    is created in it.
    """
    if create:
        _take_writer_turn(conn, timeout)
    if inspect(conn).has_table(layout.name):
        found = conn.execute(select(layout.c.version)).scalars().all()
        if found and found != [LAYOUT_VERSION]:
            raise StoreLayoutError(_layout_problem(found))
    elif not create:
        return  # nothing stored here: reading a family says so
    if create:
        metadata.create_all(conn)
        if not conn.execute(select(layout.c.version)).first():
            conn.execute(layout.insert().values(version=LAYOUT_VERSION))


def _layout_problem(found: Sequence[int]) -> str:
    if list(found) == [1]:
        return (
            f"the database's docmigrate tables have layout 1, this docmigrate writes layout "
            f"{LAYOUT_VERSION} (record collections, snapshots); export each family with the "
            "docmigrate release that wrote it and import the exports into a new database"
        )
    return (
        f"the database's docmigrate tables have layout {list(found)}, this docmigrate knows "
        f"layout {LAYOUT_VERSION}; use the docmigrate release that wrote them"
    )
