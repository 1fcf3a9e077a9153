"""The store: exact round trips, one transaction per file, duplicates, provenance, faults."""

from __future__ import annotations

import hashlib
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import HISTORY_DATA
from sqlalchemy import create_engine, event, text

from docmigrate import Family, Registry, jsonio, migrate
from docmigrate.exceptions import (
    DuplicateRecordError,
    RecordConflictError,
    StoreError,
    StoreLayoutError,
    UnstorableValueError,
)
from docmigrate.store import Provenance, SQLStore, database_url
from docmigrate.transfer import export_document, import_paths

WITH_LOSSES = HISTORY_DATA / "1.1" / "valid" / "with-losses.json"
TWO_RUNS_10 = HISTORY_DATA / "1.0" / "valid" / "two-runs.json"
RECIPE_BOOK = Path(__file__).parent.parent / "examples" / "families" / "recipe_book"
README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
README_QUERY = README.split("```sql\n", 1)[1].split("```", 1)[0]


def _load(path: Path) -> Any:
    return jsonio.load_path(path).value


def _provenance(name: str = "test.json") -> Provenance:
    return Provenance(file_name=name, sha256="0" * 64, source_version="1.1")


def _snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every docmigrate table, to prove a failed write changed nothing."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = [
                "docmigrate_imports",
                "production_runs",
                "production_consumptions",
                "production_losses",
                "docmigrate_records",
                "docmigrate_headers",
            ]
            return {
                t: sorted(map(tuple, conn.execute(text(f"SELECT * FROM {t}"))), key=repr)
                for t in tables
            }
    finally:
        engine.dispose()


def _exported(store: SQLStore, history: Family, stamp: str) -> Any:
    return store.read(history, exported_at=stamp)


def test_round_trip_keeps_exact_text(db_url: str, history: Family) -> None:
    """Decimal strings, timestamps with offsets, Unicode notes and nulls come back exactly."""
    document = _load(WITH_LOSSES)
    with SQLStore(db_url) as store:
        report = store.write(document, history, _provenance())
        assert (report.imported, report.skipped, report.replaced) == (2, 0, 0)
        assert _exported(store, history, document["exported_at"]) == document


def test_values_are_stored_in_typed_columns(db_url: str, history: Family) -> None:
    """Integers are integers, money is text; the README's SQL totals losses by category."""
    with SQLStore(db_url) as store:
        store.write(
            _load(HISTORY_DATA / "1.1" / "valid" / "total-loss.json"), history, _provenance()
        )
        with store.engine.connect() as conn:
            batches = conn.execute(text("SELECT num_batches FROM production_runs ORDER BY uuid"))
            assert [row[0] for row in batches] == [1, 2]
            assert (
                conn.execute(
                    text(
                        "SELECT total_ingredient_cost FROM production_runs "
                        "WHERE uuid = 'test-uuid-001'"
                    )
                ).scalar()
                == "3.2000"
            )
            totals = conn.execute(text(README_QUERY)).all()
            assert [(c, n, Decimal(str(t))) for c, n, t in totals] == [
                ("dropped", 1, Decimal("1.9"))
            ]


def test_importing_a_1_0_file_gives_1_1_defaults(db_url: str, registry: Registry) -> None:
    """A 1.0 file is upgraded on the way in; its runs read back complete with no losses."""
    with SQLStore(db_url) as store:
        [report] = import_paths([TWO_RUNS_10], registry, store)
        assert report.ok and report.steps == ["add_loss_tracking (1.0 -> 1.1)"]
        history = registry.get("production-history")
        runs = store.read(history)["production_runs"]
    assert {(r["production_status"], r["loss_quantity"], len(r["losses"])) for r in runs} == {
        ("complete", 0, 0)
    }


def test_reimport_with_skip_is_a_no_op(db_url: str, history: Family) -> None:
    """Importing the same document again writes nothing, not even a provenance row."""
    document = _load(WITH_LOSSES)
    with SQLStore(db_url) as store:
        store.write(document, history, _provenance())
        before = _snapshot(db_url)
        report = store.write(document, history, _provenance())
    assert (report.imported, report.skipped, report.import_id) == (0, 2, None)
    assert _snapshot(db_url) == before


def test_replace_updates_only_changed_records(db_url: str, history: Family) -> None:
    """--on-duplicate replace rewrites a changed run with its children, keeps the others."""
    document = _load(WITH_LOSSES)
    changed = jsonio.clone(document)
    changed["production_runs"][0]["notes"] = "rewritten"
    changed["production_runs"][0]["losses"][0]["total_loss_cost"] = "0.4572"
    with SQLStore(db_url) as store:
        store.write(document, history, _provenance())
        report = store.write(changed, history, _provenance(), on_duplicate="replace")
        assert (report.imported, report.replaced, report.skipped) == (0, 1, 1)
        assert _exported(store, history, changed["exported_at"]) == changed


