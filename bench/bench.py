"""Benchmark docmigrate against check-jsonschema and the orjson / sqlite3 limits.

Usage: python bench/bench.py [--runs 100000] [--repeat 3] [--growth 10000,100000,1000000]
                             [--only validate,upgrade,import,extra]

One command: generates deterministic production-history documents (2 consumptions per run,
losses on every 5th run, written as ``json.dumps(indent=2)`` would, one run at a time so that
even a million runs take no memory), then times whole processes (median of ``--repeat``) and
their peak memory (max RSS of the child):

* ``docmigrate validate`` of one big file (``--runs``) and of one a tenth of that size, vs
  ``check-jsonschema --schemafile`` on the same file;
* ``docmigrate validate`` of 1,000 small files in one process vs check-jsonschema on the same
  1,000 files in one process;
* under each validate row, the floor: a bare process that loads each file with orjson and
  validates it with jsonschema-rs (no detection, no exact numbers, no report), against the
  same check-jsonschema run: the highest ratio a Python validator could print there;
* ``docmigrate upgrade`` 1.0 -> 1.1 of the big file into a folder vs the limit: orjson load +
  dump + write with the garbage collector off;
* ``docmigrate import`` of the big 1.1 file into a new SQLite file (the whole command, which
  must say it streamed) vs raw ``sqlite3`` ``executemany`` of the same rows into the same
  tables, after an orjson load;
* extra rows, not references: ``json.load``, and a standard-library upgrade (load + dump);
* how time and peak memory of streaming ``validate``, ``upgrade`` and ``import`` grow with the
  number of runs (``--growth``): memory must stay flat.

``--only`` runs some of the rows (and growth columns): ``validate``, ``upgrade``, ``import``,
``extra``, comma-separated.

check-jsonschema is installed from PyPI into its own venv (``--cj-venv``, default
/tmp/cj-venv) the first time: that needs network once.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CATEGORIES = ["burnt", "broken", "contaminated", "dropped", "wrong_ingredients", "other"]


def generate(runs: int, version: str, start: int = 0) -> dict[str, Any]:
    """Return a deterministic production-history document with ``runs`` runs."""
    production_runs = []
    for i in range(start, start + runs):
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
    """Run one reference task in this process; called in a fresh subprocess."""
    start = time.perf_counter()
    if task == "json.load":
        with source.open("rb") as stream:
            json.load(stream)
    elif task == "orjson.limit":
        import gc

        import orjson

        gc.disable()
        document = orjson.loads(source.read_bytes())
        target.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    elif task == "stdlib.upgrade":
        with source.open("rb") as stream:
            document = json.load(stream)
        with target.open("w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=2, ensure_ascii=False)
    elif task == "sqlite3.executemany":
        import orjson

        from docmigrate.store import SQLStore

        SQLStore(str(target)).close()  # the store's own tables, made before the clock starts
        start = time.perf_counter()
        raw_executemany(orjson.loads(source.read_bytes()), target, same_tables=True)
    elif task == "perfile.docmigrate":
        from docmigrate.commands import validate_file
        from docmigrate.registry import Registry

        registry = Registry.discover()
        files = sorted(source.iterdir())
        start = time.perf_counter()
        if not all(validate_file(path, registry).ok for path in files):
            raise SystemExit("a small file is invalid")
    elif task == "perfile.floor":
        import jsonschema_rs
        import orjson

        schema = json.loads(target.read_bytes())
        validator = jsonschema_rs.validator_for(schema, validate_formats=True)
        files = sorted(source.iterdir())
        start = time.perf_counter()
        for path in files:
            with path.open("rb") as stream:
                if not validator.is_valid(orjson.loads(stream.read())):
                    raise SystemExit(f"{path} is invalid")
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


def raw_executemany(document: Any, target: Path, *, same_tables: bool) -> None:
    """Raw sqlite3 executemany of the same rows, one transaction: the limit.

    ``same_tables`` writes into the store's own tables (keys, foreign keys, CHECKs, indexes,
    made by the store before the clock-relevant work); otherwise into bare tables.
    """
    import sqlite3

    from docmigrate.store import SQLStore
    from docmigrate.store.production_history import (
        CONSUMPTION_FIELDS,
        LOSS_FIELDS,
        RUN_FIELDS,
        RUN_TAIL,
    )

    # The columns the store's relational mapping writes, so that both contenders write the same.
    RUN_COLUMNS = RUN_FIELDS + RUN_TAIL
    CONSUMPTION_COLUMNS, LOSS_COLUMNS = CONSUMPTION_FIELDS, LOSS_FIELDS

    runs = document["production_runs"]
    if same_tables:
        SQLStore(str(target)).close()
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    if not same_tables:
        conn.execute(
            f"CREATE TABLE production_runs ({', '.join(RUN_COLUMNS)}, import_id, "
            "position, produced_at_utc, PRIMARY KEY (uuid))"
        )
        for table, columns in (
            ("production_consumptions", CONSUMPTION_COLUMNS),
            ("production_losses", LOSS_COLUMNS),
        ):
            conn.execute(f"CREATE TABLE {table} ({', '.join(columns)}, run_uuid, position)")
    conn.execute("BEGIN")
    if same_tables:  # the provenance row the runs point at, whatever columns the layout has
        conn.execute(*_provenance_row())
    conn.executemany(
        f"INSERT INTO production_runs ({', '.join(RUN_COLUMNS)}, import_id, position, "
        f"produced_at_utc) VALUES ({', '.join('?' * (len(RUN_COLUMNS) + 3))})",
        [(*(run[c] for c in RUN_COLUMNS), 1, i, run["produced_at"]) for i, run in enumerate(runs)],
    )
    for table, columns, kind in (
        ("production_consumptions", CONSUMPTION_COLUMNS, "consumptions"),
        ("production_losses", LOSS_COLUMNS, "losses"),
    ):
        conn.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}, run_uuid, position) "
            f"VALUES ({', '.join('?' * (len(columns) + 2))})",
            [
                (*(item[c] for c in columns), run["uuid"], j)
                for run in runs
                for j, item in enumerate(run[kind])
            ],
        )
    conn.execute("COMMIT")
    conn.close()


def _provenance_row() -> tuple[str, list[object]]:
    """An INSERT of import 1 giving every required column of docmigrate_imports a value."""
    from sqlalchemy import Integer

    from docmigrate.store.tables import imports

    names, values = [], []
    for column in imports.columns:
        if column.name == "id" or not column.nullable:
            names.append(column.name)
            values.append(1 if isinstance(column.type, Integer) else "x")
    marks = ", ".join("?" * len(names))
    return f"INSERT INTO docmigrate_imports ({', '.join(names)}) VALUES ({marks})", values


STREAMING_MIN_SIZE = 1 << 20
"""docmigrate.commands.STREAMING_MIN_SIZE (not imported: this process must stay small)."""


def timed(
    command: list[str], cleanup: Path | None = None, *, streamed: bool = False
) -> dict[str, float]:
    """Run ``command`` as a whole process: wall seconds and its peak memory (max RSS).

    On Linux a child's max RSS starts at its parent's when it is forked: this process imports
    nothing heavy and generates no data itself, so that the figure is the command's own. The
    data is valid, so anything but exit 0 is a failed measurement, not a fast one. With
    ``streamed``, the docmigrate command runs with ``--verbose`` and must say it streamed
    every file: a row that measured the in-memory fallback would be mislabelled.
    """
    if streamed:
        command = [*command, "--verbose"]
    if cleanup is not None:
        remove(cleanup)
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    errors = process.stderr.read().decode() if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])}... failed ({process.returncode}): {errors}")
    if streamed:
        pipelines = [line for line in errors.splitlines() if line.endswith(": streaming")]
        if not pipelines or "in memory" in errors:
            raise SystemExit(f"{' '.join(command[:3])}... did not stream: {errors[-300:]}")
    return {"seconds": seconds, "peak_mib": usage.ru_maxrss / 1024}


def in_process(task: str, source: Path, target: Path, repeat: int) -> dict[str, float]:
    """The median of the seconds a reference task reports itself (its start-up left out)."""
    runs = []
    for _ in range(repeat):
        done = subprocess.run(
            reference(task, source, target), capture_output=True, text=True, check=True
        )
        runs.append(json.loads(done.stdout))
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def median(
    command: list[str], repeat: int, cleanup: Path | None = None, *, streamed: bool = False
) -> dict[str, float]:
    """The run of median time among ``repeat`` runs of ``command``."""
    runs = sorted(
        (timed(command, cleanup, streamed=streamed) for _ in range(repeat)),
        key=lambda r: r["seconds"],
    )
    return runs[len(runs) // 2]


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def reference(task: str, source: Path, target: Path) -> list[str]:
    """The command that measures a reference task in a fresh interpreter."""
    return [sys.executable, __file__, "--measure", task, str(source), str(target)]


def generated(path: Path, runs: int, version: str, start: int = 0) -> Path:
    """Write a document in a child process (this one must stay small: see ``timed``)."""
    command = [sys.executable, __file__, "--generate", str(path), str(runs), version, str(start)]
    subprocess.run(command, check=True)
    return path


def write_document(path: Path, runs: int, version: str, start: int = 0) -> Path:
    """Write a document as json.dumps(indent=2, ensure_ascii=False) would, a run at a time.

    ``start`` -1 makes ``path`` a folder of 1,000 small documents of ``runs`` runs each.
    """
    if start == -1:
        path.mkdir(exist_ok=True)
        for i in range(1000):
            write_document(path / f"f{i:04d}.json", runs, version, start=runs * i)
        return path
    header = {"version": version, "exported_at": "2025-12-21T12:00:00+00:00"}
    with path.open("w", encoding="utf-8") as stream:
        stream.write(json.dumps(header, indent=2, ensure_ascii=False)[:-2] + ",\n")
        stream.write('  "production_runs": [')
        block = 1000
        for first in range(0, runs, block):
            chunk = generate(min(block, runs - first), version, first + start)["production_runs"]
            text = ",\n".join(json.dumps(r, indent=2, ensure_ascii=False) for r in chunk)
            stream.write(("," if first else "") + "\n    " + text.replace("\n", "\n    "))
        stream.write("\n  ]\n}" if runs else "]\n}")
    return path


def docmigrate_command() -> list[str]:
    return [sys.executable, "-m", "docmigrate"]


def check_jsonschema(venv: Path) -> list[str]:
    """The check-jsonschema command, installed from PyPI into ``venv`` if it is not there."""
    program = venv / "bin" / "check-jsonschema"
    if not program.exists():
        print(f"installing check-jsonschema into {venv} (needs network once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "check-jsonschema"], check=True)
    return [str(program)]


def show(title: str, ours: dict[str, float], theirs: dict[str, float], name: str) -> None:
    """Print one row: ours, the reference, and how they compare."""
    ratio = ours["seconds"] / theirs["seconds"]
    compared = f"{1 / ratio:5.1f}x faster" if ratio < 1 else f"{ratio:5.2f}x the time"
    print(
        f"{title:44} {ours['seconds']:7.2f} s {ours['peak_mib']:6.0f} MiB | {name:24} "
        f"{theirs['seconds']:7.2f} s {theirs['peak_mib']:6.0f} MiB | {compared}",
        flush=True,
    )


def main() -> None:
    """Generate the documents, run every measurement, print the rows and the growth."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--growth", default="10000,100000,1000000")
    parser.add_argument("--cj-venv", type=Path, default=Path("/tmp/cj-venv"))
    parser.add_argument("--keep", type=Path, help="write the generated files here and keep them")
    parser.add_argument(
        "--only",
        type=lambda text: set(text.split(",")) if text else set(SECTIONS),
        default=set(SECTIONS),
        help=f"run only these rows, comma-separated, of: {','.join(SECTIONS)}",
    )
    parser.add_argument(
        "--measure", nargs=3, metavar=("TASK", "SOURCE", "TARGET"), help=argparse.SUPPRESS
    )
    parser.add_argument("--generate", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        path, runs, version, start = args.generate
        write_document(Path(path), int(runs), version, int(start))
        return
    if not args.only <= set(SECTIONS):
        parser.error(f"--only takes {','.join(SECTIONS)}, not {','.join(sorted(args.only))}")
    if args.measure:
        task, source, target = args.measure
        print(json.dumps(measure(task, Path(source), Path(target))))
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="docmigrate-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        run_all(args, folder)
    finally:
        if args.keep is None:
            shutil.rmtree(folder)


SECTIONS = ("validate", "upgrade", "import", "extra")
"""The groups of rows ``--only`` chooses from."""


def compile_bytecode() -> None:
    """Write the bytecode of the docmigrate that ``-m docmigrate`` runs, before any timing.

    With PYTHONDONTWRITEBYTECODE (or a fresh checkout), every timed process would compile
    the package's sources again, which users with an installed package never pay.
    """
    script = (
        "import compileall, importlib.util, os; "
        "origin = importlib.util.find_spec('docmigrate').origin; "
        "compileall.compile_dir(os.path.dirname(origin), quiet=1)"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


def run_all(args: argparse.Namespace, folder: Path) -> None:
    only = args.only
    compile_bytecode()
    dm = docmigrate_command()
    needed = {"1.0": only & {"upgrade", "extra"}, "1.1": only & {"validate", "import", "extra"}}
    big = {v: generated(folder / f"big-{v}.json", args.runs, v) for v, why in needed.items() if why}
    for path in big.values():
        print(f"generated {path.name}: {path.stat().st_size / 2**20:.1f} MiB")
    print(f"\n{args.runs} runs; python {sys.version.split()[0]}; median of {args.repeat}")
    if "validate" in only:
        validate_rows(args, folder, dm, big["1.1"])
    out, db = folder / "out", folder / "out.db"
    repeat = args.repeat
    if "upgrade" in only:
        source = big["1.0"]
        ours = median([*dm, "upgrade", str(source), "--out", str(out)], repeat, out, streamed=True)
        limit = median(reference("orjson.limit", source, folder / "limit.json"), repeat)
        show(
            f"upgrade 1.0 -> 1.1, {source.stat().st_size / 1e6:.0f} MB, to a folder",
            ours,
            limit,
            "orjson load+dump+write",
        )
    if "import" in only:
        command = [*dm, "import", str(big["1.1"]), "--db", str(db)]
        ours = median(command, repeat, db, streamed=True)
        limit = median(reference("sqlite3.executemany", big["1.1"], db), repeat, db)
        show(f"import {args.runs:,} runs into SQLite", ours, limit, "sqlite3 executemany")
    if "extra" in only:
        print("extra rows (not references):")
        stdlib = median(reference("json.load", big["1.1"], folder / "x"), repeat)
        ours = median([*dm, "validate", str(big["1.1"])], 1)
        show("  validate (again, once)", ours, stdlib, "json.load")
        source = big["1.0"]
        stdlib = median(reference("stdlib.upgrade", source, folder / "x.json"), 1)
        ours = median([*dm, "upgrade", str(source), "--out", str(out)], 1, out)
        show("  upgrade (again, once)", ours, stdlib, "stdlib load+dump+write")
    growth(args, folder, dm)


def validate_rows(args: argparse.Namespace, folder: Path, dm: list[str], big: Path) -> None:
    """The validate rows: one big file, one a tenth of its size, 1,000 small files."""
    cj = check_jsonschema(args.cj_venv)
    schema = Path(__file__).parent.parent / "src/docmigrate/families/production_history"
    tenth = generated(folder / "tenth-1.1.json", args.runs // 10, "1.1")
    small = folder / "small"
    subprocess.run(
        [sys.executable, __file__, "--generate", str(small), "3", "1.1", "-1"], check=True
    )
    repeat = args.repeat
    s11 = str(schema / "1.1.schema.json")
    for title, path in (
        (f"validate one {big.stat().st_size / 1e6:.0f} MB file", big),
        (f"validate one {tenth.stat().st_size / 1e6:.0f} MB file", tenth),
    ):
        streams = path.stat().st_size >= STREAMING_MIN_SIZE
        ours = median([*dm, "validate", str(path)], repeat, streamed=streams)
        theirs = median([*cj, "--schemafile", s11, str(path)], repeat)
        show(title, ours, theirs, "check-jsonschema")
        show_floor(median(floor_command(s11, [str(path)]), repeat), theirs)
    files = sorted(str(p) for p in small.iterdir())
    ours = median([*dm, "validate", str(small)], repeat)
    theirs = median([*cj, "--schemafile", s11, *files], repeat)
    show("validate 1,000 small files (one process)", ours, theirs, "check-jsonschema")
    show_floor(median(floor_command(s11, files), repeat), theirs)
    # The per-file part alone, start-up left out: docmigrate's validate_file in a loop vs
    # the floor, orjson + jsonschema-rs on their own (floats: not exact, only a floor).
    ours = in_process("perfile.docmigrate", small, small, repeat)
    floor = in_process("perfile.floor", small, Path(s11), repeat)
    show("  per file only (in process, no start-up)", ours, floor, "orjson + jsonschema-rs")


FLOOR = """
import sys, orjson, jsonschema_rs
schema = orjson.loads(open(sys.argv[1], "rb").read())
validator = jsonschema_rs.validator_for(schema, validate_formats=True)
for name in sys.argv[2:]:
    with open(name, "rb") as stream:
        if not validator.is_valid(orjson.loads(stream.read())):
            sys.exit(name + " is invalid")
"""


def floor_command(schema: str, files: list[str]) -> list[str]:
    """A whole process that only loads each file with orjson and validates it with jsonschema-rs.

    The least a Python validator's process can cost here (start-up, imports, parse, validate;
    no detection, no exact numbers, no positions, no report): what a ratio can reach at most.
    """
    return [sys.executable, "-c", FLOOR, schema, *files]


def show_floor(floor: dict[str, float], theirs: dict[str, float]) -> None:
    """Print the floor's row against the same check-jsonschema run: the best ratio possible."""
    show("  floor: one process, orjson + jsonschema-rs", floor, theirs, "check-jsonschema")


def growth(args: argparse.Namespace, folder: Path, dm: list[str]) -> None:
    """How time and memory of streaming validate, upgrade and import grow with the runs.

    validate and upgrade read a 1.0 file; import reads a 1.1 file of as many runs (into a new
    SQLite file), so that each column is the row above it at another size.
    """
    sizes = [int(s) for s in args.growth.split(",") if s]
    columns = [c for c in ("validate", "upgrade", "import") if c in args.only]
    if not sizes or not columns:
        return
    print("\ngrowth (streaming; each measured once):")
    print(f"{'runs':>10} {'MB':>7}" + "".join(f" | {c + ' s':>10} {'MiB':>5}" for c in columns))
    out, db = folder / "grow-out", folder / "grow.db"
    for runs in sizes:
        version = "1.0" if columns != ["import"] else "1.1"
        path = generated(folder / "grow.json", runs, version)
        size = path.stat().st_size / 1e6
        measured = []
        for column in columns:
            if column == "validate":
                measured.append(timed([*dm, "validate", str(path)], streamed=True))
            elif column == "upgrade":
                command = [*dm, "upgrade", str(path), "--out", str(out)]
                measured.append(timed(command, out, streamed=True))
            else:
                if version != "1.1":
                    path.unlink()
                    path = generated(folder / "grow.json", runs, "1.1")
                command = [*dm, "import", str(path), "--db", str(db)]
                measured.append(timed(command, db, streamed=True))
        print(
            f"{runs:>10,} {size:7.0f}"
            + "".join(f" | {m['seconds']:10.2f} {m['peak_mib']:5.0f}" for m in measured),
            flush=True,
        )
        remove(out)
        remove(db)
        path.unlink()


if __name__ == "__main__":
    main()
