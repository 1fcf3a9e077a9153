"""The store under real processes: concurrent importers and importers killed midway."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from backends import count_rows
from conftest import by_profile

SRC = Path(__file__).parent.parent / "src"
sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))

from bench import generate  # noqa: E402


def _write_export(path: Path, runs: int, prefix: str) -> None:
    document = generate(runs, "1.1")
    for run in document["production_runs"]:
        run["uuid"] = prefix + run["uuid"]
        for child in run["consumptions"] + run["losses"]:
            child["uuid"] = prefix + child["uuid"]
    path.write_text(json.dumps(document, indent=2))


def _import(db: Path | str, *files: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    return subprocess.Popen(
        [sys.executable, "-m", "docmigrate", "import", *map(str, files), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_concurrent_importers_into_one_sqlite_file(tmp_path: Path) -> None:
    """Two importers at once: one waits for the other; both files end up stored, intact."""
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    _write_export(first, 2000, "a-")
    _write_export(second, 2000, "b-")
    db = tmp_path / "h.db"
    processes = [_import(db, first), _import(db, second)]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert _count(db, "production_runs") == 4000
    assert _count(db, "production_consumptions") == 8000
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_concurrent_importers_of_one_file_into_a_fresh_database(
    tmp_path: Path, db_url: str
) -> None:
    """Two importers of one file at once on a fresh database: both exit 0, records stored once."""
    export = tmp_path / "same.json"
    _write_export(export, 1000, "s-")
    processes = [_import(db_url, export), _import(db_url, export)]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    counts = sorted(out.split(": ", 2)[2].split(",")[0] for out, _ in outputs)
    assert counts == ["0 imported", "1000 imported"], outputs
    assert count_rows(db_url, "production_runs") == 1000
    assert count_rows(db_url, "production_consumptions") == 2000
    assert count_rows(db_url, "docmigrate_imports") == 1


@pytest.mark.parametrize("trial", range(by_profile(dev=3, ci=6)))
def test_import_killed_midway_commits_all_or_nothing(tmp_path: Path, trial: int) -> None:
    """SIGKILL at a random moment leaves each file wholly imported or not at all."""
    export = tmp_path / "big.json"
    _write_export(export, 5000, "k-")
    db = tmp_path / "h.db"
    process = _import(db, export)
    time.sleep(random.Random(trial).uniform(0.2, 2.5))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    if not db.exists():
        return
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    if "production_runs" in tables:
        runs = _count(db, "production_runs")
        assert runs in (0, 5000)
        assert _count(db, "production_consumptions") == 2 * runs
        assert _count(db, "docmigrate_imports") == (1 if runs else 0)


def test_import_killed_inside_its_write_transaction_leaves_nothing(tmp_path: Path) -> None:
    """SIGKILL while the write transaction is open (journal present, tables committed)."""
    export = tmp_path / "big.json"
    _write_export(export, 20000, "t-")
    db = tmp_path / "h.db"
    journal = tmp_path / "h.db-journal"
    process = _import(db, export)
    deadline = time.monotonic() + 60
    inside = False
    while process.poll() is None and time.monotonic() < deadline and not inside:
        if journal.exists() and _tables_committed(db):
            inside = journal.exists()
            if inside:
                process.send_signal(signal.SIGKILL)
        time.sleep(0.001)
    process.wait(timeout=60)
    assert inside, "the import finished before its write transaction was seen"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    runs = _count(db, "production_runs")
    assert runs in (0, 20000)
    assert _count(db, "production_consumptions") == 2 * runs
    assert _count(db, "docmigrate_imports") == (1 if runs else 0)


def _tables_committed(db: Path) -> bool:
    """Whether the store's tables are visible to another connection (layout committed)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0) as conn:
            names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error:
        return False
    return "production_runs" in names
