"""Import a big file record by record: read, validate, upgrade and store in batches.

The streaming pipeline of :mod:`docmigrate.streaming` reads the file (header once, then one
record at a time), validates each record and runs the plan's per-record steps on it; a
:class:`~docmigrate.store.streamed.BatchWriter` writes the upgraded records in batches, all in
one transaction (all of the file or nothing, as ever). Memory does not grow with the number
of records.

The result is the in-memory import's: the same rows, counts and provenance. The document's
digest (by which a file imported again is recognised) is hashed as the records pass, from the
same canonical text :func:`~docmigrate.store.provenance.document_digest` hashes whole.
Whatever the stream cannot settle on its own raises :class:`NotStreamable` after rolling
back, and the caller imports the file in memory, which says exactly what is wrong and where:
an invalid record or header, a step that fails, a key used twice, a value the tables refuse.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from docmigrate import jsonio
from docmigrate.exceptions import (
    DocmigrateError,
    StepTimeoutError,
    StoreBusyError,
    StoreError,
    StoreLayoutError,
    StoreNotFoundError,
    StoreURLError,
)
from docmigrate.family import Family, Step
from docmigrate.jsonio.streaming import NotStreamable, RecordReader
from docmigrate.jsonio.writing import (
    _checked_layout,
    _orjson_bytes,
    _orjson_default,
    _python_write,
)
from docmigrate.registry import Registry
from docmigrate.store import OnDuplicate, Provenance, SQLStore, WriteReport
from docmigrate.store.provenance import canonical_text
from docmigrate.store.streamed import NotBatchable, Unchanged, batch_problem, batch_writer
from docmigrate.streaming import (
    RECORDS_MARK,
    RecordErrors,
    RecordSteps,
    Retry,
    UpgradeSettings,
    check_header,
    open_limited,
    plan_reason,
    record_validator,
    start_pass,
    with_retries,
)

__all__ = ["ImportSettings", "StreamedImport", "import_stream"]


@dataclass(frozen=True)
class ImportSettings:
    """How to import: the command line's options that the streaming pass needs."""

    family_name: str | None = None
    max_file_size: int | None = None
    step_timeout: float | None = None
    on_duplicate: OnDuplicate | None = None


@dataclass
class StreamedImport:
    """What :func:`import_stream` did with one file."""

    family: Family
    version: str
    target: str
    plan: tuple[Step, ...]
    written: WriteReport | None = None
    """What the store did; None when ``failure`` says why nothing was imported."""
    failure: DocmigrateError | None = None
    """A step that ran out of time, or a store that could not be written (busy, gone...)."""


def import_stream(
    path: Path, registry: Registry, store: SQLStore, settings: ImportSettings
) -> StreamedImport:
    """Import the file at ``path`` into ``store`` record by record, in one transaction.

    Raises NotStreamable (with nothing written) when the file must be imported in memory,
    and OSError (``FileTooLargeError`` included) when it cannot be read.
    """
    try:
        return with_retries(lambda known, _: _import_pass(path, registry, store, settings, known))
    except NotBatchable as reason:
        raise NotStreamable(str(reason)) from None


def _import_pass(
    path: Path, registry: Registry, store: SQLStore, settings: ImportSettings, known: Any
) -> StreamedImport:
    file_hash = hashlib.sha256()
    with open_limited(path, settings.max_file_size) as stream:
        reader, family, version, head = start_pass(
            path,
            stream,
            registry,
            settings.family_name,
            settings.max_file_size,
            known,
            on_bytes=file_hash.update,
        )
        plan = _plan(family, version, reader.pointer)
        result = StreamedImport(family, version, family.current, plan)
        work = _Work(registry, settings, reader, result, head if known is None else known)
        try:
            with store.writing() as conn:
                result.written = work.run(conn, path, file_hash.hexdigest)
        except Unchanged as unchanged:
            result.written = unchanged.report
        except StepTimeoutError as error:
            result.failure = error
        except StoreError as error:
            if _told_by_whole_write(error):
                raise NotStreamable(f"the store refused a record ({error})") from None
            result.failure = error
    return result


