"""The store under misuse and contention: missing databases, bad URLs, racing writers, clashes."""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from backends import count_rows, fresh_postgres_database, postgres_server_url
from conftest import HISTORY_DATA
from sqlalchemy import Engine, create_engine, event, inspect, make_url, text
from test_cli import run

from docmigrate import Family, Registry, jsonio
from docmigrate.exceptions import (
    NothingStoredError,
    StoreBusyError,
    StoreError,
    StoreNotFoundError,
    StoreURLError,
)
from docmigrate.store import Provenance, SQLStore
from docmigrate.store.sql import WRITER_LOCK
from docmigrate.transfer import import_paths

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))

from bench import generate

WITH_LOSSES = HISTORY_DATA / "1.1" / "valid" / "with-losses.json"
RECIPE_BOOK = Path(__file__).parent.parent / "examples" / "families" / "recipe_book"
UNTOUCHED = "an earlier export, to be left alone\n"


def _provenance() -> Provenance:
    return Provenance(file_name="test.json", sha256="0" * 64, source_version="1.1")


def _table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _export(
    capsys: pytest.CaptureFixture[str], db: str | Path, output: Path, *extra: str | Path
) -> tuple[int, str, str]:
    """Run `export` of production-history into an -o file that holds an earlier export."""
    output.write_text(UNTOUCHED)
    return run(capsys, "export", "--db", db, "--family", "production-history", "-o", output, *extra)


# --- export never creates a database (issue #9, item 2) -------------------------------------


def test_export_from_missing_sqlite_file_exits_2_and_creates_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A mistyped --db: exit 2, one line, no database file made, -o FILE left as it was."""
    output = tmp_path / "export.json"
    for db in (tmp_path / "histroy.db", f"sqlite:///{tmp_path / 'histroy.db'}"):
        code, out, err = _export(capsys, db, output)
        assert code == 2, err
        assert err.startswith("docmigrate: error: there is no SQLite database at ")
        assert err.count("\n") == 1 and "Traceback" not in err
        assert out == ""
        assert not (tmp_path / "histroy.db").exists()
        assert output.read_text() == UNTOUCHED


def test_export_from_database_without_tables_exits_1_and_creates_none(
    capsys: pytest.CaptureFixture[str], db_url: str, tmp_path: Path
) -> None:
    """An existing database with no docmigrate tables holds nothing: exit 1, no tables made."""
    if db_url.startswith("sqlite"):
        sqlite3.connect(db_url.removeprefix("sqlite:///")).close()  # an empty SQLite file
    output = tmp_path / "export.json"
    code, _, err = _export(capsys, db_url, output)
    assert code == 1, err
    assert "nothing is stored in" in err and "no docmigrate tables" in err
    assert output.read_text() == UNTOUCHED
    assert _table_names(db_url) == set()


def test_export_of_a_family_with_nothing_stored_exits_1(
    capsys: pytest.CaptureFixture[str], db_url: str, tmp_path: Path
) -> None:
    """A database holding other families only: exit 1 naming the family, -o FILE untouched."""
    book = tmp_path / "book.json"
    book.write_text('{"format": "2", "recipes": [{"id": "r1", "name": "Scones", "servings": 8}]}')
    code, _, err = run(capsys, "import", book, "--db", db_url, "--family-path", RECIPE_BOOK)
    assert code == 0, err
    output = tmp_path / "export.json"
    code, _, err = _export(capsys, db_url, output, "--family-path", RECIPE_BOOK)
    assert code == 1, err
    assert "nothing of family 'production-history' is stored in" in err
    assert output.read_text() == UNTOUCHED


def test_export_of_an_imported_empty_document_gives_it_back(
    capsys: pytest.CaptureFixture[str], db_url: str, tmp_path: Path
) -> None:
    """A family imported with zero records is stored (its import is): export gives it back."""
    empty = tmp_path / "empty.json"
    empty.write_text(
        '{"version": "1.1", "exported_at": "2025-12-21T12:00:00", "production_runs": []}'
    )
    assert run(capsys, "import", empty, "--db", db_url)[0] == 0
    output = tmp_path / "export.json"
    code, _, err = _export(capsys, db_url, output)
    assert code == 0, err
    assert jsonio.load_path(output).value["production_runs"] == []


def test_missing_postgres_database_is_not_found(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A PostgreSQL database that does not exist: StoreNotFoundError, export exits 2."""
    server = make_url(postgres_server_url())
    missing = server.set(database="docmigrate_no_such_database").render_as_string(False)
    with pytest.raises(StoreNotFoundError, match="does not exist"):
        SQLStore(missing, create=False)
    code, _, err = _export(capsys, missing, tmp_path / "export.json")
    assert code == 2 and "does not exist" in err
    assert (tmp_path / "export.json").read_text() == UNTOUCHED


