"""The import and export verbs: files to a store and a store to a file.

Import runs read -> detect -> validate -> upgrade to current -> write, per file, and each file
is written in one transaction: all of its records or none.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from docmigrate import jsonio
from docmigrate.archive import WORKER_DIED, anchor
from docmigrate.commands import (
    DEFAULT_MAX_FILE_SIZE,
    file_guard,
    open_document,
    record_migration_failure,
    streamed,
    worth_streaming,
)
from docmigrate.exceptions import DocmigrateError, StepTimeoutError, StoreError
from docmigrate.family import Family
from docmigrate.files import iter_json_files
from docmigrate.migrator import migrate
from docmigrate.pointers import json_path
from docmigrate.registry import Registry
from docmigrate.reports import FileReport, Problem
from docmigrate.store import OnDuplicate, Provenance, SQLStore, Store, WriteReport, open_store
from docmigrate.streamed_import import ImportSettings, import_stream
from docmigrate.validation import validate


def import_paths(
    paths: Sequence[str | Path],
    registry: Registry,
    store: Store,
    *,
    on_duplicate: OnDuplicate | None = None,
    family_name: str | None = None,
    exclude: Sequence[str] = (),
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    step_timeout: float | None = None,
) -> Iterator[FileReport]:
    """Import each file into ``store``; a failing file leaves the store as it was.

    Nothing raised while handling one file stops the others (see
    :func:`docmigrate.commands.file_guard`).
    """
    for path, _root in iter_json_files(paths, exclude):
        report = FileReport(path=str(path))
        with file_guard(report):
            _import_one(
                path,
                registry,
                store,
                report,
                on_duplicate=on_duplicate,
                family_name=family_name,
                max_file_size=max_file_size,
                step_timeout=step_timeout,
            )
        yield report


def _import_one(
    path: Path,
    registry: Registry,
    store: Store,
    report: FileReport,
    *,
    on_duplicate: OnDuplicate | None,
    family_name: str | None,
    max_file_size: int,
    step_timeout: float | None,
) -> None:
    settings = ImportSettings(family_name, max_file_size, step_timeout, on_duplicate)
    if import_streaming(path, registry, store, report, settings):
        return
    prepared = prepare_import(path, registry, report, family_name, max_file_size, step_timeout)
    if prepared is not None:
        store_import(prepared, store, report, on_duplicate=on_duplicate)


def import_streaming(
    path: Path, registry: Registry, store: Store, report: FileReport, settings: ImportSettings
) -> bool:
    """Import ``path`` record by record when that applies; False: import it whole instead."""
    if not isinstance(store, SQLStore):
        report.pipeline = "in memory: the store takes whole documents"
        return False
    result = streamed(path, report, lambda: import_stream(path, registry, store, settings))
    if result is None:
        return False
    report.family, report.version = result.family.name, result.version
    if isinstance(result.failure, StepTimeoutError):  # as migrate's failure is reported
        report.problems.append(Problem(1, 1, "$", str(result.failure), "StepTimeoutError"))
        return True
    report.target = result.target
    report.steps = [str(step.info) for step in result.plan]
    if result.failure is not None:
        message = f"nothing imported: {result.failure}"
        report.problems.append(Problem(1, 1, "$", message, "store"))
    elif result.written is not None:
        report.action = import_action(result.written)
        report.counts = result.written.counts
    return True


@dataclass
class PreparedImport:
    """A document read, validated and upgraded to current, ready to be written to a store."""

    path: Path
    document: Any
    family: Family
    provenance: Provenance
    loaded: jsonio.LoadedDocument | None
    """The document as read, to place store errors by line; None: read the file again."""


def prepare_import(
    path: Path,
    registry: Registry,
    report: FileReport,
    family_name: str | None = None,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    step_timeout: float | None = None,
) -> PreparedImport | None:
    """Read, detect, validate and upgrade ``path`` for import; on failure, say why in ``report``."""
    opened = open_document(path, registry, family_name, report, max_file_size=max_file_size)
    if opened is None:
        return None
    try:
        result = migrate(opened.loaded.value, opened.family, step_timeout=step_timeout)
    except DocmigrateError as error:
        record_migration_failure(opened.loaded, error, report)
        return None
    report.target = result.target
    report.steps = [str(step.info) for step in result.plan]
    provenance = Provenance(
        file_name=path.name,
        sha256=hashlib.sha256(opened.raw).hexdigest(),
        source_version=result.source,
        steps=tuple(report.steps),
    )
    return PreparedImport(path, result.document, opened.family, provenance, opened.loaded)


def store_import(
    prepared: PreparedImport,
    store: Store,
    report: FileReport,
    *,
    on_duplicate: OnDuplicate | None = None,
) -> None:
    """Write a prepared document to ``store`` in one transaction; say what it did in ``report``."""
    try:
        written = store.write(
            prepared.document, prepared.family, prepared.provenance, on_duplicate=on_duplicate
        )
    except StoreError as error:
        report.problems.append(_store_problem(prepared, error))
    else:
        report.action = import_action(written)
        report.counts = written.counts


@dataclass(frozen=True)
class ImportOptions:
    """How ``import`` treats each file (picklable: it travels to Dask workers)."""

    family_name: str | None = None
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    step_timeout: float | None = None
    on_duplicate: OnDuplicate | None = None


class PreparedReport(FileReport):
    """A file's report that also carries its prepared document to the process that stores it.

    ``prepared`` and ``import_here`` are not dataclass fields, so reports and JSON output are
    those of any file.
    """

    prepared: tuple[Any, str, Provenance] | None = None
    """The document upgraded to current, its family's name and the provenance to record."""
    import_here: bool = False
    """The file is big enough to stream: the process that stores it imports it itself."""


