"""Benchmark docmigrate against the standard library on big production-history documents.

Usage: python bench/bench.py [--runs 100000] [--keep DIR]

Generates deterministic documents (2 consumptions per run, losses on every 5th run) and
measures, each in a fresh subprocess so that peak memory (max RSS) is its own:

* validation of the 1.1 document (docmigrate: exact read + schema validation) vs ``json.load``;
* file-to-file upgrade of the 1.0 document (read, validate, upgrade, validate, write
  atomically) vs ``json.load`` + ``json.dump(indent=2)`` + write with the standard library;
* writing the 1.1 document's records (runs, consumptions, losses) into a new SQLite database
  with the store, vs raw ``sqlite3`` ``executemany`` of the same rows in one transaction (the
  limit: into the store's own tables, and into bare tables without keys or indexes) and
  SQLAlchemy ORM ``session.add`` per object with one commit (what the seed app did);
  the document is parsed before the clock starts, so only the writing is compared. The whole
  ``docmigrate import`` (read, validate, write) is printed too.

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

# Module level: the ORM models below resolve their annotations against these names.
from sqlalchemy import ForeignKey, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from docmigrate.store.production_history import (
    CONSUMPTION_FIELDS,
    LOSS_FIELDS,
    RUN_FIELDS,
    RUN_TAIL,
)

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
    elif task.startswith("store.") or task.startswith("sqlite3.") or task.startswith("orm."):
        from docmigrate import Registry, jsonio

        # Setup, like parsing: loading the family definition is not writing records.
        family = Registry.discover(entry_points=False).get("production-history")
        document = jsonio.load_path(source).value
        start = time.perf_counter()
        write_rows(task, document, target, family)
    elif task == "docmigrate.import":
        from docmigrate import Registry
        from docmigrate.store import SQLStore
        from docmigrate.transfer import import_paths

        with SQLStore(str(target)) as store:
            [report] = import_paths([source], Registry.discover(entry_points=False), store)
        assert report.ok, report.problems
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


# The columns the store's relational mapping writes, so that every contender writes the same.
RUN_COLUMNS = RUN_FIELDS + RUN_TAIL
CONSUMPTION_COLUMNS = CONSUMPTION_FIELDS
LOSS_COLUMNS = LOSS_FIELDS


def write_rows(task: str, document: Any, target: Path, family: Any) -> None:
    """Write the document's records to a new SQLite file at ``target`` in one of three ways."""
    if task == "store.write":
        from docmigrate.store import Provenance, SQLStore

        with SQLStore(str(target)) as store:
            store.write(document, family, Provenance("bench.json", "0" * 64, "1.1"))
    elif task == "sqlite3.executemany":
        raw_executemany(document, target, same_tables=True)
    elif task == "sqlite3.bare_tables":
        raw_executemany(document, target, same_tables=False)
    elif task == "orm.session_add":
        orm_session_add(document, target)


def raw_executemany(document: Any, target: Path, *, same_tables: bool) -> None:
    """Raw sqlite3 executemany of the same rows, one transaction: the limit.

    ``same_tables`` writes into the store's own tables (keys, foreign keys, CHECKs, indexes,
    made by the store before the clock-relevant work); otherwise into bare tables.
    """
    import sqlite3

    from docmigrate.store import SQLStore

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
    conn.execute(
        "INSERT INTO docmigrate_imports (id, family, file_name, sha256, source_version, "
        "target_version, steps, imported, skipped, replaced, imported_at) VALUES "
        "(1, 'f', 'f', 's', '1.1', '1.1', '[]', 0, 0, 0, 'now')"
        if same_tables
        else "SELECT 1"
    )
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


def orm_session_add(document: Any, target: Path) -> None:
    """The seed app's way: one ORM object per row, ``session.add`` each, one commit."""

    class Base(DeclarativeBase):
        pass

    class Run(Base):
        __tablename__ = "runs"
        uuid: Mapped[str] = mapped_column(String, primary_key=True)
        recipe_name: Mapped[str]
        finished_unit_slug: Mapped[str]
        num_batches: Mapped[int]
        expected_yield: Mapped[int]
        actual_yield: Mapped[int]
        produced_at: Mapped[str]
        notes: Mapped[str | None]
        total_ingredient_cost: Mapped[str]
        per_unit_cost: Mapped[str]
        production_status: Mapped[str]
        loss_quantity: Mapped[int]

    class Consumption(Base):
        __tablename__ = "consumptions"
        uuid: Mapped[str] = mapped_column(String, primary_key=True)
        run_uuid: Mapped[str] = mapped_column(ForeignKey("runs.uuid"))
        ingredient_slug: Mapped[str]
        quantity_consumed: Mapped[str]
        unit: Mapped[str]
        total_cost: Mapped[str]

    class Loss(Base):
        __tablename__ = "losses"
        uuid: Mapped[str] = mapped_column(String, primary_key=True)
        run_uuid: Mapped[str] = mapped_column(ForeignKey("runs.uuid"))
        loss_category: Mapped[str]
        loss_quantity: Mapped[int]
        per_unit_cost: Mapped[str]
        total_loss_cost: Mapped[str]
        notes: Mapped[str | None]

    engine = create_engine(f"sqlite:///{target}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        for run in document["production_runs"]:
            session.add(Run(**{c: run[c] for c in RUN_COLUMNS}))
            for item in run["consumptions"]:
                session.add(
                    Consumption(run_uuid=run["uuid"], **{c: item[c] for c in CONSUMPTION_COLUMNS})
                )
            for item in run["losses"]:
                session.add(Loss(run_uuid=run["uuid"], **{c: item[c] for c in LOSS_COLUMNS}))
        session.commit()
    engine.dispose()


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


def rows_of(source: Path) -> int:
    """Count the rows a document's records make (runs + consumptions + losses)."""
    with source.open("rb") as stream:
        runs = json.load(stream)["production_runs"]
    return sum(1 + len(r["consumptions"]) + len(r.get("losses", [])) for r in runs)


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
        ("write records to SQLite", "store.write", "sqlite3.executemany", files["1.1"]),
        ("write records to SQLite", "store.write", "sqlite3.bare_tables", files["1.1"]),
        ("write records to SQLite", "store.write", "orm.session_add", files["1.1"]),
        ("whole import into SQLite", "docmigrate.import", "sqlite3.executemany", files["1.1"]),
    ]
    print(f"\n{args.runs} runs, python {sys.version.split()[0]}")
    print(f"{'measurement':34} {'task':22} {'seconds':>8} {'peak MiB':>9}")
    for title, ours, baseline, source in rows:
        target = folder / ("out.json" if "upgrade" in ours else "out.db")
        target.unlink(missing_ok=True)
        mine = in_subprocess(ours, source, target)
        target.unlink(missing_ok=True)
        base = in_subprocess(baseline, source, target)
        target.unlink(missing_ok=True)
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
