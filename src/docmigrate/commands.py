"""The verbs of the command line, as functions from paths to reports.

Each file is handled on its own: a file that cannot be read, detected, validated, upgraded
or written gets its problems in its report and is left as it was, and the others proceed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from docmigrate import jsonio
from docmigrate.exceptions import (
    SHOWN_ERRORS,
    DetectionError,
    DocmigrateError,
    DocumentInvalidError,
    JSONReadError,
    MigrationError,
    StepOutputInvalidError,
    StepTimeoutError,
    UnknownVersionError,
    UsageError,
    WriteError,
)
from docmigrate.family import Family
from docmigrate.files import (
    FOLDER,
    FileTooLargeError,
    atomic_writer,
    common_root,
    copy_atomic,
    is_backup_folder,
    iter_json_files,
    not_a_regular_file,
    overlaps,
    read_limited,
    write_atomic,
    write_backup,
)
from docmigrate.pointers import json_path
from docmigrate.registry import Registry
from docmigrate.reports import FileReport, Problem
from docmigrate.validation import SchemaError, is_valid, iter_errors, sort_errors

if TYPE_CHECKING:  # loaded on first use: validating small files needs none of them
    from docmigrate import streaming

DEFAULT_MAX_FILE_SIZE = 4 * 1024**3
"""The largest document read by default (4 GiB); ``--max-file-size`` raises or lowers it."""


@dataclass(frozen=True)
class Opened:
    """A file read, its family detected and its version told."""

    loaded: jsonio.LoadedDocument
    family: Family
    version: str
    raw: bytes
    """The file's bytes exactly as read."""


@contextlib.contextmanager
def file_guard(report: FileReport) -> Iterator[None]:
    """Turn anything unexpected while handling one file into a failure of that file alone.

    Typed problems are recorded where they arise; this catches what is left (running out of
    memory, a bug in docmigrate or in a family's code) so that the other files proceed.
    """
    try:
        yield
    except MemoryError:
        report.problems.append(
            Problem(1, 1, "$", "ran out of memory while handling this file", "memory")
        )
    except Exception as error:  # a bug: fail this file, say so, let the others go on
        message = f"internal error (please report it): {type(error).__name__}: {error}"
        report.problems.append(Problem(1, 1, "$", message, "internal"))


def validate_paths(
    paths: Sequence[str | Path],
    registry: Registry,
    family_name: str | None = None,
    *,
    require_current: bool = False,
    exclude: Sequence[str] = (),
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
) -> Iterator[FileReport]:
    """Validate each file against the schema of its own version (``-`` reads standard input).

    With ``require_current``, a valid file that is not at its family's current version is a
    problem too, whose message says how to upgrade it.
    """
    for path, _root in iter_json_files(paths, exclude):
        yield validate_file(
            path,
            registry,
            family_name,
            require_current=require_current,
            max_file_size=max_file_size,
        )


def validate_file(
    path: Path,
    registry: Registry,
    family_name: str | None = None,
    *,
    require_current: bool = False,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
) -> FileReport:
    """Validate one file (``-``: standard input) as :func:`validate_paths` does; never raises."""
    report = FileReport(path=_shown(path))
    with file_guard(report):
        _validate_one(path, registry, family_name, report, require_current, max_file_size)
    return report


def _validate_one(
    path: Path,
    registry: Registry,
    family_name: str | None,
    report: FileReport,
    require_current: bool,
    max_file_size: int,
) -> None:
    if _validate_streaming(path, registry, family_name, report, require_current, max_file_size):
        return
    opened = open_document(path, registry, family_name, report, max_file_size=max_file_size)
    if opened is not None:
        value, family, version = opened.loaded.value, opened.family, opened.version
        # is_valid first: most files are valid, and it builds no error objects.
        valid = is_valid(value, family, version)
        errors = [] if valid else sort_errors(iter_errors(value, family, version))
        report.problems += schema_problems(opened.loaded, errors)
        if require_current and not errors and opened.version != opened.family.current:
            place = opened.loaded.position(opened.family.version_pointer)
            _require_current(path, opened.family, opened.version, place, report)


