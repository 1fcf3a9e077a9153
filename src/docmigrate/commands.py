"""The verbs of the command line, as functions from paths to reports.

Each file is handled on its own: a file that cannot be read, detected, validated, upgraded
or written gets its problems in its report and is left as it was, and the others proceed.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docmigrate import jsonio, textdiff
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
    paths: Sequence[str | Path],
    registry: Registry,
    family_name: str | None = None,
    *,
    require_current: bool = False,
    exclude: Sequence[str] = (),
) -> Iterator[FileReport]:
    """Validate each file against the schema of its own version (``-`` reads standard input).

    With ``require_current``, a valid file that is not at its family's current version is a
    problem too, whose message says how to upgrade it.
    """
    for path, _root in iter_json_files(paths, exclude):
        report = FileReport(path=_shown(path))
        opened = open_document(path, registry, family_name, report)
        if opened is None:
            yield report
            continue
        errors = sort_errors(iter_errors(opened.loaded.value, opened.family, opened.version))
        report.problems += schema_problems(opened.loaded, errors)
        if require_current and not errors and opened.version != opened.family.current:
            line, column = opened.loaded.position(opened.family.version_pointer)
            target = "FILE" if str(path) == "-" else path  # stdin: name the file it came from
            how = f"docmigrate upgrade {target} --in-place"
            message = (
                f"valid {opened.family.name} {opened.version} document, but not at the current "
                f"version {opened.family.current}; upgrade it with: {how}"
            )
            report.problems.append(
                Problem(
                    line,
                    column,
                    json_path(opened.family.version_pointer),
                    message,
                    "require-current",
                )
            )
        yield report


def _shown(path: Path) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


@dataclass(frozen=True)
class UpgradeOptions:
    """How ``upgrade`` treats each file (picklable: it travels to worker processes)."""

    out: Path | None = None
    """Write into this folder; None means in place."""
    to: str | None = None
    family_name: str | None = None
    dry_run: bool = False
    allow_loss: bool = False
    backup: Path | None = None
    """Keep each original that is replaced here (mirroring the folders given)."""
    diff: bool = False
    indent: int | None = None
    """Indentation of written files; None keeps each file's own, 0 writes compact JSON."""
    ensure_ascii: bool | None = None
    """Escape non-ASCII characters; None keeps each file's own habit."""


@dataclass(frozen=True)
class UpgradeJob:
    """One file to upgrade: where it is, the argument it came from, where it goes."""

    path: Path
    root: Path
    destination: Path


def plan_jobs(
    paths: Sequence[str | Path], out: Path | None, exclude: Sequence[str] = ()
) -> tuple[list[UpgradeJob], list[FileReport]]:
    """List the files to upgrade; two inputs bound for one output are refused up front."""
    jobs, refused, claimed = [], [], set()
    for path, root in iter_json_files(paths, exclude):
        destination = path if out is None else out / _relative(path, root)
        if destination.resolve() in claimed:
            report = FileReport(path=str(path), output=str(destination))
            message = f"another input is also written to {destination}"
            report.problems.append(Problem(1, 1, "$", message, "output"))
            refused.append(report)
            continue
        claimed.add(destination.resolve())
        jobs.append(UpgradeJob(path, root, destination))
    return jobs, refused


def _relative(path: Path, root: Path) -> Path:
    return Path(path.name) if path == root else path.relative_to(root)


def upgrade_file(job: UpgradeJob, registry: Registry, options: UpgradeOptions) -> FileReport:
    """Upgrade one file as ``options`` say; every problem ends up in the report."""
    report = FileReport(path=str(job.path), output=str(job.destination))
    opened = open_document(job.path, registry, options.family_name, report)
    if opened is None:
        return report
    loaded = opened.loaded
    try:
        result = migrate(loaded.value, opened.family, to=options.to, allow_loss=options.allow_loss)
    except DocmigrateError as error:
        record_migration_failure(loaded, error, report)
        return report
    report.target = result.target
    report.steps = [str(step.info) for step in result.plan]
    original = loaded.text.encode("utf-8")
    data = original
    if result.changed:
        data = jsonio.dump_bytes(result.document, **_layout(loaded.text, options))
        if options.backup is not None:  # the manifest is the only reader of the hashes
            report.sha256_before = hashlib.sha256(original).hexdigest()
            report.sha256_after = hashlib.sha256(data).hexdigest()
        if options.diff:
            report.diff = unified_diff(loaded.value, result.document, str(job.path))
    if options.dry_run:
        report.action = "would upgrade" if result.changed else "unchanged"
        return report
    try:
        _write(job, options, report, original, data, changed=result.changed)
    except (WriteError, OSError) as error:
        report.problems.append(Problem(1, 1, "$", str(error), "write"))
    return report


def _layout(text: str, options: UpgradeOptions) -> dict[str, Any]:
    style = detect_style(text)
    indent = style.indent if options.indent is None else (options.indent or None)
    ascii_only = style.ensure_ascii if options.ensure_ascii is None else options.ensure_ascii
    return {
        "indent": indent,
        "ensure_ascii": ascii_only,
        "trailing_newline": style.trailing_newline,
    }


def _write(
    job: UpgradeJob,
    options: UpgradeOptions,
    report: FileReport,
    original: bytes,
    data: bytes,
    *,
    changed: bool,
) -> None:
    if options.out is not None:
        job.destination.parent.mkdir(parents=True, exist_ok=True)
    if changed and options.backup is not None:
        kept = options.backup / _relative(job.path, job.root)
        kept.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(kept, original)
        report.backup = str(kept)
    if changed:
        write_atomic(job.destination, data)
        report.action = "upgraded"
    elif options.out is not None:
        write_atomic(job.destination, original)
        report.action = "copied"
    else:
        report.action = "unchanged"


def unified_diff(before: Any, after: Any, name: str, *, max_lines: int = 2_000) -> str:
    """Return a unified diff of two documents pretty-printed the same way, capped in length.

    Past ``max_lines`` lines the diff stops (what is shown still applies) and a last line says
    how many lines were left out.
    """
    old = textdiff.split_lines(jsonio.dumps(before, indent=2) + "\n")
    new = textdiff.split_lines(jsonio.dumps(after, indent=2) + "\n")
    diff = textdiff.unified_diff(
        old, new, f"{name} (before)", f"{name} (after)", max_lines=max_lines
    )
    text = "".join(diff.lines)
    if diff.left_out:
        text += (
            f"… diff truncated: {diff.left_out} more lines; "
            "run without --diff or use --out and diff the folders\n"
        )
    return text


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
        loaded = _read_stdin() if str(path) == "-" else jsonio.load_path(path)
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


def _read_stdin() -> jsonio.LoadedDocument:
    data = sys.stdin.buffer.read()
    value = jsonio.loads(data, source="<stdin>")
    return jsonio.LoadedDocument(value=value, text=data.decode("utf-8"), source="<stdin>")


def schema_problems(loaded: jsonio.LoadedDocument, errors: Iterable[SchemaError]) -> list[Problem]:
    """Place schema errors in the file by line and column, all of them in one pass over it."""
    errors = list(errors)
    places = loaded.positions(error.path for error in errors)
    return [
        Problem(line, column, error.json_path, error.message, error.keyword)
        for error, (line, column) in zip(errors, places, strict=True)
    ]


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
