"""Upgrading many files: worker processes, progress, a backup manifest.

Results come back in the order of the files, whatever the number of workers, so reports and
manifests are stable. With one worker everything runs in this process.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from docmigrate.commands import UpgradeJob, UpgradeOptions, upgrade_file
from docmigrate.files import write_atomic
from docmigrate.registry import Registry
from docmigrate.reports import FileReport

MANIFEST = "docmigrate-backup-manifest.json"


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
    """Upgrade every job, yielding reports in job order; stop at the first failure if asked."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            report = upgrade_file(job, registry, options)
            progress(report)
            yield report
            if fail_fast and not report.ok:
                return
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        window = workers * 4  # bounded, so that --fail-fast stops soon and memory stays flat
        pending: list[Future[FileReport]] = []
        submitted = 0
        while submitted < len(jobs) or pending:
            while submitted < len(jobs) and len(pending) < window:
                pending.append(pool.submit(_upgrade_in_worker, source, jobs[submitted], options))
                submitted += 1
            report = pending.pop(0).result()
            progress(report)
            yield report
            if fail_fast and not report.ok:
                for future in pending:
                    future.cancel()
                return


def write_manifest(backup: Path, reports: Sequence[FileReport]) -> Path:
    """Record, for each file replaced, its backup and its sha256 before and after."""
    entries = [
        {
            "path": r.path,
            "output": r.output,
            "backup": r.backup,
            "sha256_before": r.sha256_before,
            "sha256_after": r.sha256_after,
        }
        for r in reports
        if r.backup is not None
    ]
    manifest = backup / MANIFEST
    backup.mkdir(parents=True, exist_ok=True)
    previous = []
    if manifest.is_file():
        previous = json.loads(manifest.read_text(encoding="utf-8")).get("files", [])
    data = {"format_version": 1, "files": previous + entries}
    write_atomic(manifest, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode())
    return manifest


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
