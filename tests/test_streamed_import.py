"""Streamed import stores exactly what the in-memory import stores, and all of a file or nothing.

Each scenario (a sequence of imports) runs twice, into two fresh databases: once with every
file streamed (threshold 0, batches of a few records so that every file spans several) and
once with every file read whole. The reports and the databases' contents (every table, the
import time aside) must be identical. Faults injected in the middle of a stream (an invalid
record, a cut file, a failing read, a kill) must leave the database as it was.
"""

from __future__ import annotations

import gc
import io
import json
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from backends import fresh_postgres_database, postgres_server_url
from conftest import FamilyMaker, items_family, sleeping_family, wait_for_marker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool
from test_cli import run as _cli

from docmigrate import Registry, commands, jsonio, streamed_import, streaming, transfer
from docmigrate.jsonio.streaming import CHUNK_SIZE
from docmigrate.registry import BUILTIN_FOLDER
from docmigrate.reports import FileReport
from docmigrate.store import open_store
from docmigrate.store import streamed as store_streamed
from docmigrate.store.tables import metadata
from docmigrate.testing import documents
from docmigrate.transfer import (
    ImportOptions,
    ImportTask,
    PreparedReport,
    import_paths,
    store_prepared,
)

EXAMPLES = Path(__file__).parent.parent / "examples" / "families"
SMALL_BATCH = 3
"""Records per batch in these tests: every file of a few records spans several batches."""

Import = tuple[Path, str | None]
"""One import of a scenario: the file and its ``--on-duplicate``."""


@pytest.fixture(scope="module")
def both() -> Registry:
    """The built-in family and the recipe-book example (a generic merge family)."""
    return Registry.discover([EXAMPLES], cwd=BUILTIN_FOLDER, entry_points=False)


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Write a few records per batch, so that batches meet keys, conflicts and faults."""
    monkeypatch.setattr(store_streamed, "BATCH", SMALL_BATCH)


def _import_all(
    scenario: Sequence[Import], registry: Registry, url: str, *, stream: bool
) -> list[FileReport]:
    """Run the scenario's imports into ``url``, every file streamed or every file whole."""
    threshold = 0 if stream else 1 << 62
    saved, commands.STREAMING_MIN_SIZE = commands.STREAMING_MIN_SIZE, threshold
    try:
        with open_store(url) as store:
            return [
                report
                for path, on_duplicate in scenario
                for report in import_paths([path], registry, store, on_duplicate=on_duplicate)
            ]
    finally:
        commands.STREAMING_MIN_SIZE = saved


def contents(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every docmigrate table, sorted, without the import time."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return {
                table.name: sorted((tuple(row) for row in conn.execute(select(*columns))), key=repr)
                for table in metadata.sorted_tables
                if (columns := [c for c in table.columns if c.name != "imported_at"])
            }
    finally:
        engine.dispose()


def _comparable(report: FileReport) -> dict[str, Any]:
    fields = asdict(report)
    fields.pop("pipeline")
    return fields


def check_both_ways(
    scenario: Sequence[Import], registry: Registry, urls: tuple[str, str]
) -> list[FileReport]:
    """Run the scenario streamed and whole; assert the same reports and rows; return streamed."""
    streamed = _import_all(scenario, registry, urls[0], stream=True)
    whole = _import_all(scenario, registry, urls[1], stream=False)
    assert [_comparable(r) for r in streamed] == [_comparable(r) for r in whole]
    assert contents(urls[0]) == contents(urls[1])
    return streamed


def _sqlite_urls(folder: Path) -> Iterator[tuple[str, str]]:
    """Pairs of fresh SQLite databases, one pair per call of ``next``."""
    number = 0
    while True:
        number += 1
        yield (
            f"sqlite:///{folder / f'streamed-{number}.db'}",
            f"sqlite:///{folder / f'whole-{number}.db'}",
        )


def _write(path: Path, document: Any, **layout: Any) -> Path:
    path.write_bytes(jsonio.dump_bytes(document, **layout))
    return path


# --- documents drawn from every version's schema ------------------------------------------------