def _validate_streaming(
    path: Path,
    registry: Registry,
    family_name: str | None,
    report: FileReport,
    require_current: bool,
    max_file_size: int,
) -> bool:
    """Validate ``path`` record by record when that applies; False: read it whole instead."""

    def attempt() -> Any:
        from docmigrate import streaming  # only files big enough to stream need it

        return streaming.validate_stream(path, registry, family_name, max_file_size=max_file_size)

    found = streamed(path, report, attempt)
    if found is None:
        return False
    report.family, report.version = found.family.name, found.version
    report.problems += found.problems
    if require_current and not found.problems and found.version != found.family.current:
        place = found.header.positions([found.family.version_pointer])[0]
        _require_current(path, found.family, found.version, place, report)
    return True


STREAMING = "streaming"
"""The pipeline a file went through when its records were read one at a time."""

STREAMING_MIN_SIZE = 1 << 20
"""Files smaller than this (bytes) are read whole: streaming pays off on big files only."""


_Result = TypeVar("_Result")


def streamed(path: Path, report: FileReport, attempt: Callable[[], _Result]) -> _Result | None:
    """Run ``attempt`` (a streaming pass over ``path``) when the file is worth streaming.

    None when the file is to be read whole instead, with the report's pipeline saying why: too
    small, not streamable (:class:`~docmigrate.jsonio.streaming.NotStreamable`), or not
    readable as a stream (the whole read then reports the problem as for any file).
    """
    if not worth_streaming(path, report):
        return None
    from docmigrate.jsonio.streaming import NotStreamable

    try:
        result = attempt()
    except NotStreamable as reason:
        report.pipeline = f"in memory: {reason}"
        return None
    except OSError:
        report.pipeline = "in memory: the file could not be streamed"
        return None
    report.pipeline = STREAMING
    return result


def worth_streaming(path: Path, report: FileReport) -> bool:
    """Whether ``path`` is a regular file big enough to stream (else note why not)."""
    if str(path) == "-":
        report.pipeline = "in memory: standard input"
        return False
    try:
        status = path.stat()
    except OSError:
        return False
    if not stat.S_ISREG(status.st_mode):  # the in-memory path says what it is
        return False
    if status.st_size < STREAMING_MIN_SIZE:
        report.pipeline = f"in memory: smaller than {format_size(STREAMING_MIN_SIZE)}"
        return False
    return True


def _require_current(
    path: Path, family: Family, version: str, place: tuple[int, int], report: FileReport
) -> None:
    line, column = place
    target = "FILE" if str(path) == "-" else path  # stdin: name the file it came from
    how = f"docmigrate upgrade {target} --in-place"
    message = (
        f"valid {family.name} {version} document, but not at the current "
        f"version {family.current}; upgrade it with: {how}"
    )
    pointer = json_path(family.version_pointer)
    report.problems.append(Problem(line, column, pointer, message, "require-current"))


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
    """Keep each original that is replaced here (mirroring the inputs' common root)."""
    diff: bool = False
    indent: int | None = None
    """Indentation of written files; None keeps each file's own, 0 writes compact JSON."""
    ensure_ascii: bool | None = None
    """Escape non-ASCII characters; None keeps each file's own habit."""
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    step_timeout: float | None = None
    """Seconds the steps may take on one file; None means no limit."""


@dataclass(frozen=True)
class UpgradeJob:
    """One file to upgrade: where it is, the argument it came from, where it goes."""

    path: Path
    root: Path
    destination: Path
    backup_name: Path = Path()
    """Where a backup of the original goes, relative to the backup folder."""


