"""Benchmark `--scheduler local:N` (Dask) against the local pool `--workers N`: issue #14 rows.

Usage: python bench/bench_dask.py [--small 10000] [--big 20] [--runs 100000] [--repeat 1]
                                  [--commands upgrade,validate,import] [--breakdown]

Generates, in a temporary folder, the two archives of issue #14 (production-history 1.0
documents: ``--small`` files of 2 runs each, and ``--big`` files of ``--runs`` runs each), then
runs each command on each archive end to end, in a fresh process (start-up and, for Dask,
starting and stopping the local cluster included):

- ``upgrade ARCHIVE --out DIR``: ``--workers 1``, ``--workers 2``, ``local:1``, ``local:2``;
- ``validate ARCHIVE`` and ``import ARCHIVE --db NEW.sqlite``: these have no local pool (they
  run in one process), so ``serial`` stands for ``--workers 1`` and there is no ``--workers 2``.

The executors take turns (``--repeat`` rounds; each row keeps its best time), so that a burst of
load from other jobs does not hit one executor only. A run is refused unless it exits 0 and
prints what every other executor printed for the same command (the output folder and database
have the same path in every run), and every upgraded file is checked to be in the output
folder. While a run goes, the peak resident memory (VmHWM) of every process under it is
sampled: "peak MiB/worker" is the largest of the worker processes' (the local pool's workers,
or the Dask workers), "MiB here" the command's own process (with ``--workers 1`` and serial runs,
the one doing the work). "CPU s" is the user + system time of every process of the run, as
last sampled (each within 0.05 s): on a machine shared with other jobs it varies far less
than the seconds do.

Prints, per command and archive: seconds, files/s, CPU seconds, peak memory, the overhead ratio
of Dask to the local pool with the same number of workers (upgrade) and the speed-up from 1 to
2 workers. ``--breakdown`` first measures, in this process, what a ``local:2`` run pays besides
the work: starting the cluster and checking its workers, the cost of each Dask task, and
stopping the cluster.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))

from bench import generate
from docmigrate import __version__, jsonio

UPGRADE_EXECUTORS = {
    "--workers 1": ["--workers", "1"],
    "--workers 2": ["--workers", "2"],
    "local:1": ["--scheduler", "local:1"],
    "local:2": ["--scheduler", "local:2"],
}
ONE_PROCESS_EXECUTORS = {  # validate and import run in one process without --scheduler
    "serial": [],
    "local:1": ["--scheduler", "local:1"],
    "local:2": ["--scheduler", "local:2"],
}


@dataclass
class Run:
    """What one command run measured."""

    seconds: float
    cpu: float
    worker_mib: float
    own_mib: float


def make_archive(folder: Path, files: int, runs: int) -> Path:
    """Write ``files`` generated 1.0 documents of ``runs`` runs each, in subfolders.

    Each document has runs of its own (their ids do not repeat), so that an import stores
    every file rather than finding the same sha256 again.
    """
    for index in range(files):
        target = folder / f"{index % 100:02d}" / f"export-{index:06d}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(jsonio.dump_bytes(generate(runs, "1.0", index * runs), indent=2))
    return folder


def peak_kib(pid: int) -> int:
    """VmHWM of a live process, in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakSampler:
    """Samples the memory high-water mark of a process and of each of its descendants."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.own = 0
        self.cpu: dict[int, float] = {}
        self.descendants: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.done.is_set():
            try:
                children = self.root.children(recursive=True)
            except psutil.Error:
                break
            for process in [self.root, *children]:
                self.cpu[process.pid] = max(self.cpu.get(process.pid, 0.0), cpu_seconds(process))
            for child in children:
                peak = peak_kib(child.pid)
                self.descendants[child.pid] = max(self.descendants.get(child.pid, 0), peak)
                if child.pid not in self.names:
                    self.names[child.pid] = _command_line(child)
            self.own = max(self.own, peak_kib(self.root.pid))
            time.sleep(0.05)

    def stop(self) -> tuple[float, float, float]:
        """Stop sampling; return CPU seconds of the tree and the peak MiB of a worker and here."""
        self.done.set()
        self.thread.join()
        # Worker processes, not helpers such as multiprocessing's resource tracker.
        workers = [
            peak
            for pid, peak in self.descendants.items()
            if "resource_tracker" not in self.names[pid]
        ]
        return sum(self.cpu.values()), max(workers, default=0) / 1024, self.own / 1024


def cpu_seconds(process: psutil.Process) -> float:
    """User + system seconds a live process has used so far (0 once it is gone)."""
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system


def _command_line(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def command_line(verb: str, archive: Path, scratch: Path) -> list[str]:
    """The command for ``verb``; its output folder or database is always the same path."""
    command = [sys.executable, "-m", "docmigrate", verb, str(archive)]
    if verb == "upgrade":
        return [*command, "--out", str(scratch / "out")]
    if verb == "import":
        return [*command, "--db", str(scratch / "bench.sqlite")]
    return command


def clear(scratch: Path) -> None:
    """Remove what the last run wrote."""
    shutil.rmtree(scratch / "out", ignore_errors=True)
    for name in ("bench.sqlite", "bench.sqlite-wal", "bench.sqlite-shm"):
        (scratch / name).unlink(missing_ok=True)


def timed_run(command: list[str], options: list[str], scratch: Path) -> tuple[Run, bytes]:
    """Run one command from a clean slate; return what it measured and what it printed.

    The disk is synced first, so that what the last run wrote (and removing it) is not
    written back during this one: upgrades fsync every file, and on small files the leftover
    writeback of the run before decided the ratios more than the executors did.
    """
    clear(scratch)
    os.sync()
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, *options], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    sampler = PeakSampler(process.pid)
    out, _ = process.communicate()
    seconds = time.perf_counter() - started
    cpu, worker_mib, own_mib = sampler.stop()
    if process.returncode != 0:  # the archives are valid: a failure is not a measurement
        raise SystemExit(f"{' '.join(command + options)} exited {process.returncode}")
    return Run(seconds, cpu, worker_mib, own_mib), out


def check_output(verb: str, scratch: Path, files: int) -> None:
    """Refuse an upgrade that did not write every file into the output folder."""
    if verb != "upgrade":
        return
    written = sum(1 for _ in (scratch / "out").rglob("*.json"))
    if written != files:
        raise SystemExit(f"upgrade wrote {written} files, not {files}")


def bench(verb: str, name: str, archive: Path, files: int, repeat: int, scratch: Path) -> None:
    """Time every executor on ``archive``, taking turns; print the rows."""
    executors = UPGRADE_EXECUTORS if verb == "upgrade" else ONE_PROCESS_EXECUTORS
    command = command_line(verb, archive, scratch)
    runs: dict[str, list[Run]] = {label: [] for label in executors}
    printed: dict[str, bytes] = {}
    for _ in range(repeat):
        for label, options in executors.items():
            run, out = timed_run(command, options, scratch)
            check_output(verb, scratch, files)
            printed[label] = out
            runs[label].append(run)
    clear(scratch)
    if len(set(printed.values())) != 1:  # every executor must report the same thing
        raise SystemExit(f"{verb}: the executors printed different reports")
    show(verb, name, files, runs)


def show(verb: str, name: str, files: int, runs: dict[str, list[Run]]) -> None:
    """Print one table: best time of each executor, its CPU and peak memory, ratios."""
    best = {label: min(each, key=lambda run: run.seconds) for label, each in runs.items()}
    print(f"\n{verb}, {name}: {files} files")
    print(
        f"  {'executor':<12} {'seconds':>8} {'files/s':>9} {'CPU s':>7} "
        f"{'peak MiB/worker':>16} {'MiB here':>9}"
    )
    for label, run in best.items():
        worker = max(r.worker_mib for r in runs[label])
        own = max(r.own_mib for r in runs[label])
        print(
            f"  {label:<12} {run.seconds:8.2f} {files / run.seconds:9.1f} {run.cpu:7.1f} "
            f"{worker if worker else own:16.0f} {own:9.0f}"
        )
    one = "--workers 1" if "--workers 1" in best else "serial"
    for workers in (1, 2):
        local = best.get(f"--workers {workers}") or (best[one] if workers == 1 else None)
        if local is not None:
            ratio = best[f"local:{workers}"].seconds / local.seconds
            against = f"--workers {workers}" if f"--workers {workers}" in best else one
            print(f"  overhead local:{workers} / {against}: {ratio:.2f}x")
    for first, second in ((one, "--workers 2"), ("local:1", "local:2")):
        if first in best and second in best:
            print(
                f"  speed-up {first} -> {second}: {best[first].seconds / best[second].seconds:.2f}x"
            )


def breakdown(archive: Path, files: int) -> None:
    """Time what a local:2 run pays besides the work, in this process (no subprocess start-up)."""
    from docmigrate.archive import RegistrySource, ValidateTask
    from docmigrate.executors import Connection, DaskExecutor, run_batch
    from docmigrate.registry import Registry

    registry = Registry.discover()
    source = RegistrySource((), Path.cwd())
    tasks = [ValidateTask(path) for path in sorted(archive.rglob("*.json"))[:files]]
    started = time.perf_counter()
    with Connection("local:2") as connection:
        client, address = connection.wait()
        executor = DaskExecutor(client, address)
        executor.check_workers(registry, source)
        ready = time.perf_counter()
        count = 400
        nothing: list[ValidateTask] = []
        empties = [
            client.submit(run_batch, __version__, source, Path.cwd(), nothing, pure=False)
            for _ in range(count)
        ]
        client.gather(empties)
        empty = time.perf_counter()
        reports = sum(1 for _ in executor.run_tasks(tasks, registry, source))
        ran = time.perf_counter()
        stopping = time.perf_counter()
    stopped = time.perf_counter()
    here = time.perf_counter()
    for task in tasks:
        task.run(registry)
    serial = time.perf_counter() - here
    print(f"\nbreakdown of local:2 (in this process, {os.cpu_count()} CPUs):")
    print(f"  start the cluster, connect, check the workers: {ready - started:.2f} s")
    print(
        f"  one empty Dask task: {(empty - ready) / count * 1000:.1f} ms ({count} tasks, 2 workers)"
    )
    print(f"  validate {reports} small files on local:2: {ran - empty:.2f} s ({serial:.2f} s here)")
    print(f"  stop the cluster: {stopped - stopping:.2f} s")


def main() -> None:
    """Generate the archives, run the executors, print the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000, help="small files (2 runs each)")
    parser.add_argument("--big", type=int, default=20, help="big files")
    parser.add_argument("--runs", type=int, default=100_000, help="runs per big file")
    parser.add_argument("--repeat", type=int, default=1, help="rounds (best time kept)")
    parser.add_argument("--commands", default="upgrade,validate,import", help="comma-separated")
    parser.add_argument("--breakdown", action="store_true", help="time the fixed Dask costs")
    arguments = parser.parse_args()
    verbs = [verb for verb in arguments.commands.split(",") if verb]
    unknown = set(verbs) - {"upgrade", "validate", "import"}
    if unknown:
        parser.error(f"--commands: unknown {', '.join(sorted(unknown))}")
    print(f"{os.cpu_count()} CPUs; times include start-up (and starting the Dask cluster)")
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as name:
        scratch = Path(name)
        archives = [
            ("small documents (2 runs)", arguments.small, 2),
            (f"big documents ({arguments.runs} runs)", arguments.big, arguments.runs),
        ]
        for title, files, runs in archives:
            if not files:
                continue
            archive = make_archive(scratch / "archive", files, runs)
            if arguments.breakdown and runs == 2:
                breakdown(archive, files)
            for verb in verbs:
                bench(verb, title, archive, files, arguments.repeat, scratch)
            shutil.rmtree(archive)


if __name__ == "__main__":
    main()
