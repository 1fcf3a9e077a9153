"""Working through many files: the tasks, the local worker pool, progress, the backup manifest.

Each file's work is a task (:class:`UpgradeTask`, :class:`ValidateTask`) that an executor runs:
the :class:`LocalPool` of worker processes here, or a Dask cluster
(:mod:`docmigrate.executors`). Results come back in the order of the files, whatever the
executor and the number of workers, so reports and manifests are stable. With one worker
everything runs in this process.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, overload

from docmigrate.commands import (
    DEFAULT_MAX_FILE_SIZE,
    UpgradeJob,
    UpgradeOptions,
    upgrade_file,
    validate_file,
)
from docmigrate.files import BACKUP_MANIFEST
from docmigrate.registry import Registry
from docmigrate.reports import FileReport, Problem

if TYPE_CHECKING:  # concurrent.futures imports logging: only worker pools need it
    from concurrent.futures import Future


@dataclass(frozen=True)
class RegistrySource:
    """How a worker process rebuilds the registry (registries hold modules: not picklable)."""

    family_paths: tuple[Path, ...]
    cwd: Path

    def load(self) -> Registry:
        """Discover the families as the parent process did."""
        return Registry.discover(self.family_paths, cwd=self.cwd)


class FileTask(Protocol):
    """One file's work, which an executor runs here or in a worker (so it is picklable)."""

    @property
    def path(self) -> Path:
        """The file, as given."""

    def run(self, registry: Registry) -> FileReport:
        """Do the work; every problem ends up in the report, nothing is raised."""

    def died(self) -> FileReport:
        """The report of this file when the worker running it died every time it was tried."""

    def anchored(self, cwd: Path) -> tuple[FileTask, dict[str, str]]:
        """Return the task with relative paths made absolute under ``cwd`` (for another machine).

        Also returns each absolute path made, mapped to the path as given, so that the
        worker's report can name the files as a run in ``cwd`` would.
        """


WORKER_DIED = (
    "the worker process {doing} this file died (killed by a signal, e.g. by the "
    "out-of-memory killer){after}"
)


@dataclass(frozen=True)
class UpgradeTask:
    """Upgrade one file (:func:`~docmigrate.commands.upgrade_file`)."""

    job: UpgradeJob
    options: UpgradeOptions

    @property
    def path(self) -> Path:
        """The file to upgrade, as given."""
        return self.job.path

    def run(self, registry: Registry) -> FileReport:
        """Upgrade the file as the options say."""
        return upgrade_file(self.job, registry, self.options)

    def died(self) -> FileReport:
        """A failure of this file: its worker died; the file is intact or fully upgraded."""
        report = FileReport(path=str(self.job.path), output=str(self.job.destination))
        after = "; the file is at its original bytes or fully upgraded"
        message = WORKER_DIED.format(doing="upgrading", after=after)
        report.problems.append(Problem(1, 1, "$", message, "worker"))
        return report

    def anchored(self, cwd: Path) -> tuple[UpgradeTask, dict[str, str]]:
        """Return the upgrade with its paths absolute under ``cwd``."""
        given: dict[str, str] = {}
        job = replace(
            self.job,
            path=anchor(self.job.path, cwd, given),
            root=anchor(self.job.root, cwd, given),
            destination=anchor(self.job.destination, cwd, given),
        )
        options = replace(
            self.options,
            out=anchor(self.options.out, cwd, given),
            backup=anchor(self.options.backup, cwd, given),
        )
        return UpgradeTask(job, options), given


@dataclass(frozen=True)
class ValidateTask:
    """Validate one file (:func:`~docmigrate.commands.validate_file`)."""

    path: Path
    family_name: str | None = None
    require_current: bool = False
    max_file_size: int = DEFAULT_MAX_FILE_SIZE

    def run(self, registry: Registry) -> FileReport:
        """Validate the file against the schema of its own version."""
        return validate_file(
            self.path,
            registry,
            self.family_name,
            require_current=self.require_current,
            max_file_size=self.max_file_size,
        )

    def died(self) -> FileReport:
        """A failure of this file: its worker died (files are only read)."""
        report = FileReport(path=str(self.path))
        message = WORKER_DIED.format(doing="validating", after="")
        report.problems.append(Problem(1, 1, "$", message, "worker"))
        return report

    def anchored(self, cwd: Path) -> tuple[ValidateTask, dict[str, str]]:
        """Return the validation with its path absolute under ``cwd``."""
        given: dict[str, str] = {}
        return replace(self, path=anchor(self.path, cwd, given)), given


