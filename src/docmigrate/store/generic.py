"""The generic mapping: any family's collections as exact JSON text, one row per record.

A family declares its collections in family.toml (``[records.NAME]``: a pointer to an array and
a key). A record's key is the value of its collection's key member (as JSON text, so that ``1``
and ``"1"`` differ). A record without a usable key (no such member, or a value that is not a
non-empty string or an integer) is keyed by the sha256 of its JSON text, numbered when the same
record occurs again in one array: importing it again is then recognised as a duplicate, and a
changed record is a new one.

What an import does depends on the family's ``mode``:

* ``merge``: records accumulate; a key already stored is skipped, replaced when its text
  differs, or fails the file, as ``on_duplicate`` says. A write that would change no record and
  no header is a no-op.
* ``snapshot``: an import is the application's whole state. If it is the newest import (by the
  family's ``newest_by`` value, else by import order) it becomes the current state: records it
  lacks are removed, changed ones replaced, positions follow it. An older one changes nothing
  current. Either way the whole document is kept and can be exported by its import id.

In both modes the current header is the newest import's document with its collections emptied;
records and headers are compared by their canonical text (see ``canonical_text``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update

from docmigrate import jsonio
from docmigrate.exceptions import (
    DuplicateRecordError,
    NothingStoredError,
    RecordConflictError,
    RecordsPointerError,
)
from docmigrate.family import Collection, Family
from docmigrate.pointers import format_pointer, json_path
from docmigrate.store.mapping import bulk_insert, chunks
from docmigrate.store.production_history import utc_sort_key
from docmigrate.store.provenance import (
    Provenance,
    WriteReport,
    canonical_text,
    record_provenance,
)
from docmigrate.store.tables import headers, heads, imports, records, snapshots


@dataclass(frozen=True)
class Keyed:
    """One record of a document, with its key and canonical text."""

    position: int
    key: str
    record: Any
    text: str


@dataclass(frozen=True)
class Stored:
    """One record of the current state: its canonical text and position."""

    text: str
    position: int


def content_key(text: str, seen: Counter[str]) -> str:
    """The key of an unkeyed record: its canonical ``text``'s sha256, numbered by ``seen``.

    The n-th identical unkeyed record of a file is a record of its own, not a duplicate;
    ``seen`` counts the digests met so far in the file.
    """
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    seen[digest] += 1
    return f"content:{digest}" + (f"#{seen[digest]}" if seen[digest] > 1 else "")


class CollectionRows:
    """The rows of one collection of one family in ``docmigrate_records``."""

    def __init__(self, family: str, collection: Collection) -> None:
        self.family = family
        self.collection = collection
        self._mine = (records.c.family == family, records.c.collection == collection.name)

    def keyed(self, items: list[Any]) -> list[Keyed]:
        """Key each record; refuse a key used twice (RecordConflictError at the second one)."""
        seen: Counter[str] = Counter()
        first_at: dict[str, int] = {}
        result = []
        for position, record in enumerate(items):
            text = canonical_text(record)
            key = self.field_key(record)
            if key is None:
                key = content_key(text, seen)
            elif key in first_at:
                where: tuple[str | int, ...] = (*self.collection.pointer, position)
                earlier = json_path((*self.collection.pointer, first_at[key]))
                raise RecordConflictError(
                    where,
                    f"key {key} is used twice in the file (first at {earlier}); "
                    "a record's key must be unique",
                )
            first_at[key] = position
            result.append(Keyed(position, key, record, text))
        return result

    def field_key(self, record: Any) -> str | None:
        """The record's key from its key field, or None (no key field, or not a usable value)."""
        name = self.collection.key
        if name is None or not isinstance(record, dict):
            return None
        value = record.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            return "field:" + jsonio.dumps(value, indent=None)
        return None

    def existing(self, conn: Connection, keys: Sequence[str]) -> dict[str, Stored]:
        """Return the stored records among ``keys``."""
        found: dict[str, Stored] = {}
        for part in chunks(keys):
            query = select(records.c.record_key, records.c.data, records.c.position).where(
                *self._mine, records.c.record_key.in_(part)
            )
            found.update((key, Stored(data, pos)) for key, data, pos in conn.execute(query))
        return found

    def current(self, conn: Connection) -> dict[str, Stored]:
        """Return every stored record of the collection."""
        query = select(records.c.record_key, records.c.data, records.c.position).where(*self._mine)
        return {key: Stored(data, pos) for key, data, pos in conn.execute(query)}

    def delete(self, conn: Connection, keys: Sequence[str]) -> None:
        """Delete the records with ``keys``."""
        for part in chunks(keys):
            conn.execute(delete(records).where(*self._mine, records.c.record_key.in_(part)))

    def insert(self, conn: Connection, import_id: int, items: Sequence[Keyed]) -> None:
        """Insert the records with their exact JSON text."""
        rows = [
            (
                self.family,
                self.collection.name,
                item.key,
                item.key.split(":", 1)[0],
                import_id,
                item.position,
                item.text,
            )
            for item in items
        ]
        columns = (
            "family",
            "collection",
            "record_key",
            "key_source",
            "import_id",
            "position",
            "data",
        )
        bulk_insert(conn, records, columns, rows)

    def move(self, conn: Connection, moves: Sequence[tuple[str, int]]) -> None:
        """Give unchanged records the positions they have in the newest snapshot."""
        if not moves:
            return
        statement = (
            update(records)
            .where(*self._mine, records.c.record_key == bindparam("moved_key"))
            .values(position=bindparam("new_position"))
        )
        conn.execute(statement, [{"moved_key": k, "new_position": p} for k, p in moves])

    def read(self, conn: Connection, *, by_import: bool) -> list[Any]:
        """Return the records in export order: by position (after import id when merging)."""
        order = (records.c.import_id, records.c.position) if by_import else (records.c.position,)
        query = select(records.c.data).where(*self._mine).order_by(*order, records.c.record_key)
        return [jsonio.loads(data) for (data,) in conn.execute(query)]


