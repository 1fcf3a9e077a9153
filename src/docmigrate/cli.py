"""The ``docmigrate`` command line: parse options, build a registry, run a verb, exit.

Exit codes: 0 everything fine, 1 some file invalid, unreadable or not upgraded,
2 usage, configuration or internal error. Only this module turns exceptions into messages.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import click

from docmigrate import __version__
from docmigrate.archive import (
    Progress,
    RegistrySource,
    default_workers,
    run_jobs,
    write_manifest,
)
from docmigrate.commands import UpgradeOptions, describe_families, plan_jobs, validate_paths
from docmigrate.config import FORMATS, load_settings
from docmigrate.exceptions import (
    ConfigurationError,
    DetectionError,
    DocmigrateError,
    FamilyError,
    NothingStoredError,
    StoreError,
)
from docmigrate.files import remove_leftovers, write_atomic
from docmigrate.graph import version_graph
from docmigrate.registry import BUILTIN_FOLDER, Registry
from docmigrate.reporters import render
from docmigrate.reports import FileReport
from docmigrate.store import OnDuplicate, is_in_memory, open_store
from docmigrate.transfer import export_bytes, export_document, import_paths

EXIT_OK, EXIT_INVALID, EXIT_ERROR = 0, 1, 2
REPORT_FORMAT_VERSION = 1

F = TypeVar("F", bound=Callable[..., Any])


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
    working directory's pyproject.toml (family-paths, format, exclude); flags override them.

    Exit codes: 0 all good, 1 some file invalid or not processed, 2 usage or configuration error.
    """


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
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
@family_path_option
def validate(
    paths: tuple[Path, ...],
    family_name: str | None,
    output_format: str | None,
    require_current: bool,
    family_paths: tuple[Path, ...],
) -> None:
    """Validate files and folders (every *.json under them; - reads standard input).

    Each file is checked against the schema of the version it says it is at, so an old file
    that was valid when written stays valid.
    """
    settings = load_settings(Path.cwd())
    registry = _registry(family_paths)
    _known_family(registry, family_name)
    reports = list(
        validate_paths(
            paths, registry, family_name, require_current=require_current, exclude=settings.exclude
        )
    )
    fmt = output_format or settings.format or "text"
    click.echo(render(reports, fmt, color=fmt == "text" and _color()), nl=False)
    _exit(reports)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
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
    help="Keep every original that is replaced in DIR, with a manifest of sha256 "
    "before and after (docmigrate-backup-manifest.json).",
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
    help="Indent written files by N spaces (0: compact). Default: as each file was.",
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
@action_format_option
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
    output_format: str,
    family_paths: tuple[Path, ...],
) -> None:
    """Upgrade files and folders to the current (or --to) version.

    Every write is atomic: a temporary file in the same folder is written, flushed to disk and
    renamed over the destination with the original's permissions, so an interrupted run never
    leaves a half-written file, and the next run removes any temporary file it left. Files
    already at the target are skipped untouched, so a second run picks up where one stopped.
    A file that is invalid or cannot be upgraded is reported and left as it was.
    """
    if (out is None) == (not in_place):
        raise click.UsageError("choose exactly one of --out DIR and --in-place")
    if out is not None and any(_same_folder(out, p) for p in paths):
        raise click.UsageError(f"--out {out} is an input folder; use --in-place to rewrite files")
    settings = load_settings(Path.cwd())
    registry = _registry(family_paths)
    _known_family(registry, family_name)
    if not dry_run:
        for leftover in remove_leftovers([*paths, *([out] if out and out.is_dir() else [])]):
            click.echo(f"removed {leftover}, left by an interrupted run", err=True)
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
    )
    jobs, refused = plan_jobs(paths, out, settings.exclude)
    source = RegistrySource(tuple(p.resolve() for p in family_paths), Path.cwd())
    progress = Progress(len(jobs), every=progress_every)
    reports = refused + list(
        run_jobs(
            jobs,
            registry,
            source,
            options,
            workers=workers or default_workers(),
            fail_fast=fail_fast,
            progress=progress,
        )
    )
    if backup is not None and not dry_run and any(r.backup for r in reports):
        click.echo(f"backup manifest: {write_manifest(backup, reports)}", err=True)
    _report_upgrade(reports, len(jobs) + len(refused), output_format, dry_run=dry_run, diff=diff)
    pending = any(r.action == "would upgrade" for r in reports)
    sys.exit(EXIT_INVALID if any(not r.ok for r in reports) or (dry_run and pending) else EXIT_OK)


