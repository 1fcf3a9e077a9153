"""Writing one document's records in batches inside one transaction: the streamed import.

A :class:`BatchWriter` is given the records of a current-version document one at a time, in
order, each with its canonical text, and writes them in batches (one executemany per table).
At :meth:`BatchWriter.finish` it settles what :meth:`SQLStore.write` settles before writing
anything: the same document imported again changes nothing, nor does a merge that brings
nothing new. Both raise :class:`Unchanged`, whose report is the one ``write`` gives; raised
inside :meth:`SQLStore.writing`, it rolls everything back.

What a batch cannot decide as ``write`` decides it for the whole document raises
:class:`NotBatchable` (or the database refuses the rows): a key used twice in the file, a
record already stored under ``on_duplicate="error"``, a value the tables cannot hold. The
caller then rolls back and writes the whole document, and ``write`` names the culprit.

The provenance row is inserted first (the records refer to it) and completed at the end, when
the file's sha256 and the document's digest are known.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, text
from sqlalchemy.exc import IntegrityError

from docmigrate.family import Family
from docmigrate.store.generic import (
    CollectionRows,
    Keyed,
    content_key,
    head_of,
    is_newest,
    newest_key_of,
)
from docmigrate.store.mapping import chunks
from docmigrate.store.production_history import ProductionHistoryMapping
from docmigrate.store.provenance import (
    Provenance,
    WriteReport,
    canonical_text,
    earlier_import,
    record_provenance,
)
from docmigrate.store.sql import OnDuplicate, _unordered_text, mapping_for
from docmigrate.store.tables import headers, heads, imports, records, runs

BATCH = 500
"""Records per batch: per-statement costs are already small, and memory stays low (measured)."""


class NotBatchable(Exception):
    """The records cannot be written batch by batch as ``write`` writes them whole."""


class Unchanged(Exception):
    """The write changes nothing: roll back, and report :attr:`report`."""

    def __init__(self, report: WriteReport) -> None:
        super().__init__("nothing to change")
        self.report = report


class _KeySet:
    """Keys seen in the file, kept in a temporary table: memory stays flat however many.

    Only the keys of skipped records go here (those written are in the store's own tables,
    under this import's id); re-importing a big file skips every record.
    """

    TABLE = "docmigrate_skipped_keys"

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.made = False

    def add(self, keys: Sequence[str]) -> None:
        """Add ``keys``; NotBatchable if one is already there (or repeated among them)."""
        if not keys:
            return
        if len(set(keys)) != len(keys):
            raise NotBatchable("a key is used twice in the file")
        if not self.made:
            self._make()
        try:
            self.conn.exec_driver_sql(
                f"INSERT INTO {self.TABLE} (record_key) VALUES ({_marker(self.conn)})",
                [(key,) for key in keys],
            )
        except IntegrityError:
            raise NotBatchable("a key is used twice in the file") from None

    def drop(self) -> None:
        """Drop the table before the import commits (a connection outlives its import)."""
        if self.made:
            self.conn.exec_driver_sql(f"DROP TABLE {self.TABLE}")
            self.made = False

    def _make(self) -> None:
        # A rolled-back import takes its table with it; one left by a crash is replaced.
        self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {self.TABLE}")
        self.conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {self.TABLE} (record_key TEXT PRIMARY KEY)"
        )
        self.made = True


def _marker(conn: Connection) -> str:
    """The driver's parameter marker."""
    return "?" if conn.dialect.paramstyle in ("qmark", "numeric") else "%s"


def _id_sequence(conn: Connection) -> str | None:
    """The sequence behind ``docmigrate_imports.id`` on PostgreSQL (None elsewhere)."""
    if conn.dialect.name != "postgresql":
        return None
    found = conn.execute(select(func.pg_get_serial_sequence(imports.name, "id"))).scalar()
    return None if found is None else str(found)


def _start_provenance(
    conn: Connection, family: Family, provenance: Provenance, sequence: str | None
) -> int:
    """Insert the provenance row (completed at the end) and return its id.

    On PostgreSQL the id is the one the sequence would give next, taken without moving the
    sequence (the writer's turn keeps other docmigrate writers out meanwhile).
    """
    zero = {"imported": 0, "skipped": 0, "replaced": 0}
    import_id = None
    if sequence is not None:
        last, called = conn.execute(text(f"SELECT last_value, is_called FROM {sequence}")).one()
        import_id = int(last) + 1 if called else int(last)
    return record_provenance(conn, family, provenance, zero, digest="", import_id=import_id)


def batch_writer(
    conn: Connection,
    family: Family,
    provenance: Provenance,
    on_duplicate: OnDuplicate | None,
    *,
    batch: int | None = None,
) -> BatchWriter:
    """Start writing a document of ``family`` in ``conn``; NotBatchable when that cannot be.

    ``batch``: records per batch (default :data:`BATCH`).
    """
    batch = BATCH if batch is None else batch
    problem = batch_problem(family)
    if problem is not None:
        raise NotBatchable(problem)
    mapping = mapping_for(family)
    if isinstance(mapping, ProductionHistoryMapping):
        return _MappedWriter(conn, family, provenance, on_duplicate or "skip", batch, mapping)
    return _GenericWriter(conn, family, provenance, on_duplicate or "skip", batch)


def batch_problem(family: Family) -> str | None:
    """Say why documents of ``family`` cannot be written in batches, or None when they can."""
    if len(family.collections) != 1 or family.collections[0].pointer != family.records_pointer:
        return "the family's records are not one [records] collection"
    mapping = mapping_for(family)
    if mapping is None and family.mode != "merge":
        return "a snapshot import is kept whole"
    if mapping is not None and not isinstance(mapping, ProductionHistoryMapping):
        return "the family's store mapping takes whole documents"
    return None


class BatchWriter:
    """Records in, batches out; what both the relational and the generic writers share."""

    def __init__(
        self,
        conn: Connection,
        family: Family,
        provenance: Provenance,
        on_duplicate: OnDuplicate,
        batch: int,
    ) -> None:
        self.conn = conn
        self.family = family
        self.on_duplicate = on_duplicate
        self.batch = batch
        self._sequence = _id_sequence(conn)
        self.import_id = _start_provenance(conn, family, provenance, self._sequence)
        self.pending: list[tuple[int, Any, str]] = []
        self.imported = self.skipped = self.replaced = 0
        self._look_up = False
        """Whether batches look up stored keys (the store held records of the family)."""
        self._skipped_keys = _KeySet(conn)
        """Keys of records left as stored: a second one in the file is a conflict."""

    def add(self, position: int, record: Any, text: bytes) -> None:
        """Take the next record (its index in the array and its canonical text, UTF-8)."""
        self.pending.append((position, record, self._kept(text)))
        if len(self.pending) >= self.batch:
            self._flush()

    def _kept(self, text: bytes) -> str:
        """What a pending record keeps of its canonical text (orjson's bytes carry slack)."""
        return ""

    def _flush(self) -> None:
        pending, self.pending = self.pending, []
        if pending:
            self._write(pending)
            if self._look_up:
                # The collector is paused for speed, but a query's result leaves reference
                # cycles that hold its parameters (the batch's keys): free them, or memory
                # grows. Only the objects made since the last batch are looked at.
                gc.collect(0)

    def _write(self, pending: list[tuple[int, Any, str]]) -> None:
        """Store a batch: fresh records inserted, stored ones skipped or replaced as asked."""
        items, keys = self._keyed(pending)
        fresh, known = self._split(keys, self._owners(keys) if self._look_up else {})
        changed: list[int] = []
        if known and self.on_duplicate == "replace":
            changed = self._changed(known, keys, items)
        replaced = set(changed)
        self._keep([keys[n] for n in known if n not in replaced])
        self.imported += len(fresh)
        self.replaced += len(changed)
        self._delete([keys[n] for n in changed])
        self._insert([items[n] for n in sorted(fresh + changed)])

    def _keyed(self, pending: list[tuple[int, Any, str]]) -> tuple[list[Any], list[str]]:
        """The batch's rows as this writer inserts them, and their keys."""
        raise NotImplementedError

    def _owners(self, keys: Sequence[str]) -> dict[str, int]:
        """The import that stored each of ``keys`` found in the store."""
        raise NotImplementedError

    def _changed(self, known: list[int], keys: Sequence[str], items: list[Any]) -> list[int]:
        """Which of the ``known`` (stored) records differ from what is stored."""
        raise NotImplementedError

    def _delete(self, keys: Sequence[str]) -> None:
        """Delete the stored records with ``keys`` (they are replaced)."""
        raise NotImplementedError

    def _insert(self, rows: list[Any]) -> None:
        """Insert rows made by :meth:`_keyed`."""
        raise NotImplementedError

    @property
    def total(self) -> int:
        """Records taken so far (once flushed)."""
        return self.imported + self.skipped + self.replaced

    def finish(self, header: Any, digest: str, provenance: Provenance) -> WriteReport:
        """Write what is left and complete the import; Unchanged when it changes nothing.

        ``header`` is the upgraded document with its records array empty and ``digest`` the
        :func:`~docmigrate.store.provenance.document_digest` of the whole upgraded document.
        """
        self._flush()
        self._skipped_keys.drop()
        self._take_header(header)
        earlier = earlier_import(self.conn, self.family.name, digest)
        # "error" on a merge family refuses a re-import, naming the stored records: whole.
        refuse = self.on_duplicate == "error" and self.family.mode == "merge"
        if earlier is not None and not refuse:
            raise Unchanged(
                WriteReport(self.family.name, None, 0, self.total, 0, already_imported=earlier)
            )
        return self._settle(header, digest, provenance)

    def _take_header(self, header: Any) -> None:
        """Read what the write needs from the header (raising what ``prepare`` raises)."""

    def _settle(self, header: Any, digest: str, provenance: Provenance) -> WriteReport:
        raise NotImplementedError

    def _split(self, keys: Sequence[str], owners: dict[str, int]) -> tuple[list[int], list[int]]:
        """Indexes of the batch's fresh records and of those stored by earlier imports.

        ``owners`` gives the import that stored each key found; one of this import means the
        file repeats a key, as does a repeat inside the batch.
        """
        if len(set(keys)) != len(keys) or self.import_id in owners.values():
            raise NotBatchable("a key is used twice in the file")
        if owners and self.on_duplicate == "error":
            raise NotBatchable("a record of the file is already stored")
        fresh = [n for n, key in enumerate(keys) if key not in owners]
        known = [n for n, key in enumerate(keys) if key in owners]
        return fresh, known

    def _keep(self, keys: Sequence[str]) -> None:
        """Note records left as stored (skipped); the file must not repeat their keys."""
        self._skipped_keys.add(keys)
        self.skipped += len(keys)

    def _complete(self, digest: str, provenance: Provenance, newest_key: str | None) -> None:
        """Give the provenance row its counts, hashes and time, now that they are known.

        On PostgreSQL the id sequence is moved past the row's id only now: an import rolled
        back leaves the ids as an in-memory import would (a sequence never rolls back).
        """
        if self._sequence is not None:
            self.conn.execute(select(func.setval(self._sequence, self.import_id, True)))
        self.conn.execute(
            imports.update()
            .where(imports.c.id == self.import_id)
            .values(
                imported=self.imported,
                skipped=self.skipped,
                replaced=self.replaced,
                removed=0,
                sha256=provenance.sha256,
                document_sha256=digest,
                newest_key=newest_key,
                imported_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
        )

    def _other_imports(self) -> bool:
        query = select(imports.c.id).where(
            imports.c.family == self.family.name, imports.c.id != self.import_id
        )
        return self.conn.execute(query.limit(1)).first() is not None


class _MappedWriter(BatchWriter):
    """Runs into the production-history tables (merge mode: records accumulate)."""

    def __init__(
        self,
        conn: Connection,
        family: Family,
        provenance: Provenance,
        on_duplicate: OnDuplicate,
        batch: int,
        mapping: ProductionHistoryMapping,
    ) -> None:
        super().__init__(conn, family, provenance, on_duplicate, batch)
        self.mapping = mapping
        # An empty table holds nothing to look up: a key the file repeats is then refused by
        # the primary key, and the whole-document write names it.
        self._look_up = conn.execute(select(runs.c.uuid).limit(1)).first() is not None

    def _owners(self, keys: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for part in chunks(keys):
            query = select(runs.c.uuid, runs.c.import_id).where(runs.c.uuid.in_(part))
            found.update((uuid, owner) for uuid, owner in self.conn.execute(query))
        return found

    def _keyed(self, pending: list[tuple[int, Any, str]]) -> tuple[list[Any], list[str]]:
        key_of = self.mapping.key_of
        items = [(position, key_of(record, position), record) for position, record, _ in pending]
        return items, [key for _, key, _ in items]

    def _changed(self, known: list[int], keys: Sequence[str], items: list[Any]) -> list[int]:
        stored = self.mapping.existing(self.conn, [keys[n] for n in known])
        return [
            n for n in known if _unordered_text(stored[keys[n]]) != _unordered_text(items[n][2])
        ]

    def _delete(self, keys: Sequence[str]) -> None:
        self.mapping.delete(self.conn, keys)

    def _insert(self, rows: list[Any]) -> None:
        self.mapping.insert(self.conn, self.import_id, rows, name_conflicts=False)

    def _settle(self, header: Any, digest: str, provenance: Provenance) -> WriteReport:
        report = WriteReport(self.family.name, None, self.imported, self.skipped, self.replaced)
        if not self.imported and not self.replaced and self._other_imports():
            raise Unchanged(report)  # nothing new: not even a provenance row
        self._complete(digest, provenance, None)
        return WriteReport(
            self.family.name, self.import_id, self.imported, self.skipped, self.replaced
        )


class _GenericWriter(BatchWriter):
    """Records as exact JSON text in ``docmigrate_records`` (merge mode)."""

    def __init__(
        self,
        conn: Connection,
        family: Family,
        provenance: Provenance,
        on_duplicate: OnDuplicate,
        batch: int,
    ) -> None:
        super().__init__(conn, family, provenance, on_duplicate, batch)
        self.rows = CollectionRows(family.name, family.collections[0])
        self._mine = (
            records.c.family == family.name,
            records.c.collection == family.collections[0].name,
        )
        self._newest_key: str | None = None
        self._header_text = ""
        self._stored_texts: dict[str, str] = {}
        """The stored text of the batch's records found in the store (by key)."""
        self._seen: Counter[str] = Counter()
        """How often each unkeyed record's content occurred (the n-th is a record of its own)."""
        query = select(records.c.record_key).where(*self._mine).limit(1)
        self._look_up = conn.execute(query).first() is not None

    def _kept(self, text: bytes) -> str:
        return text.decode("utf-8")  # the records' data column

    def _key(self, record: Any, text: str) -> str:
        """The key :meth:`CollectionRows.keyed` gives the record at this point of the file."""
        key = self.rows.field_key(record)
        return content_key(text, self._seen) if key is None else key

    def _owners(self, keys: Sequence[str]) -> dict[str, int]:
        """The import of each stored record among ``keys`` (their texts kept for _changed)."""
        self._stored_texts.clear()
        found: dict[str, int] = {}
        for part in chunks(keys):
            query = select(records.c.record_key, records.c.import_id, records.c.data).where(
                *self._mine, records.c.record_key.in_(part)
            )
            for key, owner, data in self.conn.execute(query):
                found[key] = owner
                self._stored_texts[key] = data
        return found

    def _keyed(self, pending: list[tuple[int, Any, str]]) -> tuple[list[Any], list[str]]:
        items = [
            Keyed(position, self._key(record, text), record, text)
            for position, record, text in pending
        ]
        return items, [item.key for item in items]

    def _changed(self, known: list[int], keys: Sequence[str], items: list[Any]) -> list[int]:
        return [n for n in known if self._stored_texts[keys[n]] != items[n].text]

    def _delete(self, keys: Sequence[str]) -> None:
        self.rows.delete(self.conn, keys)

    def _insert(self, rows: list[Any]) -> None:
        self.rows.insert(self.conn, self.import_id, rows)

    def _take_header(self, header: Any) -> None:
        self._newest_key = newest_key_of(header, self.family)
        self._header_text = canonical_text(header)

    def _settle(self, header: Any, digest: str, provenance: Provenance) -> WriteReport:
        head = head_of(self.conn, self.family.name)
        newest_key, header_text = self._newest_key, self._header_text
        newest = is_newest(newest_key, head)
        header_changes = newest and (head is None or head.header != header_text)
        if not header_changes and not self.imported and not self.replaced:
            # Nothing new: not even a provenance row.
            raise Unchanged(self._report(None, current=newest))
        self._complete(digest, provenance, newest_key)
        self.conn.execute(
            headers.insert().values(
                import_id=self.import_id, family=self.family.name, header=header_text
            )
        )
        if newest:
            self.conn.execute(delete(heads).where(heads.c.family == self.family.name))
            self.conn.execute(
                heads.insert().values(family=self.family.name, import_id=self.import_id)
            )
        return self._report(self.import_id, current=newest)

    def _report(self, import_id: int | None, *, current: bool) -> WriteReport:
        return WriteReport(
            family=self.family.name,
            import_id=import_id,
            imported=self.imported,
            skipped=self.skipped,
            replaced=self.replaced,
            current=current,
        )