class _Work:
    """One pass over the records: validate, upgrade, hash and hand each to the batch writer."""

    def __init__(
        self,
        registry: Registry,
        settings: ImportSettings,
        reader: RecordReader,
        result: StreamedImport,
        assumed: Any,
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.reader = reader
        self.result = result
        family, pointer = result.family, reader.pointer
        self.upgrade = UpgradeSettings(
            family_name=settings.family_name, step_timeout=settings.step_timeout
        )
        self.steps = RecordSteps(family, result.plan, pointer, self.upgrade)
        self.validator = record_validator(family, result.version, pointer)
        header = self.steps.header(assumed, check=False)
        self.digest = _DocumentDigest(header, pointer, as_read=not result.plan)

    def run(self, conn: Connection, path: Path, sha256: Callable[[], str]) -> WriteReport:
        """Store every record in ``conn``; the import's report (Unchanged when it changes none).

        ``sha256`` gives the file's hash once it has been read to its end.
        """
        result, reader, pointer = self.result, self.reader, self.reader.pointer
        steps = tuple(str(step.info) for step in result.plan)
        provenance = Provenance(path.name, "", result.version, steps)
        writer = batch_writer(conn, result.family, provenance, self.settings.on_duplicate)
        errors = RecordErrors()
        for record in reader.records():
            if not errors.add_record(self.validator, record, pointer):
                raise NotStreamable("a record is invalid (reading it whole places it)")
            value = self.steps.apply(record)
            writer.add(record.index, value, self.digest.add(value))
        header = reader.finish()
        check_header(self.registry, self.upgrade, header, result.family, result.version, errors)
        if errors.found:
            raise NotStreamable("the header is invalid (reading it whole places it)")
        finished = self.steps.header(header.value)
        document_digest = self.digest.finish(finished, header.value)
        provenance = replace(provenance, sha256=sha256())
        return writer.finish(finished, document_digest, provenance)


def _plan(family: Family, version: str, pointer: tuple[str, ...]) -> tuple[Step, ...]:
    """The plan to the current version; NotStreamable unless it runs (and stores) by record."""
    try:
        plan = family.plan(version, family.current)
    except DocmigrateError as error:
        raise NotStreamable(str(error)) from None
    reason = plan_reason(family, plan, pointer) or batch_problem(family)
    if reason is not None:
        raise NotStreamable(reason)
    return plan


def _told_by_whole_write(error: StoreError) -> bool:
    """Whether the in-memory write should report ``error``: it names the record at fault.

    A refused row (a key or uuid used twice, a value the tables cannot hold) is placed by the
    whole-document write; a store that is busy or out of reach is not about any record.
    """
    if isinstance(error, StoreBusyError | StoreNotFoundError | StoreURLError | StoreLayoutError):
        return False
    return type(error) is not StoreError or isinstance(error.__cause__, IntegrityError)


_CANONICAL = _checked_layout(None, None, "\n")
"""The layout of :func:`~docmigrate.store.provenance.canonical_text` (compact, one line)."""


def _canonical_bytes(value: Any) -> bytes:
    """``canonical_text(value)`` as UTF-8; NotStreamable for what is not exact JSON."""
    try:
        data = _orjson_bytes(value, _CANONICAL, "")
        if data is None:
            data = _python_write(value, _CANONICAL, False).encode("utf-8")
    except (TypeError, ValueError):  # the in-memory path says what and where
        raise NotStreamable("a step returned a value that is not exact JSON") from None
    return data


def _read_canonical_bytes(value: Any) -> bytes:
    """:func:`_canonical_bytes` of a value exactly as the reader gave it (no step changed it).

    What the reader gives is exact JSON within the depth limit, so the check that refuses
    floats, tuples and deep nesting before orjson writes (most of the cost) is not needed.
    """
    try:
        return orjson.dumps(value, default=_orjson_default)
    except TypeError:  # a big integer or a lone surrogate: the pure writer's text
        return _python_write(value, _CANONICAL, False).encode("utf-8")


class _DocumentDigest:
    """The sha256 of the upgraded document's canonical text, hashed as its records pass.

    The canonical text of the document is that of its header with the records array written
    in place: the header's text up to the array, ``[``, the records' texts joined by ``,``,
    ``]`` and the rest of the header's text. The part up to the array is taken from the header
    as known at the start; if the end of the file changes it, the pass is run again.
    """

    def __init__(self, assumed: Any, pointer: tuple[str, ...], *, as_read: bool) -> None:
        self.pointer = pointer
        self.canonical = _read_canonical_bytes if as_read else _canonical_bytes
        self.start = self._parts(assumed)[0]
        self.hash = hashlib.sha256(self.start.encode("utf-8"))
        self.count = 0

    def add(self, record: Any) -> bytes:
        """Hash the next record; return its canonical text (UTF-8)."""
        data = self.canonical(record)
        self.hash.update(b"," if self.count else b"[")
        self.hash.update(data)
        self.count += 1
        return data

    def finish(self, upgraded: Any, read: Any) -> str:
        """The digest, given the whole upgraded header (``read``: as read, for a new pass)."""
        start, end = self._parts(upgraded)
        if start != self.start:
            raise Retry(read)
        self.hash.update(b"]" if self.count else b"[]")
        self.hash.update(end.encode("utf-8"))
        return self.hash.hexdigest()

    def _parts(self, header: Any) -> tuple[str, str]:
        """The header's canonical text before and after its (empty) records array."""
        marked = jsonio.clone(header)
        self._placeholder(marked)
        text = canonical_text(marked)
        mark = canonical_text(RECORDS_MARK)
        if text.count(mark) != 1:
            raise NotStreamable("the header holds the records placeholder")
        start, end = text.split(mark)
        return start, end

    def _placeholder(self, marked: Any) -> None:
        parent = marked
        for token in self.pointer[:-1]:
            parent = parent[token]
        parent[self.pointer[-1]] = RECORDS_MARK
