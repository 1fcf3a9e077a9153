"""The import and export verbs: files to a store and a store to a file.

Import runs read -> detect -> validate -> upgrade to current -> write, per file, and each file
is written in one transaction: all of its records or none.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from docmigrate import jsonio
from docmigrate.commands import (
    DEFAULT_MAX_FILE_SIZE,
    file_guard,
    open_document,
    record_migration_failure,
)
from docmigrate.exceptions import DocmigrateError, StoreError
from docmigrate.family import Family
from docmigrate.files import iter_json_files
from docmigrate.migrator import migrate
from docmigrate.pointers import json_path
from docmigrate.registry import Registry
from docmigrate.reports import FileReport, Problem
from docmigrate.store import OnDuplicate, Provenance, Store, WriteReport
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
    opened = open_document(path, registry, family_name, report, max_file_size=max_file_size)
    if opened is None:
        return
    try:
        result = migrate(opened.loaded.value, opened.family, step_timeout=step_timeout)
    except DocmigrateError as error:
        record_migration_failure(opened.loaded, error, report)
        return
    report.target = result.target
    report.steps = [str(step.info) for step in result.plan]
    provenance = Provenance(
        file_name=path.name,
        sha256=hashlib.sha256(opened.raw).hexdigest(),
        source_version=result.source,
        steps=tuple(report.steps),
    )
    try:
        written = store.write(result.document, opened.family, provenance, on_duplicate=on_duplicate)
    except StoreError as error:
        report.problems.append(_store_problem(opened.loaded, error))
    else:
        report.action = import_action(written)
        report.counts = written.counts


def import_action(written: WriteReport) -> str:
    """Say what a write did to the store as a whole (the counts say what it did to records)."""
    if written.already_imported is not None:
        return f"already imported as import {written.already_imported}: nothing changed"
    if written.import_id is None:
        return "nothing new: nothing changed"
    if not written.current:
        return f"import {written.import_id}, older than the current state: kept, not current"
    return f"import {written.import_id}"


def _store_problem(loaded: jsonio.LoadedDocument, error: StoreError) -> Problem:
    """Place a store error at the record it names in the file (the root if it names none)."""
    line, column = loaded.position(error.path)
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
