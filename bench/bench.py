"""Benchmark docmigrate against the standard library on big production-history documents.

Usage: python bench/bench.py [--runs 100000] [--keep DIR]

Generates deterministic documents (2 consumptions per run, losses on every 5th run) and
measures, each in a fresh subprocess so that peak memory (max RSS) is its own:

* validation of the 1.1 document (docmigrate: exact read + schema validation) vs ``json.load``;
* file-to-file upgrade of the 1.0 document (read, validate, upgrade, validate, write
  atomically) vs ``json.load`` + ``json.dump(indent=2)`` + write with the standard library.

Prints seconds, peak MiB and the ratios docmigrate / baseline.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CATEGORIES = ["burnt", "broken", "contaminated", "dropped", "wrong_ingredients", "other"]


def generate(runs: int, version: str) -> dict[str, Any]:
    """Return a deterministic production-history document with ``runs`` runs."""
    production_runs = []
    for i in range(runs):
        run: dict[str, Any] = {
            "uuid": f"00000000-0000-4000-8000-{i:012d}",
            "recipe_name": f"Recipe {i % 97}",
            "finished_unit_slug": f"unit-{i % 31}",
            "num_batches": 1 + i % 4,
            "expected_yield": 24,
            "actual_yield": 24 - i % 5,
            "produced_at": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:30:00",
            "notes": None if i % 3 else f"note {i} — crème",
            "total_ingredient_cost": f"{i % 50}.{i % 10000:04d}",
            "per_unit_cost": f"0.{i % 10000:04d}",
            "consumptions": [
                {
                    "uuid": f"00000000-0000-4000-9000-{2 * i + k:012d}",
                    "ingredient_slug": f"ingredient_{(i + k) % 40}",
                    "quantity_consumed": f"{k + 1}.{i % 1000:03d}",
                    "unit": "cup",
                    "total_cost": f"{k}.{i % 10000:04d}",
                }
                for k in range(2)
            ],
        }
        if version == "1.1":
            lost = i % 5 == 0
            run["production_status"] = "partial_loss" if lost else "complete"
            run["loss_quantity"] = 2 if lost else 0
            run["losses"] = (
                [
                    {
                        "uuid": f"00000000-0000-4000-a000-{i:012d}",
                        "loss_category": CATEGORIES[i % len(CATEGORIES)],
                        "loss_quantity": 2,
                        "per_unit_cost": f"0.{i % 10000:04d}",
                        "total_loss_cost": f"0.{(2 * i) % 10000:04d}",
                        "notes": None,
                    }
                ]
                if lost
                else []
            )
        production_runs.append(run)
    header: dict[str, Any] = {"version": version, "exported_at": "2025-12-21T12:00:00+00:00"}
    return {**header, "production_runs": production_runs}


def measure(task: str, source: Path, target: Path) -> dict[str, float]:
    """Run one task in this process and return its time; called in a fresh subprocess."""
    start = time.perf_counter()
    if task == "json.load":
        with source.open("rb") as stream:
            json.load(stream)
    elif task == "docmigrate.validate":
        from docmigrate import Registry, jsonio, validate

        registry = Registry.discover(entry_points=False)
        document = jsonio.load_path(source).value
        family = registry.detect(document)
        validate(document, family, family.version_of(document))
    elif task == "stdlib.upgrade":
        with source.open("rb") as stream:
            document = json.load(stream)
        with target.open("w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=2, ensure_ascii=False)
    elif task == "docmigrate.upgrade":
        from docmigrate import Registry, jsonio, migrate
        from docmigrate.files import write_atomic

        registry = Registry.discover(entry_points=False)
        document = jsonio.load_path(source).value
        result = migrate(document, registry.detect(document))
        write_atomic(target, jsonio.dump_bytes(result.document))
    else:
        raise SystemExit(f"unknown task {task}")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mib": peak_mib()}


def peak_mib() -> float:
    """Peak resident memory of this process in MiB.

    VmHWM belongs to the process image (ru_maxrss on Linux survives exec and would report the
    parent's peak).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_subprocess(task: str, source: Path, target: Path) -> dict[str, float]:
    """Measure ``task`` in a fresh interpreter (so peak memory is the task's own)."""
    done = subprocess.run(
        [sys.executable, __file__, "--measure", task, str(source), str(target)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    """Generate the documents, run every measurement, print the table and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="write the generated files here and keep them")
    parser.add_argument(
        "--measure", nargs=3, metavar=("TASK", "SOURCE", "TARGET"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.measure:
        task, source, target = args.measure
        print(json.dumps(measure(task, Path(source), Path(target))))
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="docmigrate-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for version in ("1.0", "1.1"):
        path = folder / f"history-{version}-{args.runs}.json"
        path.write_text(json.dumps(generate(args.runs, version), indent=2, ensure_ascii=False))
        files[version] = path
        print(f"generated {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    rows = [
        ("validate 1.1", "docmigrate.validate", "json.load", files["1.1"]),
        ("upgrade 1.0 -> 1.1 file to file", "docmigrate.upgrade", "stdlib.upgrade", files["1.0"]),
    ]
    print(f"\n{args.runs} runs, python {sys.version.split()[0]}")
    print(f"{'measurement':34} {'task':22} {'seconds':>8} {'peak MiB':>9}")
    for title, ours, baseline, source in rows:
        target = folder / "out.json"
        mine = in_subprocess(ours, source, target)
        base = in_subprocess(baseline, source, target)
        for task, figures in ((ours, mine), (baseline, base)):
            print(f"{title:34} {task:22} {figures['seconds']:8.2f} {figures['peak_mib']:9.0f}")
        print(
            f"{'':34} {'ratio (ours/baseline)':22} {mine['seconds'] / base['seconds']:8.2f} "
            f"{mine['peak_mib'] / base['peak_mib']:9.2f}"
        )
    if args.keep is None:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