@dataclass(frozen=True)
class Prepared:
    """A document ready to be written: its records keyed, its header and order value."""

    document: Any
    collections: tuple[tuple[CollectionRows, list[Keyed]], ...]
    header_text: str
    newest_key: str | None

    @property
    def total(self) -> int:
        """How many records the document holds, over all collections."""
        return sum(len(keyed) for _, keyed in self.collections)


def prepare(document: Any, family: Family) -> Prepared:
    """Find and key every collection of ``document``; raise a StoreError if one cannot be stored."""
    header = jsonio.clone(document)
    found = []
    for collection in family.collections:
        items = records_at(document, collection)
        rows = CollectionRows(family.name, collection)
        found.append((rows, rows.keyed(items)))
        parent = _parent(header, collection.pointer)
        parent[collection.pointer[-1]] = []
    return Prepared(
        document=document,
        collections=tuple(found),
        header_text=canonical_text(header),
        newest_key=newest_key_of(document, family),
    )


def records_at(document: Any, collection: Collection) -> list[Any]:
    """Return the array ``collection`` points at; RecordsPointerError naming it otherwise."""
    shown = collection.pointer_text
    value = document
    for depth, token in enumerate(collection.pointer):
        where = collection.pointer[:depth]
        if isinstance(value, list):
            raise RecordsPointerError(
                shown,
                f"goes through an array at {json_path(where)}; a records pointer must lead "
                f"through objects only (collection {collection.name!r})",
                path=where,
            )
        if not isinstance(value, dict) or token not in value:
            raise RecordsPointerError(
                shown,
                f"the document has no {json_path((*where, token))}, where collection "
                f"{collection.name!r} should be; nothing was stored",
                path=where,
            )
        value = value[token]
    if not isinstance(value, list):
        raise RecordsPointerError(
            shown,
            f"{json_path(collection.pointer)} is {_kind(value)}, not an array of records "
            f"(collection {collection.name!r}); nothing was stored",
            path=collection.pointer,
        )
    return value


def newest_key_of(document: Any, family: Family) -> str | None:
    """Return the sort key of the document's ``newest_by`` value (None without newest_by)."""
    if family.newest_by is None:
        return None
    pointer = family.newest_by
    value = document
    for token in pointer:
        if not isinstance(value, dict) or token not in value:
            raise RecordsPointerError(
                format_pointer(pointer),
                f"the document has no {json_path(pointer)}, which newest_by names to order "
                "imports; nothing was stored",
            )
        value = value[token]
    if not isinstance(value, str):
        raise RecordsPointerError(
            format_pointer(pointer),
            f"{json_path(pointer)} is {_kind(value)}; newest_by needs a timestamp or text",
            path=pointer,
        )
    return utc_sort_key(value)


def _parent(document: Any, pointer: tuple[str, ...]) -> dict[str, Any]:
    value = document
    for token in pointer[:-1]:
        value = value[token]
    assert isinstance(value, dict)
    return value


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


@dataclass(frozen=True)
class Head:
    """The current import of a family: its id, order value and header text."""

    import_id: int
    newest_key: str | None
    header: str


def head_of(conn: Connection, family: str) -> Head | None:
    """Return the family's current import, or None before its first one."""
    query = (
        select(heads.c.import_id, imports.c.newest_key, headers.c.header)
        .join(imports, imports.c.id == heads.c.import_id)
        .join(headers, headers.c.import_id == heads.c.import_id)
        .where(heads.c.family == family)
    )
    row = conn.execute(query).first()
    return None if row is None else Head(row[0], row[1], row[2])


def is_newest(newest_key: str | None, head: Head | None) -> bool:
    """Whether a document with ``newest_key`` becomes current (newer than the head, or tied)."""
    if head is None or newest_key is None or head.newest_key is None:
        return True
    return newest_key >= head.newest_key


@dataclass
class _Changes:
    """What a write does to one collection."""

    rows: CollectionRows
    fresh: list[Keyed]
    changed: list[Keyed]
    removed: list[str]
    moved: list[tuple[str, int]]
    unchanged: int