def test_duplicates_as_error_fail_the_whole_file(db_url: str, history: Family) -> None:
    """--on-duplicate error refuses the file when any run is already stored; nothing is written."""
    document = _load(WITH_LOSSES)
    other = jsonio.clone(document)
    other["production_runs"][1]["uuid"] = "brand-new-run"
    for child in (
        other["production_runs"][1]["consumptions"] + other["production_runs"][1]["losses"]
    ):
        child["uuid"] += "-new"
    with SQLStore(db_url) as store:
        store.write(document, history, _provenance())
        before = _snapshot(db_url)
        with pytest.raises(DuplicateRecordError, match="test-uuid-001"):
            store.write(other, history, _provenance(), on_duplicate="error")
    assert _snapshot(db_url) == before


def test_duplicate_child_uuid_rolls_back_the_file(db_url: str, history: Family) -> None:
    """A consumption uuid already used by a stored run violates a constraint: all or nothing."""
    document = _load(WITH_LOSSES)
    clash = jsonio.clone(document)
    for index, run in enumerate(clash["production_runs"]):
        run["uuid"] = f"new-run-{index}"
    with SQLStore(db_url) as store:
        store.write(document, history, _provenance())
        before = _snapshot(db_url)
        with pytest.raises(RecordConflictError, match="already stored for run") as caught:
            store.write(clash, history, _provenance())
    assert caught.value.json_path == "$.production_runs[0].consumptions[0]"
    assert _snapshot(db_url) == before


def test_run_twice_in_one_file_is_refused(db_url: str, history: Family) -> None:
    """Two runs with one uuid in a file are reported, not silently merged."""
    document = _load(WITH_LOSSES)
    document["production_runs"][1]["uuid"] = document["production_runs"][0]["uuid"]
    with SQLStore(db_url) as store, pytest.raises(RecordConflictError, match="twice in the file"):
        store.write(document, history, _provenance())
    assert _snapshot(db_url)["production_runs"] == []


def test_integer_written_as_decimal_is_refused_with_its_path(db_url: str, history: Family) -> None:
    """`2.0` is an integer to JSON Schema, but an integer column would give back `2`."""
    document = _load(WITH_LOSSES)
    document["production_runs"][1]["num_batches"] = Decimal("2.0")
    with SQLStore(db_url) as store:
        with pytest.raises(UnstorableValueError) as caught:
            store.write(document, history, _provenance())
        assert caught.value.json_path == "$.production_runs[1].num_batches"
    assert _snapshot(db_url)["production_runs"] == []


def test_lost_connection_at_any_statement_leaves_the_database_as_before(
    db_url: str, history: Family
) -> None:
    """A database error at each statement of a write, in turn, rolls the whole file back."""
    first, second = _load(TWO_RUNS_10), _load(WITH_LOSSES)
    first = migrate(first, history).document
    second["production_runs"] = [dict(r, uuid=r["uuid"] + "-b") for r in second["production_runs"]]
    for run in second["production_runs"]:
        for child in run["consumptions"] + run["losses"]:
            child["uuid"] += "-b"
    with SQLStore(db_url) as store:
        store.write(first, history, _provenance())
        before = _snapshot(db_url)
        fail_at = 0
        while True:
            fail_at += 1
            statements = 0

            def fail(*_: Any, limit: int = fail_at) -> None:
                nonlocal statements
                statements += 1
                if statements == limit:
                    raise ConnectionError("connection lost (injected)")

            event.listen(store.engine, "before_cursor_execute", fail)
            try:
                store.write(second, history, _provenance())
            except (StoreError, ConnectionError):
                assert _snapshot(db_url) == before, (
                    f"changed after a failure at statement {fail_at}"
                )
            else:
                break  # every statement of the write has been failed once
            finally:
                event.remove(store.engine, "before_cursor_execute", fail)
    assert fail_at > 4
    assert len(_snapshot(db_url)["production_runs"]) == 4