def plan_jobs(
    paths: Sequence[str | Path],
    out: Path | None,
    exclude: Sequence[str] = (),
    *,
    backup: Path | None = None,
) -> tuple[list[UpgradeJob], list[FileReport]]:
    """List the files to upgrade; two inputs bound for one output are refused up front.

    Raises :class:`UsageError`, before anything is written, when ``out`` or ``backup`` is an
    input folder or lies inside one, when an input lies inside ``backup``, when an output file
    would be an input file, or when a backup folder is given as an input.
    """
    given = [Path(p) for p in paths]
    _refuse_overlaps(given, out, backup)
    root = common_root(given)
    found = list(iter_json_files(given, exclude))
    inputs = {path.resolve() for path, _ in found if str(path) != "-"}
    jobs, refused, claimed = [], [], set()
    for path, found_under in found:
        destination = path if out is None else out / _relative(path, found_under)
        resolved = Path(os.path.realpath(destination))
        if out is not None and resolved in inputs:
            raise UsageError(
                f"--out {out} would write {destination}, which is an input file; "
                "choose an output folder outside the inputs, or use --in-place"
            )
        if resolved in claimed:
            report = FileReport(path=str(path), output=str(destination))
            message = f"another input is also written to {destination}"
            report.problems.append(Problem(1, 1, "$", message, "output"))
            refused.append(report)
            continue
        claimed.add(resolved)
        backup_name = Path(os.path.relpath(os.path.abspath(path), root))
        jobs.append(UpgradeJob(path, found_under, destination, backup_name))
    return jobs, refused


def _refuse_overlaps(given: Sequence[Path], out: Path | None, backup: Path | None) -> None:
    for argument in given:
        if str(argument) != "-" and argument.is_dir() and is_backup_folder(argument):
            raise UsageError(
                f"{argument} is a docmigrate backup folder; backups are never upgraded "
                "(copy a file out of it to restore it)"
            )
    for option, folder in (("--out", out), ("--backup", backup)):
        if folder is None:
            continue
        inside = overlaps(folder, given)
        if inside is not None:
            raise UsageError(
                f"{option} {folder} is the input {inside} or inside it: its files would be "
                "read as inputs by the next run; choose a folder outside every input"
            )
    if backup is not None:
        for argument in given:
            if str(argument) != "-" and argument.resolve().is_relative_to(backup.resolve()):
                raise UsageError(
                    f"the input {argument} is inside --backup {backup}; choose a backup "
                    "folder outside every input"
                )


def _relative(path: Path, root: Path) -> Path:
    return Path(path.name) if path == root else path.relative_to(root)


def upgrade_file(job: UpgradeJob, registry: Registry, options: UpgradeOptions) -> FileReport:
    """Upgrade one file as ``options`` say; every problem ends up in the report.

    Nothing raised while handling this file escapes: a failure of any kind is a problem of
    this file, and the file (with its backup folder) is left as it was.
    """
    report = FileReport(path=str(job.path), output=str(job.destination))
    with file_guard(report):
        _upgrade_one(job, registry, options, report)
    return report


def _upgrade_one(
    job: UpgradeJob, registry: Registry, options: UpgradeOptions, report: FileReport
) -> None:
    if _upgrade_streaming(job, registry, options, report):
        return
    opened = open_document(
        job.path, registry, options.family_name, report, max_file_size=options.max_file_size
    )
    if opened is None:
        return
    loaded = opened.loaded
    from docmigrate.migrator import migrate  # loaded on first use (validate never needs it)

    try:
        result = migrate(
            loaded.value,
            opened.family,
            to=options.to,
            allow_loss=options.allow_loss,
            step_timeout=options.step_timeout,
        )
    except DocmigrateError as error:
        record_migration_failure(loaded, error, report)
        return
    report.target = result.target
    report.steps = [str(step.info) for step in result.plan]
    downgrade = any(step.spec.direction == "downgrade" for step in result.plan)
    original = data = opened.raw
    if result.changed:
        data = jsonio.dump_bytes(result.document, **_layout(loaded.text, options))
        if options.backup is not None:  # the manifest is the only reader of the hashes
            report.sha256_before = hashlib.sha256(original).hexdigest()
            report.sha256_after = hashlib.sha256(data).hexdigest()
        if options.diff:
            report.diff = unified_diff(loaded.value, result.document, str(job.path))
    if options.dry_run:
        verb = "would downgrade" if downgrade else "would upgrade"
        report.action = verb if result.changed else "unchanged"
        return
    try:
        _write(job, options, report, original, data, changed=result.changed)
    except (WriteError, OSError) as error:
        report.problems.append(Problem(1, 1, "$", str(error), "write"))
        return
    if report.action == "upgraded" and downgrade:
        report.action = "downgraded"