def write(
    conn: Connection,
    family: Family,
    prepared: Prepared,
    provenance: Provenance,
    *,
    on_duplicate: str | None,
    digest: str,
) -> WriteReport:
    """Write a prepared document of a generic family, inside the caller's transaction."""
    head = head_of(conn, family.name)
    newest = is_newest(prepared.newest_key, head)
    if family.mode == "snapshot":
        changes = _snapshot_changes(conn, prepared, on_duplicate) if newest else []
    else:
        changes = _merge_changes(conn, prepared, on_duplicate or "skip")
    counts = {
        "imported": sum(len(c.fresh) for c in changes),
        "replaced": sum(len(c.changed) for c in changes),
        "removed": sum(len(c.removed) for c in changes),
        "skipped": sum(c.unchanged for c in changes),
    }
    header_changes = newest and (head is None or head.header != prepared.header_text)
    records_change = any(c.fresh or c.changed or c.removed for c in changes)
    if family.mode == "merge" and not header_changes and not records_change:
        # Nothing new: not even a provenance row.
        return _report(family, None, counts, current=newest)
    import_id = record_provenance(
        conn, family, provenance, counts, digest=digest, newest_key=prepared.newest_key
    )
    conn.execute(
        headers.insert().values(
            import_id=import_id, family=family.name, header=prepared.header_text
        )
    )
    if family.mode == "snapshot":
        conn.execute(
            snapshots.insert().values(
                import_id=import_id, family=family.name, document=canonical_text(prepared.document)
            )
        )
    for change in changes:
        change.rows.delete(conn, [*change.removed, *(item.key for item in change.changed)])
        change.rows.move(conn, change.moved)
        change.rows.insert(conn, import_id, sorted(change.fresh + change.changed, key=_position))
    if newest:
        conn.execute(delete(heads).where(heads.c.family == family.name))
        conn.execute(heads.insert().values(family=family.name, import_id=import_id))
    return _report(family, import_id, counts, current=newest)


def _report(
    family: Family, import_id: int | None, counts: dict[str, int], *, current: bool
) -> WriteReport:
    return WriteReport(
        family=family.name,
        import_id=import_id,
        imported=counts["imported"],
        skipped=counts["skipped"],
        replaced=counts["replaced"],
        removed=counts["removed"],
        current=current,
    )


def _position(item: Keyed) -> int:
    return item.position


def _merge_changes(conn: Connection, prepared: Prepared, on_duplicate: str) -> list[_Changes]:
    """Records accumulate: new keys are added, stored ones skipped, replaced or refused."""
    result = []
    for rows, keyed in prepared.collections:
        stored = rows.existing(conn, [item.key for item in keyed])
        if stored and on_duplicate == "error":
            first = next(item.position for item in keyed if item.key in stored)
            raise DuplicateRecordError(
                rows.family, sorted(stored), path=(*rows.collection.pointer, first)
            )
        fresh = [item for item in keyed if item.key not in stored]
        changed = []
        if on_duplicate == "replace":
            changed = [i for i in keyed if i.key in stored and stored[i.key].text != i.text]
        unchanged = len(keyed) - len(fresh) - len(changed)
        result.append(_Changes(rows, fresh, changed, [], [], unchanged))
    return result


def _snapshot_changes(
    conn: Connection, prepared: Prepared, on_duplicate: str | None
) -> list[_Changes]:
    """The newest snapshot is the state: add, replace, move and remove to match it."""
    result = []
    for rows, keyed in prepared.collections:
        stored = rows.current(conn)
        fresh = [item for item in keyed if item.key not in stored]
        changed = [i for i in keyed if i.key in stored and stored[i.key].text != i.text]
        kept = {item.key for item in keyed}
        removed = sorted(key for key in stored if key not in kept)
        moved = [
            (i.key, i.position)
            for i in keyed
            if i.key in stored
            and stored[i.key].text == i.text
            and stored[i.key].position != i.position
        ]
        if on_duplicate == "error" and (changed or removed):
            first = changed[0].position if changed else 0
            raise DuplicateRecordError(
                rows.family,
                sorted([*removed, *(item.key for item in changed)]),
                path=(*rows.collection.pointer, first),
            )
        unchanged = len(keyed) - len(fresh) - len(changed)
        result.append(_Changes(rows, fresh, changed, removed, moved, unchanged))
    return result


def read(conn: Connection, family: Family, nothing: str) -> Any:
    """Return the current state of a generic family as one document."""
    head = head_of(conn, family.name)
    if head is None:
        raise NothingStoredError(family.name, nothing)
    document = jsonio.loads(head.header)
    for collection in family.collections:
        rows = CollectionRows(family.name, collection)
        items = rows.read(conn, by_import=family.mode == "merge")
        _parent(document, collection.pointer)[collection.pointer[-1]] = items
    return document


def read_snapshot(conn: Connection, family: Family, import_id: int, nothing: str) -> Any:
    """Return the whole document that snapshot import ``import_id`` of ``family`` stored."""
    query = select(snapshots.c.document).where(
        snapshots.c.family == family.name, snapshots.c.import_id == import_id
    )
    text = conn.execute(query).scalar()
    if text is None:
        raise NothingStoredError(family.name, nothing)
    return jsonio.loads(text)