def test_reading_store_never_recreates_a_vanished_sqlite_file(tmp_path: Path) -> None:
    """Between the existence check and a (re)connect the file goes: SQLite must not recreate it."""
    db = tmp_path / "h.db"
    SQLStore(str(db)).close()
    store = SQLStore(str(db), create=False)
    try:
        store.engine.dispose()  # the next transaction opens a new connection
        db.unlink()
        with pytest.raises(StoreError, match="unable to open"):
            store.imports()
    finally:
        store.close()
    assert not db.exists()


def test_reading_store_raises_nothing_stored_for_an_empty_database(tmp_path: Path) -> None:
    """The Python API: create=False on an empty SQLite file reads as NothingStoredError."""
    db = tmp_path / "h.db"
    sqlite3.connect(db).close()
    registry = Registry.discover(builtin=True, entry_points=False, cwd=tmp_path)
    with SQLStore(str(db), create=False) as store, pytest.raises(NothingStoredError):
        store.read(registry.get("production-history"))
    assert _table_names(f"sqlite:///{db}") == set()


# --- in-memory databases and missing drivers (item 15) ----------------------------------------


@pytest.mark.parametrize("db", ["sqlite://", "sqlite:///:memory:"])
@pytest.mark.parametrize("verb", ["import", "export"])
def test_in_memory_database_is_refused_by_import_and_export(
    capsys: pytest.CaptureFixture[str], db: str, verb: str
) -> None:
    """An in-memory --db would throw an import away (and holds nothing to export): exit 2."""
    args = [WITH_LOSSES] if verb == "import" else ["--family", "production-history"]
    code, out, err = run(capsys, verb, *args, "--db", db)
    assert code == 2
    assert "is an in-memory SQLite database" in err and "Traceback" not in err
    assert "imported" not in out


def test_postgres_url_without_psycopg_says_what_to_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without psycopg a PostgreSQL --db names the extra to install, in one line, exit 2."""
    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` now fails
    with pytest.raises(ImportError):
        import psycopg  # noqa: F401  (the blocker is in place)
    code, _, err = run(capsys, "import", WITH_LOSSES, "--db", "postgresql+psycopg://u@/db")
    assert code == 2
    assert "pip install 'docmigrate[postgres]'" in err
    assert err.count("\n") == 1 and "Traceback" not in err


# --- URLs that do not parse (item 11) ---------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///{tmp}/h.db?timeout=abc",
        "sqlite:///{tmp}/h.db?check_same_thread=maybe",
        "postgresql+psycopg://u@localhost:abc/db",
        "postgresql+psycopg://u:s3cret@[::1/db",
    ],
)
def test_unusable_url_is_a_configuration_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, url: str
) -> None:
    """A bad port or option value: StoreURLError, exit 2 in one line, password hidden."""
    url = url.format(tmp=tmp_path)
    with pytest.raises(StoreURLError, match="cannot use database"):
        SQLStore(url)
    for args in (["import", WITH_LOSSES], ["export", "--family", "production-history"]):
        code, _, err = run(capsys, *args, "--db", url)
        assert code == 2
        assert err.startswith("docmigrate: error: cannot use database ")
        assert err.count("\n") == 1 and "Traceback" not in err and "s3cret" not in err
    assert not (tmp_path / "h.db").exists()


# --- concurrent writers (item 6) ---------------------------------------------------------------


@contextmanager
def _pause_first(
    target: Engine | type[Engine], starts_with: str, until: threading.Event
) -> Iterator[list[str]]:
    """Hold the first statement starting with ``starts_with`` until ``until`` is set, plus 0.3 s.

    Yields the statements held (one, once it fired). The pause keeps the first writer inside
    its transaction while a second one starts, so the two overlap on every run.
    """
    held: list[str] = []
    lock = threading.Lock()

    def hold(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        with lock:
            if held or not statement.lstrip().startswith(starts_with):
                return
            held.append(statement)
        until.wait(10)
        time.sleep(0.3)  # the second writer now looks up keys, or waits for its turn

    event.listen(target, "before_cursor_execute", hold)
    try:
        yield held
    finally:
        event.remove(target, "before_cursor_execute", hold)


def _in_threads(*jobs: Callable[[], Any]) -> list[Any]:
    """Run ``jobs`` in threads started in order, 0.1 s apart; return results or exceptions."""
    results: list[Any] = [None] * len(jobs)

    def call(index: int) -> None:
        try:
            results[index] = jobs[index]()
        except Exception as error:  # collected and asserted on by the test
            results[index] = error

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
        time.sleep(0.1)
    for thread in threads:
        thread.join(60)
    return results


def test_two_first_opens_of_a_fresh_database_both_succeed(db_url: str) -> None:
    """Two stores opened at once on a fresh database: the tables are made once, neither fails."""
    second_started = threading.Event()

    def first() -> None:
        SQLStore(db_url).close()

    def second() -> None:
        second_started.set()
        SQLStore(db_url).close()

    with _pause_first(Engine, "CREATE TABLE", second_started) as held:
        results = _in_threads(first, second)
    assert held, "no CREATE TABLE was held: the race was not exercised"
    assert results == [None, None]
    assert count_rows(db_url, "docmigrate_layout") == 1


def test_overlapping_skip_imports_store_each_record_once(db_url: str, history: Family) -> None:
    """Two writers of one document at once under skip: both succeed, every run stored once."""
    document = generate(200, "1.1")
    SQLStore(db_url).close()  # the tables exist: the race here is on the records
    first, second = SQLStore(db_url), SQLStore(db_url)
    second_started = threading.Event()

    def write_second() -> Any:
        second_started.set()
        return second.write(document, history, _provenance())

    try:
        with _pause_first(first.engine, "INSERT", second_started) as held:
            results = _in_threads(
                lambda: first.write(document, history, _provenance()), write_second
            )
    finally:
        first.close()
        second.close()
    assert held, "the first writer was not held inside its transaction"
    assert [type(r).__name__ for r in results] == ["WriteReport", "WriteReport"], results
    assert [(r.imported, r.skipped) for r in results] == [(200, 0), (0, 200)]
    assert count_rows(db_url, "production_runs") == 200
    assert count_rows(db_url, "production_consumptions") == 400
    assert count_rows(db_url, "docmigrate_imports") == 1


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database on the test PostgreSQL server."""
    with fresh_postgres_database(postgres_server_url()) as url:
        yield url