@overload
def anchor(path: Path, cwd: Path, given: dict[str, str]) -> Path: ...
@overload
def anchor(path: None, cwd: Path, given: dict[str, str]) -> None: ...
def anchor(path: Path | None, cwd: Path, given: dict[str, str]) -> Path | None:
    """Return ``path`` absolute under ``cwd`` (as written: ``..`` kept), noted in ``given``."""
    if path is None or path.is_absolute():
        return path
    absolute = cwd / path
    given[str(absolute)] = str(path)
    return absolute


def as_given(report: FileReport, given: dict[str, str]) -> FileReport:
    """Name the files in ``report`` as given: undo :meth:`FileTask.anchored` (in place)."""
    if not given:
        return report
    longest_first = sorted(given.items(), key=lambda item: len(item[0]), reverse=True)

    def restore(text: str) -> str:
        for absolute, relative in longest_first:
            text = text.replace(absolute, relative)
        return text

    report.path = restore(report.path)
    report.output = None if report.output is None else restore(report.output)
    report.backup = None if report.backup is None else restore(report.backup)
    report.diff = restore(report.diff)
    report.problems = [replace(p, message=restore(p.message)) for p in report.problems]
    return report


class Executor(Protocol):
    """Runs file tasks somewhere, yielding their reports in task order as they finish."""

    def run_tasks(
        self,
        tasks: Sequence[FileTask],
        registry: Registry,
        source: RegistrySource,
        *,
        fail_fast: bool = False,
        progress: Callable[[FileReport], None] = lambda _: None,
    ) -> Iterator[FileReport]:
        """Run every task, yielding reports in task order; stop at the first failure if asked."""


_WORKER_REGISTRY: dict[RegistrySource, Registry] = {}


def _run_in_worker(source: RegistrySource, task: FileTask) -> FileReport:
    if source not in _WORKER_REGISTRY:
        _WORKER_REGISTRY[source] = source.load()
    return task.run(_WORKER_REGISTRY[source])