def _report_upgrade(
    reports: Sequence[FileReport], total: int, output_format: str, *, dry_run: bool, diff: bool
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
    done = sum(r.action in ("upgraded", "would upgrade") for r in reports)
    verb = "would upgrade" if dry_run else "upgraded"
    skipped = total - len(reports)
    tail = f", {skipped} not processed (--fail-fast)" if skipped else ""
    click.echo(f"{len(reports)} file(s): {done} {verb}, {len(failed)} failed{tail}")
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
    if is_in_memory(db):
        raise click.BadParameter(
            f"{db} is an in-memory SQLite database, {why}; give a file (sqlite:///FILE or a path)",
            param_hint="'--db'",
        )


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--db", "db", required=True, metavar="URL", help=DB_HELP)
@click.option(
    "--on-duplicate",
    type=click.Choice(["skip", "replace", "error"]),
    default="skip",
    show_default=True,
    help="A record whose key is already stored: skip it (re-importing a file is a no-op), "
    "replace it when it differs, or fail the whole file.",
)
@family_option
@action_format_option
@family_path_option
def import_(
    paths: tuple[Path, ...],
    db: str,
    on_duplicate: OnDuplicate,
    family_name: str | None,
    output_format: str,
    family_paths: tuple[Path, ...],
) -> None:
    """Import files into a database: validate, upgrade to current, write each file atomically.

    Each file is one transaction: either all of its records are written or none are. The
    import is recorded with the file's name, sha256, source version, steps applied and counts.
    """
    _refuse_in_memory(db, "so everything imported would be thrown away")
    registry = _registry(family_paths)
    _known_family(registry, family_name)
    with open_store(db) as store:
        reports = list(
            import_paths(paths, registry, store, on_duplicate=on_duplicate, family_name=family_name)
        )
    if output_format == "json":
        _echo_json(reports)
    else:
        for report in reports:
            if report.ok:
                counts = report.counts
                via = f" via {', '.join(report.steps)}" if report.steps else ""
                click.echo(
                    f"{report.path}: {report.family} {report.version}{via}: "
                    f"{counts['imported']} imported, {counts['skipped']} skipped, "
                    f"{counts['replaced']} replaced"
                )
        _echo_problems(reports)
        click.echo(f"{len(reports)} file(s), {sum(not r.ok for r in reports)} failed")
    _exit(reports)


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
@allow_loss_option
@family_path_option
def export(
    db: str,
    family_name: str,
    output: Path | None,
    to: str | None,
    allow_loss: bool,
    family_paths: tuple[Path, ...],
) -> None:
    """Export a family's stored records as one document (validated before it is written).

    Nothing is created: a database that does not exist is an error (exit 2), and one that holds
    nothing of the family exits 1; either way -o FILE is left as it was.
    """
    _refuse_in_memory(db, "which holds nothing to export")
    family = _registry(family_paths).get(family_name)
    try:
        with open_store(db, create=False) as store:
            data = export_bytes(export_document(store, family, to=to, allow_loss=allow_loss))
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
    refused, and export -> import -> export through a store is identical. Without FAMILY
    names, checks the families of --family-path (or every family found). Exit 1 if any fails.
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
                law(family, examples=examples)
            except Exception as error:  # a law's failure, or a crash in the family's code
                failed += 1
                click.echo(f"  FAIL  {name}: {error}")
                for note in getattr(error, "__notes__", []):
                    click.echo("        " + note.replace("\n", "\n        "))
            else:
                click.echo(f"  ok    {name}")
    click.echo(f"{len(chosen)} family(ies), {failed} law(s) failed")
    sys.exit(EXIT_INVALID if failed else EXIT_OK)


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


def _same_folder(out: Path, given: Path) -> bool:
    return given.is_dir() and out.resolve() == given.resolve()


def _known_family(registry: Registry, name: str | None) -> None:
    if name is not None:
        registry.get(name)


def _describe_action(report: FileReport) -> str:
    at = f"{report.family} {report.version}"
    if report.action in ("upgraded", "would upgrade"):
        where = "" if report.output == report.path else f" -> {report.output}"
        return (
            f"{report.path}: {report.action} {at} -> {report.target}{where} "
            f"({', '.join(report.steps)})"
        )
    if report.action == "copied":
        return f"{report.path}: already at {report.target}, copied unchanged -> {report.output}"
    return f"{report.path}: already at {report.target}, unchanged"


def _echo_problems(reports: Iterable[FileReport]) -> None:
    for report in reports:
        for problem in report.problems:
            click.echo(
                f"{report.path}:{problem.line}:{problem.column}: "
                f"{problem.json_path}: {problem.message}"
            )


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
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


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
    except (ConfigurationError, FamilyError, DetectionError, StoreError) as error:
        click.echo(f"docmigrate: error: {error}", err=True)
        sys.exit(EXIT_ERROR)
    except DocmigrateError as error:
        click.echo(f"docmigrate: {error}", err=True)
        sys.exit(EXIT_INVALID)
    except Exception:
        click.echo("docmigrate: internal error (please report it):", err=True)
        click.echo(traceback.format_exc(), err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_OK)