def test_postgres_writer_waits_then_gives_up_with_store_busy(pg_url: str, history: Family) -> None:
    """A PostgreSQL writer kept from its turn longer than the busy timeout: StoreBusyError."""
    document = jsonio.load_path(WITH_LOSSES).value
    holder = create_engine(pg_url)
    try:
        with SQLStore(pg_url, busy_timeout=0.2) as store, holder.begin() as conn:
            # Another writer's turn: the lock docmigrate's writers take, held by this connection.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITER_LOCK})
            started = time.monotonic()
            with pytest.raises(StoreBusyError, match="stayed locked by another writer"):
                store.write(document, history, _provenance())
            assert time.monotonic() - started >= 0.2
    finally:
        holder.dispose()
    assert count_rows(pg_url, "production_runs") == 0


def test_postgres_export_reads_one_snapshot_while_an_import_commits(
    pg_url: str, history: Family
) -> None:
    """An import committing in the middle of an export: the export holds none of it, not half."""
    document = jsonio.load_path(WITH_LOSSES).value
    newer = generate(3, "1.1")  # runs with consumptions, produced after nothing in particular
    committed: list[Any] = []
    with SQLStore(pg_url) as reader, SQLStore(pg_url) as writer:
        reader.write(document, history, _provenance())

        def import_now(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            # Between the reader's child queries and its runs query, another import commits.
            if not committed and statement.startswith("SELECT production_runs.uuid"):
                committed.append(writer.write(newer, history, _provenance()))

        event.listen(reader.engine, "before_cursor_execute", import_now)
        try:
            exported = reader.read(history, exported_at=document["exported_at"])
        finally:
            event.remove(reader.engine, "before_cursor_execute", import_now)
        assert committed and committed[0].imported == 3, "the import did not run mid-export"
        assert exported == document
        assert len(reader.read(history)["production_runs"]) == 5


# --- store errors point at the record (item 15) ------------------------------------------------


def _object_holding(text_: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """Line and column of the ``{`` opening the object where ``needle`` occurs that time."""
    index = -1
    for _ in range(occurrence):
        index = text_.index(needle, index + 1)
    start = text_.rindex("{", 0, index)
    return text_.count("\n", 0, start) + 1, start - text_.rfind("\n", 0, start)


def _write(path: Path, document: Any) -> str:
    content = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    path.write_text(content, encoding="utf-8")
    return content


def _import_one(db_url: str, registry: Registry, path: Path, **options: Any) -> Any:
    with SQLStore(db_url) as store:
        [report] = import_paths([path], registry, store, **options)
    return report


def test_child_uuid_twice_in_a_file_is_reported_at_the_second_child(
    db_url: str, registry: Registry, tmp_path: Path
) -> None:
    """A consumption uuid repeated in the file: its line:col and JSON path, nothing imported."""
    document = jsonio.load_path(WITH_LOSSES).value
    document["production_runs"][0]["consumptions"][1]["uuid"] = "test-uuid-001-c1"
    source = tmp_path / "twice.json"
    content = _write(source, document)
    report = _import_one(db_url, registry, source)
    [problem] = report.problems
    assert problem.json_path == "$.production_runs[0].consumptions[1]"
    assert (problem.line, problem.column) == _object_holding(content, '"test-uuid-001-c1"', 2)
    assert "used twice in the file (first at $.production_runs[0].consumptions[0])" in (
        problem.message
    )
    assert count_rows(db_url, "production_runs") == 0


def test_child_uuid_stored_under_another_run_is_reported_at_the_child(
    db_url: str, registry: Registry, tmp_path: Path
) -> None:
    """A loss uuid another stored run already has: the loss's line:col and path are named."""
    assert _import_one(db_url, registry, WITH_LOSSES).ok
    document = jsonio.load_path(WITH_LOSSES).value
    for index, run_ in enumerate(document["production_runs"]):
        run_["uuid"] = f"new-run-{index}"
        for child in run_["consumptions"]:
            child["uuid"] += "-new"
    source = tmp_path / "clash.json"
    content = _write(source, document)
    report = _import_one(db_url, registry, source)
    [problem] = report.problems
    assert problem.json_path == "$.production_runs[0].losses[0]"
    assert (problem.line, problem.column) == _object_holding(content, '"test-loss-001"')
    assert "already stored for run 'test-uuid-001'" in problem.message
    assert count_rows(db_url, "production_runs") == 2


def test_run_uuid_twice_in_a_file_is_reported_at_the_second_run(
    db_url: str, registry: Registry, tmp_path: Path
) -> None:
    """Two runs with one uuid: the second run's line:col and JSON path."""
    document = jsonio.load_path(WITH_LOSSES).value
    document["production_runs"][1]["uuid"] = "test-uuid-001"
    source = tmp_path / "twice.json"
    content = _write(source, document)
    [problem] = _import_one(db_url, registry, source).problems
    assert problem.json_path == "$.production_runs[1]"
    assert (problem.line, problem.column) == _object_holding(content, '"uuid": "test-uuid-001"', 2)


def test_duplicates_as_error_point_at_the_first_stored_record(
    db_url: str, registry: Registry, tmp_path: Path
) -> None:
    """--on-duplicate error names where the first already-stored run is in the file."""
    assert _import_one(db_url, registry, WITH_LOSSES).ok
    document = jsonio.load_path(WITH_LOSSES).value
    document["production_runs"][0]["uuid"] = "brand-new-run"
    for child in (
        document["production_runs"][0]["consumptions"] + document["production_runs"][0]["losses"]
    ):
        child["uuid"] += "-new"
    source = tmp_path / "again.json"
    content = _write(source, document)
    [problem] = _import_one(db_url, registry, source, on_duplicate="error").problems
    assert problem.json_path == "$.production_runs[1]"
    second_run = '"uuid": "6f1c2a0e-3b7d-4e8a-9c55-0d2e1f3a4b5c"'
    assert (problem.line, problem.column) == _object_holding(content, second_run)


def test_integer_written_as_decimal_is_reported_at_its_value(
    db_url: str, registry: Registry, tmp_path: Path
) -> None:
    """`2.0` in an integer column: the report points at that number's line and column."""
    content = WITH_LOSSES.read_text(encoding="utf-8").replace(
        '"num_batches": 1,', '"num_batches": 1.0,'
    )
    source = tmp_path / "decimal.json"
    source.write_text(content, encoding="utf-8")
    [problem] = _import_one(db_url, registry, source).problems
    assert problem.json_path == "$.production_runs[1].num_batches"
    start = content.index("1.0,")
    assert (problem.line, problem.column) == (
        content.count("\n", 0, start) + 1,
        start - content.rfind("\n", 0, start),
    )