def test_provenance_is_recorded(db_url: str, registry: Registry, tmp_path: Path) -> None:
    """The import keeps file name, sha256, source version, steps and counts."""
    source = tmp_path / "old-export.json"
    shutil.copy(TWO_RUNS_10, source)
    with SQLStore(db_url) as store:
        list(import_paths([source], registry, store))
        [row] = store.imports()
    assert row["file_name"] == "old-export.json"
    assert row["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert (row["source_version"], row["target_version"]) == ("1.0", "1.1")
    assert row["steps"] == ["add_loss_tracking (1.0 -> 1.1)"]
    assert (row["imported"], row["skipped"], row["replaced"]) == (2, 0, 0)


def test_invalid_file_writes_nothing_and_others_proceed(db_url: str, registry: Registry) -> None:
    """A file failing its schema is reported; the next file is imported."""
    bad = HISTORY_DATA / "1.1" / "invalid" / "unknown-loss-category.json"
    with SQLStore(db_url) as store:
        reports = list(import_paths([bad, TWO_RUNS_10], registry, store))
    assert [r.ok for r in reports] == [False, True]
    assert reports[0].problems[0].keyword == "enum"
    assert len(_snapshot(db_url)["production_runs"]) == 2


def test_generic_family_round_trips_by_record(db_url: str, tmp_path: Path) -> None:
    """A family without a relational mapping is stored record by record and exported whole."""
    registry = Registry.discover([RECIPE_BOOK], cwd=tmp_path, entry_points=False)
    book = registry.get("recipe-book")
    document = {
        "format": "2",
        "recipes": [
            {"id": "r1", "name": "Scones", "servings": 8},
            {"id": "r2", "name": "Crème brûlée", "servings": 4},
        ],
    }
    with SQLStore(db_url) as store:
        store.write(document, book, _provenance())
        again = store.write(document, book, _provenance())
        assert (again.imported, again.skipped) == (0, 2)
        assert export_document(store, book) == document


def test_generic_records_without_key_are_not_duplicated(db_url: str, tmp_path: Path) -> None:
    """Records without a usable key are keyed by content: re-import adds nothing."""
    registry = Registry.discover([RECIPE_BOOK], cwd=tmp_path, entry_points=False)
    book = registry.get("recipe-book")
    document = {"format": "2", "recipes": [{"id": "", "name": "Nameless", "servings": 1}]}
    with SQLStore(db_url) as store:
        assert store.write(document, book, _provenance()).imported == 1
        assert store.write(document, book, _provenance()).skipped == 1
        assert len(export_document(store, book)["recipes"]) == 1


def test_unknown_layout_version_is_refused(db_url: str) -> None:
    """Tables stamped by another layout version are not written to."""
    SQLStore(db_url).close()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE docmigrate_layout SET version = 99"))
    engine.dispose()
    with pytest.raises(StoreLayoutError, match="layout"):
        SQLStore(db_url)


def test_bare_path_means_sqlite(tmp_path: Path) -> None:
    """A file path is a SQLite database."""
    assert database_url(str(tmp_path / "h.db")) == f"sqlite:///{tmp_path / 'h.db'}"
    assert database_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_export_to_1_0_refuses_losses_unless_allowed(db_url: str, history: Family) -> None:
    """Exporting at 1.0 would drop recorded losses: refused unless allowed."""
    from docmigrate import DataLossError

    with SQLStore(db_url) as store:
        store.write(_load(WITH_LOSSES), history, _provenance())
        with pytest.raises(DataLossError):
            export_document(store, history, to="1.0")
        old = export_document(store, history, to="1.0", allow_loss=True)
    assert old["version"] == "1.0"
    assert "losses" not in old["production_runs"][0]


def test_failing_step_imports_nothing(db_url: str, make_family: Any, tmp_path: Path) -> None:
    """A step that raises on one record stops the file before the store is touched."""
    from conftest import simple_schema

    steps = (
        '@upgrade("1", "2", each="/items")\n'
        "def check(item):\n"
        "    if item['id'] == 'bad':\n"
        "        raise ValueError('cannot upgrade this one')\n"
        "    return item\n"
    )
    toml = (
        'version_pointer = "/v"\n[detect]\nrequired = ["/items"]\n'
        '[records]\npointer = "/items"\nkey = "id"\n'
    )
    folder = make_family({"1": simple_schema("1"), "2": simple_schema("2")}, steps, toml=toml)
    registry = Registry.discover([folder], cwd=tmp_path, entry_points=False)
    source = tmp_path / "items.json"
    source.write_text('{"v": "1", "items": [{"id": "ok"}, {"id": "bad"}]}')
    with SQLStore(db_url) as store:
        [report] = import_paths([source], registry, store)
    assert not report.ok
    assert "check (1 -> 2) failed at $.items[1]" in report.problems[0].message
    assert all(rows == [] for rows in _snapshot(db_url).values())