def _upgrade_streaming(
    job: UpgradeJob, registry: Registry, options: UpgradeOptions, report: FileReport
) -> bool:
    """Upgrade ``job`` record by record when that applies; False: read it whole instead."""
    if not worth_streaming(job.path, report):
        return False
    if options.diff:
        report.pipeline = "in memory: --diff compares whole documents"
        return False
    from docmigrate import streaming

    settings = streaming.UpgradeSettings(
        family_name=options.family_name,
        to=options.to,
        allow_loss=options.allow_loss,
        step_timeout=options.step_timeout,
        indent=options.indent,
        ensure_ascii=options.ensure_ascii,
        max_file_size=options.max_file_size,
    )
    kept: list[Path] = []
    try:
        result = streaming.upgrade_stream(
            job.path, registry, settings, lambda: _stream_output(job, options, kept)
        )
    except streaming.NotStreamable as reason:
        report.pipeline = f"in memory: {reason}"
        return False
    except StepTimeoutError as error:
        report.pipeline = STREAMING
        report.problems.append(Problem(1, 1, "$", str(error), type(error).__name__))
        return True
    except WriteError as error:
        report.pipeline = STREAMING
        report.problems.append(Problem(1, 1, "$", str(error), "write"))
        for backup in kept:  # the original is still in place: this backup would only mislead
            with contextlib.suppress(OSError):
                backup.unlink()
        return True
    except OSError:  # reading it whole reports the problem as for any file
        report.pipeline = "in memory: the file could not be streamed"
        return False
    report.pipeline = STREAMING
    report.family, report.version = result.family.name, result.version
    if result.problems:
        report.problems += result.problems
        return True
    report.target = result.target
    report.steps = [str(step.info) for step in result.plan]
    _streamed_action(job, options, report, result, kept)
    return True


def _stream_output(
    job: UpgradeJob, options: UpgradeOptions, kept: list[Path]
) -> contextlib.AbstractContextManager[BinaryIO]:
    """Where a streamed upgrade writes: nowhere for a dry run, else atomically in place."""
    if options.dry_run:
        from docmigrate.streaming import discarding

        return discarding()
    if options.out is not None:
        job.destination.parent.mkdir(parents=True, exist_ok=True)
    backup = options.backup

    def keep_original() -> None:
        if backup is not None:
            kept.append(write_backup(backup, job.backup_name, job.path))

    return atomic_writer(job.destination, before_replace=keep_original)


def _streamed_action(
    job: UpgradeJob,
    options: UpgradeOptions,
    report: FileReport,
    result: streaming.StreamedUpgrade,
    kept: list[Path],
) -> None:
    """Finish a streamed upgrade's report (and copy an unchanged file to --out)."""
    downgrade = any(step.spec.direction == "downgrade" for step in result.plan)
    if options.dry_run:
        report.action = (
            ("would downgrade" if downgrade else "would upgrade") if result.plan else "unchanged"
        )
        return
    if not result.plan:
        if options.out is None:
            report.action = "unchanged"
            return
        try:
            job.destination.parent.mkdir(parents=True, exist_ok=True)
            copy_atomic(job.path, job.destination)
        except (WriteError, OSError) as error:
            report.problems.append(Problem(1, 1, "$", str(error), "write"))
            return
        report.action = "copied"
        return
    report.action = "downgraded" if downgrade else "upgraded"
    if kept:
        report.backup = str(kept[0])
        report.sha256_before = _file_sha256(kept[0])
        report.sha256_after = _file_sha256(job.destination)


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _layout(text: str, options: UpgradeOptions) -> dict[str, Any]:
    """The writer's options for a file read as ``text``: its own style, as options override."""
    from docmigrate.style import detect_style

    style = detect_style(text).overridden(indent=options.indent, ensure_ascii=options.ensure_ascii)
    return style.dump_options()


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
    if not changed:
        if options.out is not None:
            write_atomic(job.destination, original)
            report.action = "copied"
        else:
            report.action = "unchanged"
        return
    kept = None
    if options.backup is not None:
        kept = write_backup(options.backup, job.backup_name, original)
    try:
        write_atomic(job.destination, data)
    except WriteError:
        if kept is not None:  # the original is still in place: this backup would only mislead
            with contextlib.suppress(OSError):
                kept.unlink()
        raise
    report.backup = None if kept is None else str(kept)
    report.action = "upgraded"


