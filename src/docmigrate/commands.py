"""The verbs of the command line, as functions from paths to reports.

Each file is handled on its own: a file that cannot be read, detected, validated, upgraded
or written gets its problems in its report and is left as it was, and the others proceed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docmigrate import jsonio
from docmigrate.exceptions import (
    DetectionError,
    DocmigrateError,
    DocumentInvalidError,
    JSONReadError,
    MigrationError,
    StepOutputInvalidError,
    UnknownVersionError,
    WriteError,
)
from docmigrate.family import Family
from docmigrate.files import iter_json_files, write_atomic
from docmigrate.migrator import migrate
from docmigrate.pointers import json_path
from docmigrate.registry import Registry
from docmigrate.reports import FileReport, Problem
from docmigrate.style import detect_style
from docmigrate.validation import SchemaError, iter_errors, sort_errors


@dataclass(frozen=True)
class Opened:
    """A file read, its family detected and its version told."""

    loaded: jsonio.LoadedDocument
    family: Family
    version: str


def validate_paths(
    paths: Sequence[str | Path], registry: Registry, family_name: str | None = None
) -> Iterator[FileReport]:
    """Validate each file against the schema of its own version."""
    for path, _root in iter_json_files(paths):
        report = FileReport(path=str(path))
        opened = open_document(path, registry, family_name, report)
        if opened is not None:
            errors = sort_errors(iter_errors(opened.loaded.value, opened.family, opened.version))
            report.problems += schema_problems(opened.loaded, errors)
        yield report


def upgrade_paths(
    paths: Sequence[str | Path],
    registry: Registry,
    *,
    out: Path | None,
    to: str | None = None,
    family_name: str | None = None,
    dry_run: bool = False,
    allow_loss: bool = False,
) -> Iterator[FileReport]:
    """Upgrade each file to ``to`` (default current), into ``out`` or in place (``out=None``)."""
    claimed: set[Path] = set()
    for path, root in iter_json_files(paths):
        report = FileReport(path=str(path))
        destination = path if out is None else out / _relative(path, root)
        report.output = str(destination)
        if destination.resolve() in claimed:
            report.problems.append(
                Problem(1, 1, "$", f"another input is also written to {destination}", "output")
            )
            yield report
            continue
        claimed.add(destination.resolve())
        opened = open_document(path, registry, family_name, report)
        if opened is not None:
            _upgrade_one(
                opened,
                report,
                destination,
                to=to,
                dry_run=dry_run,
                allow_loss=allow_loss,
                copy_unchanged=out is not None,
            )
        yield report


def _relative(path: Path, root: Path) -> Path:
    return Path(path.name) if path == root else path.relative_to(root)


def _upgrade_one(
    opened: Opened,
    report: FileReport,
    destination: Path,
    *,
    to: str | None,
    dry_run: bool,
    allow_loss: bool,
    copy_unchanged: bool,
) -> None:
    loaded = opened.loaded
    try:
        result = migrate(loaded.value, opened.family, to=to, allow_loss=allow_loss)
    except DocmigrateError as error:
        record_migration_failure(loaded, error, report)
        return
    report.target = result.target
    report.steps = [str(step.info) for step in result.plan]
    if dry_run:
        report.action = "would upgrade" if result.changed else "unchanged"
        return
    try:
        if copy_unchanged:
            destination.parent.mkdir(parents=True, exist_ok=True)
        if result.changed:
            style = detect_style(loaded.text)
            data = jsonio.dump_bytes(
                result.document,
                indent=style.indent,
                ensure_ascii=style.ensure_ascii,
                trailing_newline=style.trailing_newline,
            )
            write_atomic(destination, data)
            report.action = "upgraded"
        elif copy_unchanged:
            write_atomic(destination, loaded.text.encode("utf-8"))
            report.action = "copied"
        else:
            report.action = "unchanged"
    except (WriteError, OSError) as error:
        report.problems.append(Problem(1, 1, "$", str(error), "write"))


def record_migration_failure(
    loaded: jsonio.LoadedDocument, error: DocmigrateError, report: FileReport
) -> None:
    """Note in ``report`` why ``migrate`` refused a file, placed in the file where possible."""
    if isinstance(error, DocumentInvalidError):
        report.problems += schema_problems(loaded, error.errors)
    elif isinstance(error, StepOutputInvalidError):
        best = error.errors[0]
        line, column = loaded.position(best.path)
        message = f"step {error.step} produced an invalid document: {best.message}"
        report.problems.append(Problem(line, column, best.json_path, message, best.keyword))
    elif isinstance(error, MigrationError | DetectionError):
        where = getattr(error, "json_path", "$")
        report.problems.append(Problem(1, 1, where, str(error), type(error).__name__))
    else:
        raise error


def open_document(
    path: Path, registry: Registry, family_name: str | None, report: FileReport
) -> Opened | None:
    """Read, detect and tell the version of ``path``; on failure, note why in ``report``."""
    try:
        loaded = jsonio.load_path(path)
    except JSONReadError as error:
        report.problems.append(Problem(error.line, error.column, "$", error.message, "json"))
        return None
    except OSError as error:
        report.problems.append(
            Problem(1, 1, "$", f"cannot read the file: {error.strerror or error}", "io")
        )
        return None
    try:
        family = registry.get(family_name) if family_name else registry.detect(loaded.value)
    except DetectionError as error:
        report.problems.append(Problem(1, 1, "$", str(error), "family"))
        return None
    report.family = family.name
    try:
        version = family.version_of(loaded.value)
    except UnknownVersionError as error:
        pointer = family.version_pointer
        line, column = loaded.position(pointer)
        report.problems.append(Problem(line, column, json_path(pointer), str(error), "version"))
        return None
    report.version = version
    return Opened(loaded, family, version)


def schema_problems(loaded: jsonio.LoadedDocument, errors: Iterable[SchemaError]) -> list[Problem]:
    """Place schema errors in the file by line and column."""
    problems = []
    for error in errors:
        line, column = loaded.position(error.path)
        problems.append(Problem(line, column, error.json_path, error.message, error.keyword))
    return problems


def describe_families(registry: Registry) -> list[dict[str, Any]]:
    """Describe each family: versions, current, steps and where it was loaded from."""
    return [
        {
            "name": family.name,
            "description": family.description,
            "location": family.location,
            "versions": list(family.versions),
            "current": family.current,
            "default_version": family.default_version,
            "steps": [
                {
                    "function": step.name,
                    "from": step.source,
                    "to": step.target,
                    "direction": step.spec.direction,
                    "per_record": step.spec.each,
                    "drops": list(step.spec.drops),
                }
                for step in family.steps
            ],
        }
        for family in registry
    ]
