"""Upgrading many files: worker processes, progress, the backup manifest.

Results come back in the order of the files, whatever the number of workers, so reports and
manifests are stable. With one worker everything runs in this process.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from docmigrate.commands import UpgradeJob, UpgradeOptions, upgrade_file
from docmigrate.files import BACKUP_MANIFEST
from docmigrate.registry import Registry
from docmigrate.reports import FileReport, Problem


@dataclass(frozen=True)
class RegistrySource:
    """How a worker process rebuilds the registry (registries hold modules: not picklable)."""

    family_paths: tuple[Path, ...]
    cwd: Path

    def load(self) -> Registry:
        """Discover the families as the parent process did."""
        return Registry.discover(self.family_paths, cwd=self.cwd)


_WORKER_REGISTRY: dict[RegistrySource, Registry] = {}


def _upgrade_in_worker(
    source: RegistrySource, job: UpgradeJob, options: UpgradeOptions
) -> FileReport:
    if source not in _WORKER_REGISTRY:
        _WORKER_REGISTRY[source] = source.load()
    return upgrade_file(job, _WORKER_REGISTRY[source], options)


def default_workers() -> int:
    """The number of CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_jobs(
    jobs: Sequence[UpgradeJob],
    registry: Registry,
    source: RegistrySource,
    options: UpgradeOptions,
    *,
    workers: int,
    fail_fast: bool = False,
    progress: Callable[[FileReport], None] = lambda _: None,
) -> Iterator[FileReport]:
    """Upgrade every job, yielding reports in job order; stop at the first failure if asked.

    A worker process that dies (killed by the out-of-memory killer, say) fails only the file
    it was working on: the files that were in flight with it and had not finished are run
    again one by one, each in a fresh worker (a file whose write had landed is then reported
    as already at the target), and the one that kills its worker again is reported as failed.
    """
    reports = _reports(jobs, registry, source, options, workers)
    for report in reports:
        progress(report)
        yield report
        if fail_fast and not report.ok:
            reports.close()
            return


def _reports(
    jobs: Sequence[UpgradeJob],
    registry: Registry,
    source: RegistrySource,
    options: UpgradeOptions,
    workers: int,
) -> Generator[FileReport, None, None]:
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield upgrade_file(job, registry, options)
        return
    window = workers * 4  # bounded, so that --fail-fast stops soon and memory stays flat
    submitted = 0
    while submitted < len(jobs):
        pending: deque[tuple[UpgradeJob, Future[FileReport]]] = deque()
        with ProcessPoolExecutor(max_workers=workers) as pool:
            try:
                while submitted < len(jobs) or pending:
                    while submitted < len(jobs) and len(pending) < window:
                        job = jobs[submitted]
                        pending.append((job, pool.submit(_upgrade_in_worker, source, job, options)))
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
        for job, future in suspects:  # the pool is gone: keep what finished, rerun the rest
            if future.done() and not future.cancelled() and future.exception() is None:
                yield future.result()
            else:
                yield _isolated(job, source, options)


def _isolated(job: UpgradeJob, source: RegistrySource, options: UpgradeOptions) -> FileReport:
    """Upgrade one file in a worker of its own; a worker that dies fails this file only."""
    with ProcessPoolExecutor(max_workers=1) as pool:
        try:
            return pool.submit(_upgrade_in_worker, source, job, options).result()
        except BrokenProcessPool:
            report = FileReport(path=str(job.path), output=str(job.destination))
            message = (
                "the worker process upgrading this file died (killed by a signal, e.g. by the "
                "out-of-memory killer); the file is at its original bytes or fully upgraded"
            )
            report.problems.append(Problem(1, 1, "$", message, "worker"))
            return report


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