@pytest.mark.parametrize(
    "family_version", [("production-history", "1.0"), ("production-history", "1.1"),
                       ("recipe-book", "1"), ("recipe-book", "2")]
)  # fmt: skip
def test_drawn_documents_import_exactly(
    family_version: tuple[str, str], both: Registry, tmp_path: Path
) -> None:
    """Two drawn documents imported, again, then under each --on-duplicate: same rows, reports."""
    family = both.get(family_version[0])
    urls = _sqlite_urls(tmp_path)
    streamed_files = []

    @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        documents(family, family_version[1]),
        documents(family, family_version[1]),
        st.sampled_from([None, "skip", "replace", "error"]),
    )
    def check(first: Any, second: Any, on_duplicate: str | None) -> None:
        a = _write(tmp_path / "a.json", first)
        b = _write(tmp_path / "b.json", second, indent=None)
        scenario = [(a, None), (a, None), (b, on_duplicate), (a, on_duplicate)]
        reports = check_both_ways(scenario, both, next(urls))
        streamed_files.extend(r for r in reports if r.pipeline == commands.STREAMING)

    check()
    # Drawn documents may repeat a key (handed to the in-memory import): most must stream.
    assert len(streamed_files) >= 8


def _run(i: int, *, cost: str = "0.0762", child: str | None = None) -> dict[str, Any]:
    return {
        "uuid": f"00000000-0000-4000-8000-{i:012d}", "recipe_name": f"Recipe {i % 7} — é",
        "finished_unit_slug": "loaf", "num_batches": 1 + i % 3, "expected_yield": 24,
        "actual_yield": 24 - i % 4, "produced_at": f"2025-01-{1 + i % 28:02d}T09:30:00+01:00",
        "notes": None if i % 3 else f"note {i}", "total_ingredient_cost": f"{i % 50}.2000",
        "per_unit_cost": cost,
        "consumptions": [{"uuid": child or f"c-{i}", "ingredient_slug": "flour",
                          "quantity_consumed": "2.000", "unit": "cup", "total_cost": "1.5000"}],
    }  # fmt: skip


def _history(runs: Sequence[dict[str, Any]], version: str = "1.0") -> dict[str, Any]:
    return {"version": version, "exported_at": "2025-12-21T12:00:00", "production_runs": runs}


# --- store semantics across batches -------------------------------------------------------------


@pytest.mark.parametrize("on_duplicate", [None, "replace", "error"])
def test_overlapping_files_across_batches(
    on_duplicate: str | None, registry: Registry, tmp_path: Path
) -> None:
    """A second file sharing, changing and adding runs: the same skips, replacements, refusals."""
    first = _write(tmp_path / "first.json", _history([_run(i) for i in range(10)]))
    changed = [_run(i, cost="9.9999" if i % 4 == 0 else "0.0762") for i in range(5, 17)]
    second = _write(tmp_path / "second.json", _history(changed))
    scenario = [(first, None), (second, on_duplicate), (second, on_duplicate)]
    reports = check_both_ways(scenario, registry, next(_sqlite_urls(tmp_path)))
    assert reports[0].pipeline == commands.STREAMING and reports[0].counts["imported"] == 10
    if on_duplicate == "error":  # refused as the whole write refuses it, naming the record
        assert reports[1].pipeline.startswith("in memory:") and not reports[1].ok
    else:
        assert reports[1].pipeline == commands.STREAMING
        replaced = 1 if on_duplicate == "replace" else 0  # run 8 (stored) changed its cost
        assert reports[1].counts == {"imported": 7, "skipped": 5 - replaced,
                                     "replaced": replaced, "removed": 0}  # fmt: skip
        assert reports[2].action.startswith("already imported as import 2")


@pytest.mark.parametrize(
    "runs",
    [
        pytest.param([_run(i) for i in (0, 1, 2, 3, 4, 1, 5)], id="run key twice"),
        pytest.param([_run(i) for i in range(8)] + [_run(9, child="c-2")], id="child uuid twice"),
        pytest.param([*(_run(i) for i in range(5)), {**_run(5), "num_batches": Decimal("2.0")}],
                     id="integer written as 2.0"),
    ],
)  # fmt: skip
def test_conflicts_found_late_are_reported_as_in_memory(
    runs: list[dict[str, Any]], registry: Registry, tmp_path: Path
) -> None:
    """A conflict batches after the first: nothing stored, the whole write's message and place."""
    stored = _write(tmp_path / "stored.json", _history([_run(i) for i in range(100, 104)]))
    path = _write(tmp_path / "conflict.json", _history(runs))
    scenario = [(stored, None), (path, None)]
    reports = check_both_ways(scenario, registry, next(_sqlite_urls(tmp_path)))
    assert reports[1].pipeline.startswith("in memory:") and not reports[1].ok
    assert reports[1].problems[0].json_path.startswith("$.production_runs[")


