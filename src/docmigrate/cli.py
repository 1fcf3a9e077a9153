"""The ``docmigrate`` command line: parse options, build a registry, run a verb, exit.

Exit codes: 0 everything fine, 1 some file invalid, unreadable or not upgraded,
2 usage, configuration or internal error. Only this module turns exceptions into messages.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from docmigrate import __version__
from docmigrate.archive import (
    BackupManifest,
    FileTask,
    Progress,
    RegistrySource,
    UpgradeTask,
    ValidateTask,
    default_workers,
)
from docmigrate.commands import (
    DEFAULT_MAX_FILE_SIZE,
    UpgradeOptions,
    describe_families,
    format_size,
    plan_jobs,
)
from docmigrate.config import FORMATS, Settings, load_settings
from docmigrate.display import count, visible
from docmigrate.exceptions import (
    ClusterError,
    ConfigurationError,
    DetectionError,
    DocmigrateError,
    FamilyError,
    NothingStoredError,
    StoreError,
    UsageError,
)
from docmigrate.executors import DEFAULT_TIMEOUT, IMPORT_PRELOAD, Connection, open_executor
from docmigrate.files import iter_json_files, remove_leftovers, write_atomic
from docmigrate.graph import version_graph
from docmigrate.registry import BUILTIN_FOLDER, Registry
from docmigrate.reporters import encodable, problem_lines, render
from docmigrate.reports import FileReport

if TYPE_CHECKING:  # the store pulls in SQLAlchemy: imported by the commands that use it only
    from docmigrate.store import OnDuplicate
    from docmigrate.transfer import ImportOptions

EXIT_OK, EXIT_INVALID, EXIT_ERROR = 0, 1, 2
REPORT_FORMAT_VERSION = 1

F = TypeVar("F", bound=Callable[..., Any])


# A path argument is only a name here: an unreadable or missing file is a problem of that file
# (exit 1, the others proceed), not a usage error that stops everything.
PATHS = click.Path(path_type=Path, readable=False)


def family_path_option(function: F) -> F:
    """Add ``--family-path`` (repeatable) to a command."""
    return click.option(
        "--family-path",
        "family_paths",
        multiple=True,
        type=click.Path(path_type=Path),
        metavar="DIR",
        help="A family folder, or a folder of family folders, to use besides the built-in "
        "ones, [tool.docmigrate] family-paths and installed packages. Repeatable.",
    )(function)


action_format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How to report what was done.",
)
family_option = click.option(
    "--family", "family_name", metavar="NAME", help="Treat every file as this family."
)
allow_loss_option = click.option(
    "--allow-loss", is_flag=True, help="Let a downgrade drop data it declares it loses."
)
exclude_option = click.option(
    "--exclude",
    "exclude",
    multiple=True,
    metavar="GLOB",
    help="Skip files under a folder argument whose path (relative to that folder, or as "
    "given) matches GLOB. Repeatable; replaces [tool.docmigrate] exclude when given.",
)


_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kib": 1024, "kb": 1000,
    "m": 1024**2, "mib": 1024**2, "mb": 1000**2,
    "g": 1024**3, "gib": 1024**3, "gb": 1000**3,
    "t": 1024**4, "tib": 1024**4, "tb": 1000**4,
}  # fmt: skip


def byte_size(ctx: click.Context, param: click.Parameter, value: str | None) -> int:
    """Parse a size: ``1000000``, ``500K``, ``64MiB``, ``4G``, ``1.5GB`` (K, M, G, T binary)."""
    if value is None:
        return DEFAULT_MAX_FILE_SIZE
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", value)
    unit = match[2].lower() if match else ""
    if match is None or unit not in _SIZE_UNITS or float(match[1]) * _SIZE_UNITS[unit] < 1:
        raise click.BadParameter(f"{value!r} is not a size such as 500M, 4GiB or 1000000")
    return int(float(match[1]) * _SIZE_UNITS[unit])


max_file_size_option = click.option(
    "--max-file-size",
    type=str,
    callback=byte_size,
    default=None,
    metavar="SIZE",
    help=f"Refuse (as a failure of that file) any document larger than SIZE, e.g. 500M or 8GiB "
    f"(K/M/G are binary units). Default: {format_size(DEFAULT_MAX_FILE_SIZE)}.",
)
step_timeout_option = click.option(
    "--step-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Fail a file whose steps run longer than SECONDS in all (a step that never returns). "
    "Default: no limit.",
)


def scheduler_options(function: F) -> F:
    """Add ``--scheduler`` and ``--scheduler-timeout`` to a command."""
    function = click.option(
        "--scheduler-timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        metavar="SECONDS",
        help="How long to wait for the --scheduler to answer and have a worker before giving "
        f"up with exit 2. Default: [tool.docmigrate] scheduler-timeout, else {DEFAULT_TIMEOUT:g}.",
    )(function)
    return click.option(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="Run the per-file work on a Dask cluster (pip install 'docmigrate[dask]'): its "
        "scheduler's address (tcp://HOST:8786), or local[:N] for a local cluster of N worker "
        "processes; none runs here. Family folders and files must be at the same paths on "
        "every worker. Default: [tool.docmigrate] scheduler, else none.",
    )(function)


def _scheduler(
    scheduler: str | None, timeout: float | None, settings: Settings
) -> tuple[str | None, float]:
    """The scheduler to run on (None: here) and its timeout: flags first, then pyproject."""
    chosen = scheduler if scheduler is not None else settings.scheduler
    if chosen is not None and chosen.strip().lower() == "none":
        chosen = None
    waited = timeout if timeout is not None else settings.scheduler_timeout
    return chosen, DEFAULT_TIMEOUT if waited is None else waited


def _connect_early(
    chosen: str | None, timeout: float, preload: Sequence[str] = ()
) -> Connection | None:
    """Start connecting to the scheduler now, while the files are planned (None: no scheduler).

    ``preload`` names modules the work needs besides docmigrate's executors, for local
    workers to import once. The connection is closed when the command ends; ``open_executor``
    waits for it.
    """
    if chosen is None:
        return None
    connection = Connection(chosen, timeout, preload=preload)
    return click.get_current_context().with_resource(connection)


def _announce(link: str) -> None:
    click.echo(f"Dask dashboard: {visible(link)}", err=True)


verbose_option = click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Say on standard error how each file was read: streaming (record by record, memory "
    "flat whatever its size) or in memory, and why.",
)


def _registry(family_paths: Sequence[Path]) -> Registry:
    return Registry.discover(family_paths)


def _color() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="docmigrate")
def cli() -> None:
    """Validate, upgrade and store versioned JSON documents against their families' schemas.

    A family is a folder of versioned JSON Schema files (1.0.schema.json, 1.1.schema.json, ...)
    and the step functions that upgrade one version to the next. Each document's family and
    version are detected from its content. Settings may live in [tool.docmigrate] of the
    working directory's pyproject.toml (family-paths, format, exclude, scheduler,
    scheduler-timeout); flags override them.

    Exit codes: 0 all good, 1 some file invalid or not processed, 2 usage or configuration error.
    """


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=PATHS)
@click.option(
    "--family",
    "family_name",
    metavar="NAME",
    help="Check every file as this family "
    "instead of detecting it (the version is still read from each file).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default=None,
    help="text (default): 'file:line:col: <json path>: message' lines and a summary; "
    "json: one object (schema: docmigrate/report.schema.json); github: workflow "
    "annotations; junit: JUnit XML; sarif: SARIF 2.1.0.",
)
@click.option(
    "--require-current",
    is_flag=True,
    help="Also fail valid files that are not at their family's current version.",
)
@exclude_option
@max_file_size_option
@scheduler_options
@verbose_option
@family_path_option
def validate(
    paths: tuple[Path, ...],
    family_name: str | None,
    output_format: str | None,
    require_current: bool,
    exclude: tuple[str, ...],
    max_file_size: int,
    scheduler: str | None,
    scheduler_timeout: float | None,
    verbose: bool,
    family_paths: tuple[Path, ...],
) -> None:
    """Validate files and folders (every *.json under them; - reads standard input).

    Each file is checked against the schema of the version it says it is at, so an old file
    that was valid when written stays valid.
    """
    settings = load_settings(Path.cwd())
    chosen, timeout = _scheduler(scheduler, scheduler_timeout, settings)
    if chosen is not None and any(str(p) == "-" for p in paths):
        raise click.UsageError(
            "--scheduler runs on workers that cannot read this standard input: give files, "
            "or validate - without --scheduler"
        )
    connection = _connect_early(chosen, timeout)
    registry = _registry(family_paths)
    _known_family(registry, family_name)
    tasks: list[FileTask] = [
        ValidateTask(path, family_name, require_current, max_file_size)
        for path, _ in iter_json_files(paths, exclude or settings.exclude)
    ]
    source = RegistrySource(tuple(p.resolve() for p in family_paths), Path.cwd())
    with open_executor(
        chosen,
        workers=1,
        registry=registry,
        source=source,
        timeout=timeout,
        announce=_announce,
        connection=connection,
    ) as executor:
        # Local validation runs in this process, as it always has, without progress lines.
        progress = Progress(len(tasks)) if chosen is not None else lambda _: None
        reports = list(executor.run_tasks(tasks, registry, source, progress=progress))
    if verbose:
        _echo_pipelines(reports)
    fmt = output_format or settings.format or "text"
    click.echo(render(reports, fmt, color=fmt == "text" and _color()), nl=False)
    _exit(reports)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=PATHS)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Write upgraded files into DIR (mirroring the folders given); files already "
    "at the target are copied unchanged.",
)
@click.option(
    "--in-place",
    is_flag=True,
    help="Replace each file with its upgraded form; files already at the target are not touched.",
)
@click.option(
    "--to",
    "to",
    metavar="VERSION",
    help="Target version (default: the family's "
    "current version). An older version runs the family's downgrades.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Write nothing; say what would change. Exit 1 if "
    "any file would change (or fails), 0 if everything is already at the target.",
)
@click.option(
    "--diff",
    is_flag=True,
    help="Print a unified diff of each changed file (documents pretty-printed the same way).",
)
@click.option(
    "--backup",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="With --in-place: keep every original that is replaced in DIR, mirroring the inputs' "
    "folders, never overwriting an earlier backup (a taken name gets a numbered suffix, "
    "x.json.~1~), and append each to DIR/docmigrate-backup-manifest.jsonl with its sha256 "
    "before and after. DIR must lie outside every input.",
)
@allow_loss_option
@family_option
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes "
    "(default: the number of CPUs; 1 runs in this process). Output order is the same "
    "for any number.",
)
@click.option(
    "--fail-fast",
    is_flag=True,
    help="Stop at the first file that fails (default: carry on and list every failure at the end).",
)
@click.option(
    "--indent",
    type=click.IntRange(min=0),
    default=None,
    help="Write N-space indentation with ',' and ': ' (0: one compact line with ',' and ':'). "
    "Line ends (LF/CRLF), the final newline and escaping stay as each file had them. "
    "Default: each file's own layout.",
)
@click.option(
    "--ensure-ascii/--no-ensure-ascii",
    default=None,
    help="Escape non-ASCII characters, or write them as they are. Default: as each file was.",
)
@click.option(
    "--progress-every",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="When not on a terminal, print a progress line every N files.",
)
@exclude_option
@max_file_size_option
@step_timeout_option
@action_format_option
@scheduler_options
@verbose_option
@family_path_option
def upgrade(
    paths: tuple[Path, ...],
    out: Path | None,
    in_place: bool,
    to: str | None,
    dry_run: bool,
    diff: bool,
    backup: Path | None,
    allow_loss: bool,
    family_name: str | None,
    workers: int | None,
    fail_fast: bool,
    indent: int | None,
    ensure_ascii: bool | None,
    progress_every: int,
    exclude: tuple[str, ...],
    max_file_size: int,
    step_timeout: float | None,
    output_format: str,
    scheduler: str | None,
    scheduler_timeout: float | None,
    verbose: bool,
    family_paths: tuple[Path, ...],
) -> None:
    """Upgrade files and folders to the current (or --to) version.

    Every write is atomic: a temporary file in the same folder is written, flushed to disk and
    renamed over the destination with the original's permissions, owner and group (a file with
    other hard links is rewritten in place behind a journal instead; a symbolic link is
    followed). An interrupted run never leaves a half-written file, and the next run cleans up
    after it. Files already at the target are skipped untouched, so a second run picks up where
    one stopped. A file that is invalid or cannot be upgraded is reported and left as it was.
    --out and --backup folders must lie outside every input.
    """
    if (out is None) == (not in_place):
        raise click.UsageError("choose exactly one of --out DIR and --in-place")
    if any(str(p) == "-" for p in paths):
        raise click.UsageError(
            "upgrade reads files, not standard input: give the file's path (with --in-place "
            "or --out DIR)"
        )
    if backup is not None and out is not None:
        raise click.UsageError(
            "--backup keeps the originals that --in-place replaces; with --out the originals "
            "are never touched"
        )
    settings = load_settings(Path.cwd())
    chosen, timeout = _scheduler(scheduler, scheduler_timeout, settings)
    if chosen is not None and workers is not None:
        raise click.UsageError(
            "--workers sizes the local pool; with --scheduler the cluster's workers do the "
            "work (--scheduler local:N starts N of them here)"
        )
    connection = _connect_early(chosen, timeout)
    registry = _registry(family_paths)
    _known_family(registry, family_name)
    _known_target(registry, family_name, to)
    jobs, refused = plan_jobs(paths, out, exclude or settings.exclude, backup=backup)
    source = RegistrySource(tuple(p.resolve() for p in family_paths), Path.cwd())
    with open_executor(
        chosen,
        workers=workers or default_workers(),
        registry=registry,
        source=source,
        timeout=timeout,
        announce=_announce,
        connection=connection,
    ) as executor:  # first: a cluster that cannot do the work stops the run before any write
        if not dry_run:
            folders = [*paths, *(f for f in (out, backup) if f is not None and f.is_dir())]
            for leftover in remove_leftovers(folders):
                what = (
                    "put back the original kept in" if leftover.action == "restored" else "removed"
                )
                click.echo(
                    f"{what} {visible(str(leftover.path))}, left by an interrupted run", err=True
                )
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
        options = UpgradeOptions(
            out=out,
            to=to,
            family_name=family_name,
            dry_run=dry_run,
            allow_loss=allow_loss,
            backup=backup,
            diff=diff,
            indent=indent,
            ensure_ascii=ensure_ascii,
            max_file_size=max_file_size,
            step_timeout=step_timeout,
        )
        progress = Progress(len(jobs), every=progress_every)
        manifest = BackupManifest(backup) if backup is not None and not dry_run else None

        def finished(report: FileReport) -> None:
            if manifest is not None:
                manifest.add(report)
            progress(report)

        tasks = [UpgradeTask(job, options) for job in jobs]
        reports = refused + list(
            executor.run_tasks(tasks, registry, source, fail_fast=fail_fast, progress=finished)
        )
    if verbose:
        _echo_pipelines(reports)
    if manifest is not None and any(r.backup for r in reports):
        click.echo(f"backup manifest: {visible(str(manifest.path))}", err=True)
    _report_upgrade(reports, len(jobs) + len(refused), output_format, diff=diff)
    pending = any(r.action.startswith("would ") for r in reports)
    sys.exit(EXIT_INVALID if any(not r.ok for r in reports) or (dry_run and pending) else EXIT_OK)


def _known_target(registry: Registry, family_name: str | None, to: str | None) -> None:
    if to is None:
        return
    families = [registry.get(family_name)] if family_name else list(registry)
    if not any(to in family.versions for family in families):
        known = ", ".join(f"{f.name} {', '.join(f.versions)}" for f in families)
        raise click.UsageError(f"--to {to}: no family has this version (known: {known})")


_ACTIONS = (
    "upgraded",
    "downgraded",
    "would upgrade",
    "would downgrade",
    "copied",
    "unchanged",
)


def upgrade_summary(reports: Sequence[FileReport], total: int) -> str:
    """One line counting every file: ``4 files: 2 upgraded, 1 unchanged, 1 failed``."""
    counts = Counter(r.action if r.ok else "failed" for r in reports)
    parts = [f"{counts[action]} {action}" for action in _ACTIONS if counts[action]]
    parts.append(f"{counts['failed']} failed")
    skipped = total - len(reports)
    if skipped:
        parts.append(f"{skipped} not processed (--fail-fast)")
    return f"{count(total, 'file')}: {', '.join(parts)}"


def _report_upgrade(
    reports: Sequence[FileReport], total: int, output_format: str, *, diff: bool
) -> None:
    if output_format == "json":
        _echo_json(reports)
        return
    for report in reports:
        if report.ok:
            click.echo(_describe_action(report))
            if diff and report.diff:
                click.echo(report.diff, nl=False)
    failed = [r for r in reports if not r.ok]
    click.echo(upgrade_summary(reports, total))
    if failed:
        click.echo("failed:")
        _echo_problems(failed)


@cli.command()
@click.argument("name", metavar="FAMILY")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
)
@family_path_option
def graph(name: str, output_format: str, family_paths: tuple[Path, ...]) -> None:
    """Print a family's version graph (steps with their function names, current highlighted).

    Paste mermaid output into Markdown (```mermaid) or render dot with Graphviz.
    """
    family = _registry(family_paths).get(name)
    click.echo(version_graph(family, output_format), nl=False)


DB_HELP = (
    "The database: a SQLAlchemy URL (sqlite:///history.db, postgresql+psycopg://user@host/db) "
    "or a file path, which means SQLite."
)


def _refuse_in_memory(db: str, why: str) -> None:
    """Refuse an in-memory SQLite --db: it is gone when this process ends."""
    from docmigrate.store import is_in_memory

    if is_in_memory(db):
        raise click.BadParameter(
            f"{db} is an in-memory SQLite database, {why}; give a file (sqlite:///FILE or a path)",
            param_hint="'--db'",
        )


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=PATHS)
@click.option("--db", "db", required=True, metavar="URL", help=DB_HELP)
@click.option(
    "--on-duplicate",
    type=click.Choice(["skip", "replace", "error"]),
    default=None,
    help="Merge families: a record whose key is already stored is skipped (the default), "
    "replaced when its JSON text differs, or fails the whole file. Snapshot families: the "
    "newest snapshot always replaces the state; 'error' refuses one that would replace or "
    "remove a stored record. A file already imported changes nothing, whatever this says.",
)
@family_option
@exclude_option
@max_file_size_option
@step_timeout_option
@action_format_option
@scheduler_options
@family_path_option
@verbose_option
def import_(
    paths: tuple[Path, ...],
    db: str,
    on_duplicate: OnDuplicate | None,
    family_name: str | None,
    exclude: tuple[str, ...],
    max_file_size: int,
    step_timeout: float | None,
    output_format: str,
    scheduler: str | None,
    scheduler_timeout: float | None,
    family_paths: tuple[Path, ...],
    verbose: bool,
) -> None:
    """Import files into a database: validate, upgrade to current, write each file atomically.

    Each file is one transaction: either all of its records are written or none are. The
    import is recorded with the file's name, sha256, source version, steps applied and counts.
    """
    from docmigrate.store import open_store
    from docmigrate.transfer import ImportOptions, import_paths

    _refuse_in_memory(db, "so everything imported would be thrown away")
    settings = load_settings(Path.cwd())
    chosen, timeout = _scheduler(scheduler, scheduler_timeout, settings)
    if chosen is not None and any(str(p) == "-" for p in paths):
        raise click.UsageError(
            "--scheduler runs on workers that cannot read this standard input: give files"
        )
    connection = _connect_early(chosen, timeout, IMPORT_PRELOAD)
    registry = _registry(family_paths)
    _known_family(registry, family_name)
    options = ImportOptions(family_name, max_file_size, step_timeout, on_duplicate)
    if chosen is None:
        with open_store(db) as store:
            reports = list(
                import_paths(
                    paths,
                    registry,
                    store,
                    on_duplicate=on_duplicate,
                    family_name=family_name,
                    exclude=exclude or settings.exclude,
                    max_file_size=max_file_size,
                    step_timeout=step_timeout,
                )
            )
    else:
        files = [path for path, _ in iter_json_files(paths, exclude or settings.exclude)]
        reports = _import_on_cluster(
            files, db, registry, options, (chosen, timeout, connection), family_paths
        )
    if verbose:
        _echo_pipelines(reports)
    if output_format == "json":
        _echo_json(reports)
    else:
        for report in reports:
            if report.ok:
                counts = report.counts
                via = f" via {', '.join(report.steps)}" if report.steps else ""
                removed = f", {counts['removed']} removed" if counts.get("removed") else ""
                click.echo(
                    visible(
                        f"{report.path}: {report.family} {report.version}{via}: "
                        f"{counts['imported']} imported, {counts['skipped']} skipped, "
                        f"{counts['replaced']} replaced{removed} ({report.action})"
                    )
                )
        _echo_problems(reports)
        click.echo(import_summary(reports))
    _exit(reports)


def _import_on_cluster(
    files: Sequence[Path],
    db: str,
    registry: Registry,
    options: ImportOptions,
    cluster: tuple[str, float, Connection | None],
    family_paths: Sequence[Path],
) -> list[FileReport]:
    """Import on a Dask cluster: PostgreSQL is written by the workers, SQLite by this process.

    A SQLite database takes one writer at a time, so there the workers read, validate and
    upgrade, and this process stores each file's records in input order as they arrive; files
    big enough to stream it imports itself, streamed, in their turn (see ``ImportTask``).
    """
    from docmigrate.store import database_url, open_store
    from docmigrate.transfer import ImportTask, store_prepared

    sqlite = database_url(db).startswith("sqlite")
    scheduler, timeout, connection = cluster
    tasks = [ImportTask(path, options, None if sqlite else db) for path in files]
    source = RegistrySource(tuple(p.resolve() for p in family_paths), Path.cwd())
    progress = Progress(len(tasks))
    with (
        open_executor(
            scheduler, workers=1, registry=registry, source=source, timeout=timeout,
            announce=_announce, connection=connection,
        ) as executor,  # first: a cluster that cannot do the work stops the run before any write
        open_store(db) as store,  # made here, so that workers do not race to create the tables
    ):  # fmt: skip

        def finished(report: FileReport) -> None:
            store_prepared(report, registry, store, options)
            progress(report)

        return list(executor.run_tasks(tasks, registry, source, progress=finished))


def import_summary(reports: Sequence[FileReport]) -> str:
    """One line counting every file: ``4 files: 2 imported, 1 already imported, 1 failed``.

    A file counts as imported when it made an import of its own; one that was already
    imported (or brought nothing new) changed nothing and is counted apart.
    """
    imported = sum(r.ok and r.action.startswith("import ") for r in reports)
    failed = sum(not r.ok for r in reports)
    unchanged = len(reports) - imported - failed
    parts = [f"{imported} imported"]
    if unchanged:
        parts.append(f"{unchanged} unchanged (already imported or nothing new)")
    parts.append(f"{failed} failed")
    return f"{count(len(reports), 'file')}: {', '.join(parts)}"


@cli.command()
@click.option("--db", "db", required=True, metavar="URL", help=DB_HELP)
@click.option(
    "--family",
    "family_name",
    required=True,
    metavar="NAME",
    help="The family whose records to export.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Write here (atomically) instead of to standard output.",
)
@click.option(
    "--to",
    "to",
    metavar="VERSION",
    help="Export at an older version through the family's downgrades (default: current).",
)
@click.option(
    "--import",
    "import_id",
    type=click.IntRange(min=1),
    metavar="ID",
    help="Snapshot families: export the document of import ID (an older snapshot) instead of "
    "the current state. IDs are in docmigrate_imports and in import's output.",
)
@allow_loss_option
@family_path_option
def export(
    db: str,
    family_name: str,
    output: Path | None,
    to: str | None,
    import_id: int | None,
    allow_loss: bool,
    family_paths: tuple[Path, ...],
) -> None:
    """Export a family's stored state as one document (validated before it is written).

    Nothing is created: a database that does not exist is an error (exit 2), and one that holds
    nothing of the family (or no such import) exits 1; either way -o FILE is left as it was.
    """
    from docmigrate.store import open_store
    from docmigrate.transfer import export_bytes, export_document

    _refuse_in_memory(db, "which holds nothing to export")
    family = _registry(family_paths).get(family_name)
    try:
        with open_store(db, create=False) as store:
            document = export_document(
                store, family, to=to, allow_loss=allow_loss, import_id=import_id
            )
            data = export_bytes(document)
    except NothingStoredError as error:
        click.echo(f"docmigrate: {error}", err=True)
        sys.exit(EXIT_INVALID)
    if output is None:
        click.echo(data.decode("utf-8"), nl=False)
    else:
        write_atomic(output, data)
        click.echo(f"wrote {output}", err=True)


@cli.command()
@click.argument("names", nargs=-1, metavar="[FAMILY]...")
@click.option(
    "--examples",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Documents drawn per law and step.",
)
@click.option("--no-store", is_flag=True, help="Skip the store round trip (in-memory SQLite).")
@family_path_option
def check(
    names: tuple[str, ...], examples: int, no_store: bool, family_paths: tuple[Path, ...]
) -> None:
    """Check families, for their authors and their CI.

    The family folders load (every schema passes its metaschema, every default is valid under
    its own schema, the version graph is sound), and the laws of docmigrate.testing hold on
    documents drawn from the schemas: every step's output is valid under its target version,
    every version lands valid at current, upgrading a current document changes nothing,
    downgrades invert upgrades up to their declared drops, documents breaking one rule are
    refused, and export -> import -> export through a store is identical. Each law prints what
    it exercised (documents, records, step calls on records, downgrade pairs); a law that
    exercised nothing fails, and a family without downgrades shows "no downgrades". Without
    FAMILY names, checks the families of --family-path (or every family found). Exit 1 if any
    fails.
    """
    try:
        from docmigrate.testing import LAWS, STORE_LAW, store_round_trip
        from docmigrate.testing.profiles import quiet_profile
    except ImportError as error:  # hypothesis is an optional dependency
        raise click.UsageError(
            f"check needs Hypothesis: pip install 'docmigrate[testing]' ({error})"
        ) from None
    try:
        registry = _registry(family_paths)
    except FamilyError as error:
        click.echo(f"FAIL  loading: {error}")
        sys.exit(EXIT_INVALID)
    if names:
        chosen = [registry.get(name) for name in names]
    elif family_paths:
        builtin = BUILTIN_FOLDER.resolve()
        chosen = [f for f in registry if Path(f.location).resolve().parent != builtin]
    else:
        chosen = list(registry)
    quiet_profile()
    failed = 0
    for family in chosen:
        click.echo(
            f"{family.name} ({', '.join(family.versions)}; current {family.current}): "
            "loads, schemas and defaults valid"
        )
        laws = dict(LAWS)
        if not no_store:
            laws[STORE_LAW] = lambda f, examples: store_round_trip(
                f, "sqlite:///:memory:", examples=examples
            )
        for name, law in laws.items():
            try:
                exercise = law(family, examples=examples)
            except Exception as error:  # a law's failure, or a crash in the family's code
                failed += 1
                click.echo(f"  FAIL  {name}: {error}")
                for note in getattr(error, "__notes__", []):
                    click.echo("        " + note.replace("\n", "\n        "))
            else:
                # Each law says what it exercised; one with nothing to check is not "ok".
                status = "--  " if exercise.note else "ok  "
                click.echo(f"  {status}  {name}: {exercise.summary()}")
        failed += _report_coverage(family)
    click.echo(f"{len(chosen)} family(ies), {failed} law(s) failed")
    sys.exit(EXIT_INVALID if failed else EXIT_OK)


def _report_coverage(family: Any) -> int:
    """Print, per upgrade step, the reader-breaking changes it covers; return the failures."""
    from docmigrate.evolution.coverage import step_coverage

    failures = 0
    for result in step_coverage(family):
        edge = f"{result.step.source} -> {result.step.target}"
        for finding, problem in result.uncovered:
            failures += 1
            change = finding.change
            click.echo(
                visible(
                    f"  FAIL  step coverage {edge}: {change.instance_path}: {change.summary}: "
                    f"{result.step.name} leaves its counterexample invalid ({problem})"
                )
            )
        if not result.uncovered:
            count_ = len(result.covered)
            click.echo(
                f"  ok    step coverage {edge}: {count_} reader-breaking change(s), each "
                f"counterexample upgraded valid by {result.step.name}"
            )
    return failures


@cli.command()
@click.argument("name", metavar="FAMILY")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.option(
    "--fail-on",
    type=click.Choice(["reader", "writer", "any"]),
    default=None,
    help="Exit 1 when a change breaks this role (for CI).",
)
@click.option(
    "--examples",
    type=click.IntRange(min=1),
    default=None,
    help="Documents drawn per change and role in the counterexample search.",
)
@family_path_option
def diff(
    name: str,
    old: str,
    new: str,
    output_format: str,
    fail_on: str | None,
    examples: int | None,
    family_paths: tuple[Path, ...],
) -> None:
    """Compare two versions of a family: every change, and whether it breaks readers or writers.

    reader: a document valid under OLD is invalid under NEW (old files need a step);
    writer: a document valid under NEW is invalid under OLD (old readers cannot read new
    files). A "breaking" verdict comes with a counterexample document confirmed by the
    validators; "compatible" is proved; anything else is "undecided".
    """
    _require_hypothesis("diff")
    from docmigrate.evolution import diff_versions, render

    family = _registry(family_paths).get(name)
    result = diff_versions(family, old, new, examples=examples)
    click.echo(render(result, output_format, family=family.name), nl=False)
    sys.exit(EXIT_INVALID if fail_on and result.breaking(fail_on) else EXIT_OK)


@cli.command()
@click.argument("names", nargs=-1, metavar="[FAMILY]...")
@click.option(
    "--release",
    "release",
    multiple=True,
    metavar="VERSION",
    help="Also mark this version (e.g. the head) released. Repeatable.",
)
@click.option(
    "--exclude-annotations/--include-annotations",
    default=None,
    help="Leave titles, descriptions, $comment and examples out of the schema fingerprints "
    "(kept from the existing lock when not given).",
)
@family_path_option
def lock(
    names: tuple[str, ...],
    release: tuple[str, ...],
    exclude_annotations: bool | None,
    family_paths: tuple[Path, ...],
) -> None:
    """Write docmigrate.lock in each family folder: fingerprints of its released versions.

    Every version but the current one is released; the current one stays a draft (free to
    change) unless --release names it. Loading a family whose released version's schema or
    step changed since then is refused (exit 2). Commit the lock with the family.
    """
    from docmigrate.evolution.lock import locked_family, read_lock, write_lock

    registry = _registry(family_paths)
    for family in _chosen(registry, names, family_paths):
        result = locked_family(
            family,
            read_lock(family.location),
            release=release,
            exclude_annotations=exclude_annotations,
        )
        path = write_lock(family.location, result)
        states = ", ".join(f"{v} {e.status}" for v, e in result.versions.items())
        click.echo(visible(f"{family.name}: wrote {path} ({states})"))


@cli.command()
@click.argument("name", metavar="FAMILY")
@click.argument("version", metavar="[VERSION]", required=False)
@click.option(
    "--from-diff",
    is_flag=True,
    help="Write the stub's body from the edited VERSION schema (added properties with "
    "defaults, removed optional ones).",
)
@family_path_option
def new(name: str, version: str | None, from_diff: bool, family_paths: tuple[Path, ...]) -> None:
    """Start a new VERSION of FAMILY, or (without VERSION) a new family under --family-path.

    A version gets a copy of the current schema, a step stub, example folders and its lock
    entry; a family gets a folder with version 1.0 inside the one --family-path DIR.

    Never overwrites a version file. The previous head is marked released in docmigrate.lock.
    """
    from docmigrate.evolution.scaffold import new_family, new_version, step_from_diff

    if version is None:
        if len(family_paths) != 1:
            raise UsageError(
                "new FAMILY without VERSION needs one --family-path DIR to create it in"
            )
        created = new_family(family_paths[0], name)
    else:
        family = _registry(family_paths).get(name)
        if from_diff:
            _require_hypothesis("new --from-diff")
            click.echo(f"wrote {step_from_diff(family, version)}")
            return
        created = new_version(family, version)
    for path in created.paths:
        click.echo(visible(f"created {path}"))
    click.echo("next:")
    for step in created.next_steps:
        click.echo(visible(f"  {step}"))


def _chosen(registry: Registry, names: Sequence[str], family_paths: Sequence[Path]) -> list[Any]:
    """The families a command acts on: those named, else those of --family-path, else all."""
    if names:
        return [registry.get(name) for name in names]
    if family_paths:
        builtin = BUILTIN_FOLDER.resolve()
        return [f for f in registry if Path(f.location).resolve().parent != builtin]
    return list(registry)


@cli.command()
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
@family_path_option
def families(output_format: str, family_paths: tuple[Path, ...]) -> None:
    """List the families found: versions, current version and the steps between them."""
    described = describe_families(_registry(family_paths))
    if output_format == "json":
        click.echo(json.dumps(described, indent=2))
        return
    for family in described:
        click.echo(f"{family['name']}  (current {family['current']})  {family['location']}")
        if family["description"]:
            click.echo(f"  {family['description']}")
        default = family["default_version"]
        click.echo(
            f"  versions: {', '.join(family['versions'])}"
            + (f" (no label means {default})" if default else "")
        )
        for step in family["steps"]:
            scope = f" each {step['per_record']}" if step["per_record"] else ""
            drops = f" drops {', '.join(step['drops'])}" if step["drops"] else ""
            click.echo(
                f"  {step['direction']:9} {step['from']} -> {step['to']}: "
                f"{step['function']}{scope}{drops}"
            )


def _require_hypothesis(command: str) -> None:
    """Refuse a command that draws documents when Hypothesis (an optional extra) is missing."""
    if importlib.util.find_spec("hypothesis") is None:
        raise click.UsageError(
            f"{command} draws documents with Hypothesis: pip install 'docmigrate[testing]'"
        )


def _known_family(registry: Registry, name: str | None) -> None:
    if name is not None:
        registry.get(name)


def _describe_action(report: FileReport) -> str:
    at = f"{report.family} {report.version}"
    if report.action in ("upgraded", "downgraded", "would upgrade", "would downgrade"):
        where = "" if report.output == report.path else f" -> {report.output}"
        line = (
            f"{report.path}: {report.action} {at} -> {report.target}{where} "
            f"({', '.join(report.steps)})"
        )
    elif report.action == "copied":
        line = f"{report.path}: already at {report.target}, copied unchanged -> {report.output}"
    else:
        line = f"{report.path}: already at {report.target}, unchanged"
    return visible(line)


def _echo_pipelines(reports: Iterable[FileReport]) -> None:
    """Say on standard error how each file was read (streaming or in memory, and why)."""
    for report in reports:
        if report.pipeline:
            click.echo(f"{visible(report.path)}: {report.pipeline}", err=True)


def _echo_problems(reports: Iterable[FileReport]) -> None:
    for report in reports:
        for line in problem_lines(report):
            click.echo(line)


def _echo_json(reports: Sequence[FileReport]) -> None:
    document = {
        "format_version": REPORT_FORMAT_VERSION,
        "files": [asdict(r) | {"valid": r.ok} for r in reports],
        "summary": {
            "files": len(reports),
            "invalid": sum(not r.ok for r in reports),
            "errors": sum(len(r.problems) for r in reports),
        },
    }
    # Undecodable file names hold lone surrogates: shown as text escapes, as validate does.
    click.echo(json.dumps(encodable(document), indent=2, ensure_ascii=False))


def _exit(reports: Sequence[FileReport]) -> None:
    sys.exit(EXIT_OK if all(r.ok for r in reports) else EXIT_INVALID)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line; errors the user can fix are messages, never tracebacks."""
    try:
        cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="docmigrate",
            standalone_mode=False,
        )
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(EXIT_ERROR)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_ERROR)
    except (
        ClusterError,
        ConfigurationError,
        FamilyError,
        DetectionError,
        StoreError,
        UsageError,
    ) as error:
        click.echo(f"docmigrate: error: {visible(str(error))}", err=True)
        sys.exit(EXIT_ERROR)
    except DocmigrateError as error:
        click.echo(f"docmigrate: {visible(str(error))}", err=True)
        sys.exit(EXIT_INVALID)
    except Exception:
        import traceback  # only a bug gets here: a normal run need not import it

        click.echo("docmigrate: internal error (please report it):", err=True)
        click.echo(traceback.format_exc(), err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_OK)