_WORKER_STORES: dict[str, Store] = {}
_OPENING = threading.Lock()


def _worker_store(db: str) -> Store:
    """The store at ``db``, opened once per worker process (and closed when it exits)."""
    with _OPENING:
        if db not in _WORKER_STORES:
            _WORKER_STORES[db] = open_store(db)
        return _WORKER_STORES[db]


@dataclass(frozen=True)
class ImportTask:
    """Import one file, on a worker: into ``db`` there, or (``db`` None) only up to storing.

    Without ``db`` the report is a :class:`PreparedReport` and the process that gathers the
    reports stores each in order (:func:`store_prepared`): a SQLite database has one writer.
    Files big enough to stream are left to that process to import, streamed.
    """

    path: Path
    options: ImportOptions
    db: str | None = None

    def run(self, registry: Registry) -> FileReport:
        """Read, validate and upgrade the file, and write it if a database is named."""
        report = (
            PreparedReport(path=str(self.path))
            if self.db is None
            else FileReport(path=str(self.path))
        )
        with file_guard(report):
            options = self.options
            if self._streamed(registry, report):
                return report
            prepared = prepare_import(
                self.path,
                registry,
                report,
                options.family_name,
                options.max_file_size,
                options.step_timeout,
            )
            if prepared is None:
                return report
            if self.db is None and isinstance(report, PreparedReport):
                report.prepared = (prepared.document, prepared.family.name, prepared.provenance)
            else:
                try:
                    store = _worker_store(str(self.db))
                except StoreError as error:  # e.g. the database is out of this worker's reach
                    problem = Problem(1, 1, "$", f"nothing imported: {error}", "store")
                    report.problems.append(problem)
                    return report
                store_import(prepared, store, report, on_duplicate=options.on_duplicate)
        return report

    def _streamed(self, registry: Registry, report: FileReport) -> bool:
        """Import the file record by record into ``db`` when that applies (True: done).

        Without ``db``, a file big enough to stream is left to the SQLite writer (True).
        """
        if not worth_streaming(self.path, report):
            return False  # read whole, as a local import reads it (the report says why)
        if self.db is None and isinstance(report, PreparedReport):
            # The SQLite writer is the bottleneck, and streaming the file keeps up with it
            # (about raw sqlite3's speed) in flat memory: a worker would only hold a whole
            # document for it. So the writer streams the file itself, in its turn.
            report.import_here = True
            return True
        try:
            store = _worker_store(str(self.db))
        except StoreError:  # the whole-document path reports it after reading the file
            return False
        options = self.options
        settings = ImportSettings(
            options.family_name, options.max_file_size, options.step_timeout, options.on_duplicate
        )
        return import_streaming(self.path, registry, store, report, settings)

    def died(self) -> FileReport:
        """A failure of this file: its worker died; all of it is stored, or none."""
        report = FileReport(path=str(self.path))
        after = "; each file is one transaction: all of its records are stored, or none"
        report.problems.append(
            Problem(1, 1, "$", WORKER_DIED.format(doing="importing", after=after), "worker")
        )
        return report

    def anchored(self, cwd: Path) -> tuple[ImportTask, dict[str, str]]:
        """Return the import with its path absolute under ``cwd``."""
        given: dict[str, str] = {}
        return replace(self, path=anchor(self.path, cwd, given)), given