def test_already_stored_run_repeated_in_the_file(registry: Registry, tmp_path: Path) -> None:
    """A run skipped as stored, then repeated in the file: refused as a key used twice."""
    stored = _write(tmp_path / "stored.json", _history([_run(i) for i in range(4)]))
    again = _write(tmp_path / "again.json", _history([_run(i) for i in (9, 1, 8, 7, 6, 5, 1)]))
    reports = check_both_ways([(stored, None), (again, None)], registry,
                              next(_sqlite_urls(tmp_path)))  # fmt: skip
    assert "used twice" in reports[1].problems[0].message


@pytest.fixture
def headed_family(make_family: FamilyMaker) -> Registry:
    """A generic merge family: records keyed by content, a header ordered by newest_by."""
    schema = {
        "type": "object",
        "properties": {"v": {"const": "1"}, "at": {"type": "string"}, "items": {"type": "array"}},
        "required": ["v", "at", "items"],
    }
    folder = make_family(
        {"1": schema},
        toml='version_pointer = "/v"\nnewest_by = "/at"\n[detect]\nrequired = ["/items"]\n'
        '[records]\npointer = "/items"\n',
    )
    return Registry.discover([folder], builtin=False, entry_points=False, cwd=folder)


def test_unkeyed_records_and_headers_import_exactly(
    headed_family: Registry, tmp_path: Path
) -> None:
    """Content-keyed records (repeats numbered), older and newer headers, label at the end."""
    items = [{"n": i % 4} for i in range(11)]
    newer = _write(tmp_path / "newer.json", {"items": items, "at": "2025-02-01", "v": "1"})
    older = _write(tmp_path / "older.json", {"at": "2025-01-01", "v": "1", "items": items[:7]})
    same = _write(tmp_path / "same.json", {"v": "1", "at": "2025-01-01", "items": items[2:5]})
    scenario = [(newer, None), (older, None), (same, "replace"), (newer, "error")]
    reports = check_both_ways(scenario, headed_family, next(_sqlite_urls(tmp_path)))
    assert [r.pipeline for r in reports[:3]] == [commands.STREAMING] * 3
    assert [r.action for r in reports[:3]] == [
        "import 1", "nothing new: nothing changed", "nothing new: nothing changed"
    ]  # fmt: skip


def test_postgresql_imports_the_same_rows(both: Registry, tmp_path: Path) -> None:
    """On PostgreSQL too: streamed and whole imports give the same rows and reports."""
    server = postgres_server_url()
    runs = [_run(i) for i in range(20)]
    first = _write(tmp_path / "first.json", _history(runs))
    second = _write(
        tmp_path / "second.json", _history([_run(i, cost="1.0") for i in range(10, 30)])
    )
    recipes = {"format": "2", "recipes": [{"id": f"r{i}", "name": "bread", "servings": 2}
                                          for i in range(9)]}  # fmt: skip
    book = _write(tmp_path / "book.json", recipes)
    conflict = _write(tmp_path / "conflict.json", _history([_run(i) for i in (40, 41, 40)]))
    last = _write(tmp_path / "last.json", _history([_run(i) for i in range(50, 55)]))
    scenario = [(first, None), (second, "replace"), (first, None), (book, None), (conflict, None),
                (last, None)]  # fmt: skip
    with fresh_postgres_database(server) as a, fresh_postgres_database(server) as b:
        reports = check_both_ways(scenario, both, (a, b))
    assert [r.pipeline == commands.STREAMING for r in reports] == [True] * 4 + [False, True]
    assert reports[1].counts["replaced"] == 10 and not reports[4].ok
    # Imports rolled back (already imported, a conflict) used no id: the ids are in-memory's.
    assert [r.action for r in reports] == [
        "import 1", "import 2", "already imported as import 1: nothing changed", "import 3", "",
        "import 4",
    ]  # fmt: skip