def default_workers() -> int:
    """The number of CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class LocalPool:
    """Worker processes on this machine (one worker: everything runs in this process)."""

    workers: int

    def run_tasks(
        self,
        tasks: Sequence[FileTask],
        registry: Registry,
        source: RegistrySource,
        *,
        fail_fast: bool = False,
        progress: Callable[[FileReport], None] = lambda _: None,
    ) -> Iterator[FileReport]:
        """Run every task, yielding reports in task order; stop at the first failure if asked.

        A worker process that dies (killed by the out-of-memory killer, say) fails only the
        file it was working on: the files that were in flight with it and had not finished are
        run again one by one, each in a fresh worker (a file whose write had landed is then
        reported as already at the target), and the one that kills its worker again is
        reported as failed.
        """
        reports = _reports(tasks, registry, source, self.workers)
        yield from stream(reports, fail_fast=fail_fast, progress=progress)


def stream(
    reports: Generator[FileReport, None, None],
    *,
    fail_fast: bool,
    progress: Callable[[FileReport], None],
) -> Iterator[FileReport]:
    """Pass ``reports`` on, showing progress; close them after the first failure if asked."""
    for report in reports:
        progress(report)
        yield report
        if fail_fast and not report.ok:
            reports.close()
            return


def _reports(
    tasks: Sequence[FileTask],
    registry: Registry,
    source: RegistrySource,
    workers: int,
) -> Generator[FileReport, None, None]:
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield task.run(registry)
        return
    # multiprocessing costs a one-worker validate a noticeable part of its start-up.
    from concurrent.futures.process import BrokenProcessPool, ProcessPoolExecutor

    window = workers * 4  # bounded, so that --fail-fast stops soon and memory stays flat
    submitted = 0
    while submitted < len(tasks):
        pending: deque[tuple[FileTask, Future[FileReport]]] = deque()
        with ProcessPoolExecutor(max_workers=workers) as pool:
            try:
                while submitted < len(tasks) or pending:
                    while submitted < len(tasks) and len(pending) < window:
                        task = tasks[submitted]
                        pending.append((task, pool.submit(_run_in_worker, source, task)))
                        submitted += 1
                    yield pending[0][1].result()
                    pending.popleft()
            except BrokenProcessPool:
                suspects = list(pending)
            else:
                return
            finally:
                for _, future in pending:
                    future.cancel()
        for task, future in suspects:  # the pool is gone: keep what finished, rerun the rest
            if future.done() and not future.cancelled() and future.exception() is None:
                yield future.result()
            else:
                yield _isolated(task, source)


def _isolated(task: FileTask, source: RegistrySource) -> FileReport:
    """Run one task in a worker of its own; a worker that dies fails this file only."""
    from concurrent.futures.process import BrokenProcessPool, ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1) as pool:
        try:
            return pool.submit(_run_in_worker, source, task).result()
        except BrokenProcessPool:
            return task.died()


class BackupManifest:
    """The append-only record of every original an upgrade replaced (JSON Lines).

    Each line is one object: when, the file, its backup, and the sha256 before and after. A
    line is added only once the file was replaced and its backup exists, and lines are only
    ever appended (a damaged line left by an earlier crash stays as it is and is skipped by
    readers), so the manifest lists only backups that really exist.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / BACKUP_MANIFEST
        folder.mkdir(parents=True, exist_ok=True)
        # Created first, so that the folder is known as a backup folder from the start.
        with open(self.path, "ab"):
            pass

    def add(self, report: FileReport) -> None:
        """Append ``report``'s backup, if it has one, and flush it to disk."""
        if report.backup is None:
            return
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "path": report.path,
            "output": report.output,
            "backup": report.backup,
            "sha256_before": report.sha256_before,
            "sha256_after": report.sha256_after,
        }
        # ensure_ascii: undecodable file names (lone surrogates) survive as \udcXX escapes.
        line = json.dumps(entry, ensure_ascii=True).encode("ascii") + b"\n"
        with open(self.path, "ab+") as stream:
            if stream.tell() > 0:
                stream.seek(-1, os.SEEK_END)
                if stream.read(1) != b"\n":  # a line cut short by a crash: start afresh
                    line = b"\n" + line
            stream.write(line)
            stream.flush()
            os.fsync(stream.fileno())


def read_manifest(folder: Path) -> list[dict[str, Any]]:
    """Return the entries of a backup folder's manifest, skipping damaged lines."""
    entries: list[dict[str, Any]] = []
    path = folder / BACKUP_MANIFEST
    if not path.is_file():
        return entries
    for line in path.read_bytes().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


class Progress:
    """Files done / total with rate and ETA: a bar on a terminal, periodic lines otherwise."""

    def __init__(self, total: int, *, every: int = 100, terminal: bool | None = None) -> None:
        self.total = total
        self.every = max(1, every)
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()
        self.terminal = sys.stderr.isatty() if terminal is None else terminal

    def __call__(self, report: FileReport) -> None:
        """Count one finished file and show progress."""
        self.done += 1
        self.failed += not report.ok
        if self.terminal:
            self._draw()
        elif self.done % self.every == 0 or self.done == self.total:
            print(
                f"{self.done}/{self.total} files, {self.failed} failed, {self.rate():.1f} files/s",
                file=sys.stderr,
                flush=True,
            )

    def rate(self) -> float:
        """Files per second so far."""
        return self.done / max(time.monotonic() - self.started, 1e-9)

    def _draw(self) -> None:
        width = 30
        filled = width * self.done // max(self.total, 1)
        left = (self.total - self.done) / max(self.rate(), 1e-9)
        bar = "#" * filled + "-" * (width - filled)
        end = "\n" if self.done == self.total else ""
        print(
            f"\r[{bar}] {self.done}/{self.total} {self.rate():.1f} files/s "
            f"ETA {int(left) // 60}:{int(left) % 60:02d} ",
            end=end,
            file=sys.stderr,
            flush=True,
        )