def unified_diff(before: Any, after: Any, name: str, *, max_lines: int = 2_000) -> str:
    """Return a unified diff of two documents pretty-printed the same way, capped in length.

    Past ``max_lines`` lines the diff stops (what is shown still applies) and a last line says
    how many lines were left out.
    """
    from docmigrate import textdiff  # only --diff needs it

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
        # The first errors, each placed (where the input has the place), then how many more.
        for shown in error.errors[:SHOWN_ERRORS]:
            line, column = loaded.position(shown.path)
            message = f"step {error.step} produced an invalid document: {shown.message}"
            report.problems.append(Problem(line, column, shown.json_path, message, shown.keyword))
        more = len(error.errors) - SHOWN_ERRORS
        if more > 0:
            message = f"step {error.step} produced an invalid document: and {more} more error(s)"
            report.problems.append(Problem(1, 1, "$", message, "more"))
    elif isinstance(error, MigrationError | DetectionError):
        where = getattr(error, "json_path", "$")
        report.problems.append(Problem(1, 1, where, str(error), type(error).__name__))
    else:
        raise error


def open_document(
    path: Path,
    registry: Registry,
    family_name: str | None,
    report: FileReport,
    *,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
) -> Opened | None:
    """Read, detect and tell the version of ``path``; on failure, note why in ``report``.

    Only regular files (and ``-``, standard input) are read, and none larger than
    ``max_file_size`` bytes.
    """
    data = _read(path, report, max_file_size)
    if data is None:
        return None
    try:
        loaded = jsonio.load_bytes(data, source=_shown(path))
    except JSONReadError as error:
        report.problems.append(Problem(error.line, error.column, "$", error.message, "json"))
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
    return Opened(loaded, family, version, data)


def _read(path: Path, report: FileReport, max_file_size: int) -> bytes | None:
    """The bytes of ``path`` (``-``: standard input), or None with the reason in ``report``."""
    problem = None
    kind = None if str(path) == "-" else not_a_regular_file(path)  # one stat for both checks
    if kind == FOLDER:
        problem = (
            "a docmigrate backup folder, never read as input"
            if is_backup_folder(path)
            else "no JSON files found under this folder (only *.json files are read; hidden "
            "ones, backup folders and excluded ones are skipped)"
        )
    elif kind is not None:
        problem = f"not a regular file ({kind}); only regular files are read"
    else:
        try:
            if str(path) == "-":
                data = sys.stdin.buffer.read(max_file_size + 1)
                if len(data) > max_file_size:
                    raise FileTooLargeError(len(data), max_file_size)
                return data
            return read_limited(path, max_file_size)
        except FileTooLargeError as error:
            problem = (
                f"larger than the size cap of {format_size(error.limit)}; raise it with "
                "--max-file-size if this document is meant to be this big"
            )
        except OSError as error:
            problem = f"cannot read the file: {error.strerror or error}"
    report.problems.append(Problem(1, 1, "$", problem, "io"))
    return None


def format_size(size: int) -> str:
    """``size`` bytes in the largest binary unit that keeps it whole (``4 GiB``, ``1500 B``)."""
    for unit, factor in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} B"


def schema_problems(loaded: jsonio.LoadedDocument, errors: Iterable[SchemaError]) -> list[Problem]:
    """Place schema errors in the file by line and column, all of them in one pass over it."""
    errors = list(errors)
    if not errors:
        return []
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