def store_prepared(
    report: FileReport, registry: Registry, store: Store, options: ImportOptions
) -> FileReport:
    """Store the document a worker prepared for ``report`` (then drop it); return the report.

    A file the worker left to this process (``import_here``) is imported here, as
    :func:`import_paths` imports it (streamed when it can be).
    """
    if isinstance(report, PreparedReport) and report.import_here:
        report.import_here = False
        with file_guard(report):
            _import_one(
                Path(report.path),
                registry,
                store,
                report,
                on_duplicate=options.on_duplicate,
                family_name=options.family_name,
                max_file_size=options.max_file_size,
                step_timeout=options.step_timeout,
            )
        return report
    if not isinstance(report, PreparedReport) or report.prepared is None:
        return report
    on_duplicate = options.on_duplicate
    document, family_name, provenance = report.prepared
    report.prepared = None  # the document may be big: keep it no longer than needed
    prepared = PreparedImport(
        Path(report.path), document, registry.get(family_name), provenance, None
    )
    with file_guard(report):
        store_import(prepared, store, report, on_duplicate=on_duplicate)
    return report


def import_action(written: WriteReport) -> str:
    """Say what a write did to the store as a whole (the counts say what it did to records)."""
    if written.already_imported is not None:
        return f"already imported as import {written.already_imported}: nothing changed"
    if written.import_id is None:
        return "nothing new: nothing changed"
    if not written.current:
        return f"import {written.import_id}, older than the current state: kept, not current"
    return f"import {written.import_id}"


def _store_problem(prepared: PreparedImport, error: StoreError) -> Problem:
    """Place a store error at the record it names in the file (the root if it names none)."""
    loaded = prepared.loaded
    if loaded is None:  # prepared elsewhere: the positions are in the file
        try:
            loaded = jsonio.load_path(prepared.path)
        except (DocmigrateError, OSError):
            loaded = None
    line, column = (1, 1) if loaded is None else loaded.position(error.path)
    return Problem(line, column, json_path(error.path), f"nothing imported: {error}", "store")


def export_document(
    store: Store,
    family: Family,
    *,
    to: str | None = None,
    allow_loss: bool = False,
    import_id: int | None = None,
) -> Any:
    """Return ``family``'s stored state as one document at ``to`` (default current).

    With ``import_id``, return the document of that snapshot import instead. A document stored
    at an older current version is upgraded; the result is validated against the target
    version's schema before it is returned.
    """
    document = store.read(family, import_id=import_id)
    target = family.current if to is None else to
    if family.version_of(document) == target:
        validate(document, family, target)
        return document
    return migrate(document, family, to=target, allow_loss=allow_loss).document


def export_bytes(document: Any) -> bytes:
    """Serialise an exported document (2-space indent, UTF-8, final newline)."""
    return jsonio.dump_bytes(document, indent=2, ensure_ascii=False, trailing_newline=True)
