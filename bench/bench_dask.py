"""Benchmark `upgrade --scheduler local:N` (Dask) against the local pool `--workers N`.

Usage: python bench/bench_dask.py [--small 10000] [--big 20] [--runs 100000] [--repeat 1]
                                  [--command upgrade|validate]

Generates two archives of production-history 1.0 documents (``--small`` files of 2 runs each,
and ``--big`` files of ``--runs`` runs each) and times ``docmigrate upgrade ARCHIVE --out DIR``
(or ``docmigrate validate ARCHIVE``, which writes nothing) end to end in a fresh process
(start-up and, for Dask, starting the local cluster included),
with 1 and 2 workers of each executor. While each run goes, the peak resident memory (VmHWM) of
every process under it is sampled; "peak MiB per worker" is the largest of the worker
processes' (the command's own process excluded, except with ``--workers 1``, where it is the
worker). Upgrades write with fsync (twice per file), so small files measure the disk too.

Prints, per archive: seconds, files/s, peak MiB per worker, the overhead ratio of Dask to the
local pool with the same number of workers, and the speed-up from 1 to 2 workers.
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
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))

from bench import generate
from docmigrate import jsonio

EXECUTORS = {
    "--workers 1": ["--workers", "1"],
    "--workers 2": ["--workers", "2"],
    "local:1": ["--scheduler", "local:1"],
    "local:2": ["--scheduler", "local:2"],
}


def make_archive(folder: Path, files: int, runs: int) -> Path:
    """Write ``files`` copies of one generated 1.0 document of ``runs`` runs, in subfolders."""
    data = jsonio.dump_bytes(generate(runs, "1.0"), indent=2)
    for index in range(files):
        target = folder / f"{index % 100:02d}" / f"export-{index:06d}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
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


def timed_run(verb: str, archive: Path, options: list[str]) -> tuple[float, float]:
    """Run one command (upgrade: into a fresh folder); return (seconds, peak MiB per worker)."""
    out = Path(tempfile.mkdtemp(prefix="bench-out-"))
    command = [sys.executable, "-m", "docmigrate", verb, str(archive)]
    if verb == "upgrade":
        command += ["--out", str(out)]
    peaks: dict[int, int] = {}
    own = [0]  # the command's own process: the only worker with --workers 1
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    done = threading.Event()

    def sample() -> None:
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                children = root.children(recursive=True)
            except psutil.Error:
                break
            for child in children:
                peaks[child.pid] = max(peaks.get(child.pid, 0), peak_kib(child.pid))
            own[0] = max(own[0], peak_kib(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = process.wait()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    shutil.rmtree(out)
    if code != 0:  # the archive is valid: a failure is not a measurement
        raise SystemExit(f"{' '.join(command + options)} exited {code}")
    # The largest descendant is a worker (pool worker, or Dask worker under its nanny).
    return seconds, max(peaks.values(), default=own[0]) / 1024


def bench(verb: str, name: str, archive: Path, files: int, repeat: int) -> None:
    """Time every executor on ``archive`` and print the rows."""
    results: dict[str, tuple[float, float]] = {}
    for label, options in EXECUTORS.items():
        if verb == "validate" and label.startswith("--workers"):
            options = [] if label == "--workers 1" else None  # validate has no local pool
        if options is None:
            continue
        runs = [timed_run(verb, archive, options) for _ in range(repeat)]
        best = min(runs)
        results[label] = (best[0], max(peak for _, peak in runs))
    print(f"\n{verb}, {name}: {files} files")
    print(f"  {'executor':<12} {'seconds':>8} {'files/s':>9} {'peak MiB/worker':>16}")
    for label, (seconds, peak) in results.items():
        print(f"  {label:<12} {seconds:8.2f} {files / seconds:9.1f} {peak:16.0f}")
    for workers in (1, 2):
        local = results.get(f"--workers {workers}")
        if local is not None:
            ratio = results[f"local:{workers}"][0] / local[0]
            print(f"  overhead local:{workers} / --workers {workers}: {ratio:.2f}x")
    for one, two in (("--workers 1", "--workers 2"), ("local:1", "local:2")):
        if one in results and two in results:
            print(f"  speed-up {one} -> {two}: {results[one][0] / results[two][0]:.2f}x")


def main() -> None:
    """Generate the archives, run the executors, print the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000, help="small files (2 runs each)")
    parser.add_argument("--big", type=int, default=20, help="big files")
    parser.add_argument("--runs", type=int, default=100_000, help="runs per big file")
    parser.add_argument("--repeat", type=int, default=1, help="runs per row (best time kept)")
    parser.add_argument("--command", choices=["upgrade", "validate"], default="upgrade")
    arguments = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; times include start-up (and starting the Dask cluster)")
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as scratch:
        folder = Path(scratch)
        if arguments.small:
            small = make_archive(folder / "small", arguments.small, 2)
            title = "small documents (2 runs)"
            bench(arguments.command, title, small, arguments.small, arguments.repeat)
            shutil.rmtree(small)
        if arguments.big:
            big = make_archive(folder / "big", arguments.big, arguments.runs)
            title = f"big documents ({arguments.runs} runs)"
            bench(arguments.command, title, big, arguments.big, arguments.repeat)


if __name__ == "__main__":
    main()