def test_worker_task_streams_into_its_database(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's import task streams into the database it writes, or leaves it to the writer."""
    monkeypatch.setattr(commands, "STREAMING_MIN_SIZE", 0)
    path = _write(tmp_path / "runs.json", _history([_run(i) for i in range(9)]))
    worker_db = str(tmp_path / "worker.db")
    try:
        report = ImportTask(path, ImportOptions(), worker_db).run(registry)
    finally:
        transfer._WORKER_STORES.pop(worker_db).close()
    assert report.pipeline == commands.STREAMING and report.counts["imported"] == 9
    handed = ImportTask(path, ImportOptions(), None).run(registry)
    assert isinstance(handed, PreparedReport)
    assert handed.import_here and handed.prepared is None and not handed.pipeline
    writer_url = f"sqlite:///{tmp_path / 'writer.db'}"
    with open_store(writer_url) as store:
        store_prepared(handed, registry, store, ImportOptions())
    assert handed.pipeline == commands.STREAMING and not handed.import_here
    whole_url = f"sqlite:///{tmp_path / 'whole.db'}"
    [whole] = _import_all([(path, None)], registry, whole_url, stream=False)
    assert _comparable(report) == _comparable(whole) == _comparable(handed)
    assert contents(f"sqlite:///{worker_db}") == contents(whole_url) == contents(writer_url)


# --- faults in the middle of the stream ---------------------------------------------------------


class _Counted:
    """Counts the batches a streamed import wrote (to prove a fault came after some)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.batches = 0
        original = store_streamed.BatchWriter._flush

        def counted(writer: store_streamed.BatchWriter) -> None:
            self.batches += bool(writer.pending)
            original(writer)

        monkeypatch.setattr(store_streamed.BatchWriter, "_flush", counted)


def _stored_before(registry: Registry, tmp_path: Path) -> str:
    """A database holding one earlier import; return its URL."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    earlier = _write(tmp_path / "earlier.json", _history([_run(i) for i in range(500, 505)]))
    assert _import_all([(earlier, None)], registry, url, stream=False)[0].ok
    return url


def test_invalid_record_in_the_middle_imports_nothing(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record breaking the schema after several batches: rolled back, the in-memory errors."""
    url = _stored_before(registry, tmp_path)
    before = contents(url)
    runs = [_run(i) for i in range(30)]
    runs[20]["num_batches"] = 0
    path = _write(tmp_path / "bad.json", _history(runs))
    counted = _Counted(monkeypatch)
    report = _import_all([(path, None)], registry, url, stream=True)[0]
    assert counted.batches >= 5  # the fault came after batches were written
    assert report.pipeline.startswith("in memory: a record is invalid")
    assert [p.json_path for p in report.problems] == ["$.production_runs[20].num_batches"]
    assert contents(url) == before


def test_truncated_file_imports_nothing(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file cut inside a record after several batches: the JSON error, nothing stored."""
    url = _stored_before(registry, tmp_path)
    before = contents(url)
    data = jsonio.dump_bytes(_history([_run(i) for i in range(40)]))
    path = tmp_path / "cut.json"
    path.write_bytes(data[: len(data) * 2 // 3])
    counted = _Counted(monkeypatch)
    report = _import_all([(path, None)], registry, url, stream=True)[0]
    assert counted.batches >= 5
    assert [p.keyword for p in report.problems] == ["json"]
    assert report.pipeline.startswith("in memory:")
    assert contents(url) == before


def test_read_error_mid_stream_leaves_no_partial_import(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An I/O error while records are read: the partial import is rolled back, read whole."""
    url = _stored_before(registry, tmp_path)
    monkeypatch.setattr(store_streamed, "BATCH", 100)
    path = _write(tmp_path / "runs.json", _history([_run(i) for i in range(6000)]))
    size = path.stat().st_size
    assert size > 2 * CHUNK_SIZE  # read in several chunks
    failed: list[int] = []

    class FailingRead(io.FileIO):
        def readinto(self, buffer: Any) -> int:
            if self.tell() > size // 2:
                failed.append(self.tell())
                raise OSError(5, "Input/output error")
            return super().readinto(buffer)

    opened = streaming.open_limited

    def failing_open(where: Path, limit: int | None) -> Any:
        opened(where, limit).close()  # the size cap is checked as ever
        return io.BufferedReader(FailingRead(where), buffer_size=512)

    monkeypatch.setattr(streamed_import, "open_limited", failing_open)
    counted = _Counted(monkeypatch)
    reports = _import_all([(path, None)], registry, url, stream=True)
    assert failed and counted.batches >= 5  # the read failed after batches were written
    assert reports[0].pipeline == "in memory: the file could not be streamed"
    assert reports[0].counts == {"imported": 5995, "skipped": 5, "replaced": 0, "removed": 0}
    whole_url = f"sqlite:///{tmp_path / 'whole.db'}"
    earlier = tmp_path / "earlier.json"
    _import_all([(earlier, None), (path, None)], registry, whole_url, stream=False)
    assert contents(url) == contents(whole_url)


def test_kill_mid_stream_leaves_no_partial_import(make_family: FamilyMaker, tmp_path: Path) -> None:
    """SIGKILL while batches are being written: the database holds nothing of the file."""
    marker = tmp_path / "reached"
    folder = sleeping_family(make_family, marker, 7000)
    source = _write(tmp_path / "numbers.json", {"v": "1", "items": list(range(20_000))})
    db = tmp_path / "store.db"
    script = f"""
from pathlib import Path
from docmigrate import commands
from docmigrate.registry import Registry
from docmigrate.store import open_store
from docmigrate.store import streamed
from docmigrate.transfer import ImportOptions, ImportTask, import_paths
commands.STREAMING_MIN_SIZE = 0
streamed.BATCH = 1000
registry = Registry.discover([{str(folder)!r}], builtin=False, entry_points=False,
                             cwd={str(folder)!r})
with open_store({str(db)!r}) as store:
    print(list(import_paths([Path({str(source)!r})], registry, store)))
"""
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        assert wait_for_marker(marker, 60, process)
        journal = Path(f"{db}-journal")
        assert journal.stat().st_size > 0  # batches were written, not yet committed
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    rows = contents(f"sqlite:///{db}")
    assert rows["docmigrate_imports"] == [] and rows["docmigrate_records"] == []


# --- how files were read, said on the command line ----------------------------------------------


def test_verbose_and_json_report_say_import_streamed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--verbose names each file's pipeline on stderr; the json report's pipeline field too."""
    monkeypatch.setattr(commands, "STREAMING_MIN_SIZE", 0)
    path = _write(tmp_path / "runs.json", _history([_run(i) for i in range(7)]))
    db = tmp_path / "store.db"
    code, out, err = _cli(capsys, "import", path, "--db", db, "--verbose")
    assert code == 0 and f"{path}: streaming" in err.splitlines()
    assert "7 imported" in out
    code, out, err = _cli(capsys, "import", path, "--db", db, "--format", "json")
    [file] = json.loads(out)["files"]
    assert file["pipeline"] == "streaming" and file["action"].startswith("already imported")


@pytest.fixture
def open_family(make_family: FamilyMaker) -> Registry:
    """A generic merge family whose records may be any JSON value (no step: stored as read)."""
    folder = items_family(make_family, versions=("1",))
    return Registry.discover([folder], builtin=False, entry_points=False, cwd=folder)


def test_edge_values_are_hashed_and_stored_exactly(open_family: Registry, tmp_path: Path) -> None:
    """Big integers, exponents, -0, escapes, key order: the same digest and text as in memory."""
    items = (
        b"123456789012345678901234567890, -0, 1.0, 1.00, 1E+400, 0.1e-7, -9223372036854775809,"
        b' 18446744073709551616, "\\u2028\\ud83d\\ude00\\u0000", "\xc3\xa9", {"z": 1, "a": 2},'
        b' {"a": 2, "z": 1}, [[[]]], {}, true, null, 1.0, "\\"\\\\\\/"'
    )
    path = tmp_path / "edge.json"
    path.write_bytes(b'{"v": "1", "items": [' + items + b'], "after": [1e2, "\\u00e9"]}\n')
    other = _write(tmp_path / "other.json", {"v": "1", "items": [0, "é", -0], "after": []})
    scenario = [(path, None), (other, None), (path, "replace")]
    reports = check_both_ways(scenario, open_family, next(_sqlite_urls(tmp_path)))
    assert [r.pipeline for r in reports] == [commands.STREAMING] * 3
    assert reports[0].counts["imported"] == 18


def _records_family(make_family: FamilyMaker, toml: str = "", steps: str = "") -> Registry:
    """A family of versions 1 and 2 whose records at /items may be anything."""
    schema = {"type": "object", "properties": {"v": {}, "items": {"type": "array"}}}
    folder = make_family(
        {"1": schema, "2": schema},
        steps or '@upgrade("1", "2", each="/items")\ndef same(item):\n    return item\n',
        toml='version_pointer = "/v"\n' + toml + '[detect]\nrequired = ["/items"]\n'
        '[records]\npointer = "/items"\n',
    )
    return Registry.discover([folder], builtin=False, entry_points=False, cwd=folder)


def test_snapshot_family_is_imported_whole(make_family: FamilyMaker, tmp_path: Path) -> None:
    """A snapshot import is kept whole: the in-memory path, said why, with the same result."""
    registry = _records_family(make_family, 'mode = "snapshot"\n')
    path = _write(tmp_path / "state.json", {"v": "1", "items": [1, 2, 3]})
    reports = check_both_ways([(path, None)], registry, next(_sqlite_urls(tmp_path)))
    assert reports[0].pipeline == "in memory: a snapshot import is kept whole"
    assert reports[0].counts["imported"] == 3


def test_newest_by_that_is_not_text_is_refused_as_in_memory(
    make_family: FamilyMaker, tmp_path: Path
) -> None:
    """newest_by naming a number (told after the records): the whole write's error, nothing kept."""
    registry = _records_family(make_family, 'newest_by = "/at"\n')
    path = _write(tmp_path / "doc.json", {"v": "1", "items": list(range(10)), "at": 5})
    reports = check_both_ways([(path, None)], registry, next(_sqlite_urls(tmp_path)))
    assert reports[0].pipeline.startswith("in memory: the store refused a record")
    assert [p.keyword for p in reports[0].problems] == ["store"]


def test_step_timeout_mid_stream_is_reported_as_in_memory(
    make_family: FamilyMaker, tmp_path: Path
) -> None:
    """A per-record step running out of time after some batches: the same problem, nothing kept."""
    steps = (
        "import time\n\n"
        '@upgrade("1", "2", each="/items")\n'
        "def slow(item):\n"
        "    if item == 40:\n"
        "        time.sleep(0.5)\n"
        "    return item\n"
    )
    registry = _records_family(make_family, steps=steps)
    path = _write(tmp_path / "doc.json", {"v": "1", "items": list(range(60))})
    urls = next(_sqlite_urls(tmp_path))
    streamed, whole = (
        _import_timed(path, registry, url, stream=stream)
        for url, stream in zip(urls, (True, False), strict=True)
    )
    assert streamed.pipeline == commands.STREAMING
    assert _comparable(streamed) == _comparable(whole)
    assert [p.keyword for p in streamed.problems] == ["StepTimeoutError"]
    assert contents(urls[0]) == contents(urls[1])
    assert contents(urls[0])["docmigrate_imports"] == []


def _import_timed(path: Path, registry: Registry, url: str, *, stream: bool) -> FileReport:
    """Import ``path`` with a step timeout of 0.2 s, streamed or whole."""
    threshold = 0 if stream else 1 << 62
    saved, commands.STREAMING_MIN_SIZE = commands.STREAMING_MIN_SIZE, threshold
    try:
        with open_store(url) as store:
            return next(import_paths([path], registry, store, step_timeout=0.2))
    finally:
        commands.STREAMING_MIN_SIZE = saved


def test_version_label_after_the_records(registry: Registry, tmp_path: Path) -> None:
    """The label after the runs (found by a first pass): streamed, and stored as in memory."""
    runs = [_run(i) for i in range(8)]
    path = _write(
        tmp_path / "late.json",
        {"production_runs": runs, "exported_at": "2025-12-21T12:00:00", "version": "1.0"},
    )
    reports = check_both_ways([(path, None)], registry, next(_sqlite_urls(tmp_path)))
    assert reports[0].pipeline == commands.STREAMING
    assert reports[0].steps == ["add_loss_tracking (1.0 -> 1.1)"]


def test_batches_that_look_up_keys_leave_no_garbage(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches querying stored keys (collector paused) leave no cycles behind: memory stays flat."""
    monkeypatch.setattr(commands, "STREAMING_MIN_SIZE", 0)
    monkeypatch.setattr(store_streamed, "BATCH", 50)
    half = _write(tmp_path / "half.json", _history([_run(i) for i in range(0, 3000, 2)]))
    full = _write(tmp_path / "full.json", _history([_run(i) for i in range(3000)]))
    tracked: list[int] = []
    flush = store_streamed.BatchWriter._flush

    def counted(writer: store_streamed.BatchWriter) -> None:
        flush(writer)
        tracked.append(len(gc.get_objects()))

    with open_store(str(tmp_path / "store.db")) as store:
        assert next(import_paths([half], registry, store)).counts["imported"] == 1500
        monkeypatch.setattr(store_streamed.BatchWriter, "_flush", counted)
        report = next(import_paths([full], registry, store))
    assert report.pipeline == commands.STREAMING and report.counts["skipped"] == 1500
    assert len(tracked) == 61  # 60 batches looked up their keys, then the final flush
    # Without collecting, each batch's query left ~10 objects (and its keys) for good.
    assert tracked[-2] - tracked[5] < 100
