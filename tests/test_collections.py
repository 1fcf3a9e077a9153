"""Record collections, merge and snapshot imports, idempotence and exact change detection.

The real full backups (tests/data/bake-tracker-backups, 3.5 and 3.6) go through the example
full-backup family (examples/families/full_backup): imported in any order, the export is the
newest backup; re-importing changes nothing; older snapshots come back by import id.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, FamilyMaker, simple_schema
from sqlalchemy import create_engine, inspect, text

from docmigrate import Family, FamilyError, Registry, jsonio, load_family, migrate
from docmigrate.cli import main
from docmigrate.exceptions import (
    DuplicateRecordError,
    RecordsPointerError,
    StoreLayoutError,
)
from docmigrate.store import Provenance, SQLStore
from docmigrate.store.provenance import canonical_text
from docmigrate.transfer import export_document, import_paths

ROOT = Path(__file__).parent.parent
FULL_BACKUP = ROOT / "examples" / "families" / "full_backup"
BACKUPS = DATA / "bake-tracker-backups"
NEWEST = BACKUPS / "3.6" / "sample_data-da014f26-hierarchy.json"
SUPPLIERS = BACKUPS / "3.5" / "sample_data-d5b764a0-suppliers.json"
DEC_27 = BACKUPS / "3.5" / "bake-tracker-backup-2025-12-27.json"
RELABELLED = BACKUPS / "3.5" / "sample_data-73a30f76-relabelled-3.4.json"
CHRONOLOGICAL = (RELABELLED, SUPPLIERS, DEC_27, NEWEST)
TABLES = (
    "docmigrate_imports",
    "docmigrate_records",
    "docmigrate_headers",
    "docmigrate_heads",
    "docmigrate_snapshots",
    "production_runs",
)
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def full_backup() -> Family:
    """The example full-backup family."""
    return load_family(FULL_BACKUP)


@functools.cache
def _upgraded(path: Path) -> Any:
    """A backup at the family's current version (parsed and upgraded once per module)."""
    family = load_family(FULL_BACKUP)
    return migrate(jsonio.load_path(path).value, family).document


def _write_all(store: SQLStore, family: Family, paths: tuple[Path, ...]) -> list[Any]:
    return [store.write(_upgraded(p), family, Provenance(p.name, p.name, "3.x")) for p in paths]


def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every docmigrate table, to compare databases."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t: sorted(map(tuple, conn.execute(text(f"SELECT * FROM {t}"))), key=repr)
                for t in TABLES
            }
    finally:
        engine.dispose()


def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


ORDERS = {
    "chronological": CHRONOLOGICAL,
    "newest first": (NEWEST, DEC_27, RELABELLED, SUPPLIERS),
    "shuffled": (SUPPLIERS, NEWEST, RELABELLED, DEC_27),
}


@pytest.mark.parametrize("order", list(ORDERS))
def test_full_backups_in_any_order_export_exactly_the_newest(
    db_url: str, full_backup: Family, order: str
) -> None:
    """Snapshots imported in any order: export is the newest backup, older ones by import id."""
    with SQLStore(db_url) as store:
        written = _write_all(store, full_backup, ORDERS[order])
        exported = export_document(store, full_backup)
        assert canonical_text(exported) == canonical_text(_upgraded(NEWEST))
        for path, report in zip(ORDERS[order], written, strict=True):
            assert report.import_id is not None
            older = export_document(store, full_backup, import_id=report.import_id)
            assert canonical_text(older) == canonical_text(_upgraded(path))
    ingredients = "SELECT COUNT(*) FROM docmigrate_records WHERE collection = 'ingredients'"
    assert _query(db_url, ingredients) == [(409,)]


def test_newest_snapshot_removes_replaces_and_counts(db_url: str, full_backup: Family) -> None:
    """In exported_at order, each newer backup replaces the state: counts say what changed."""
    with SQLStore(db_url) as store:
        reports = _write_all(store, full_backup, CHRONOLOGICAL)
    last = reports[-1]
    assert last.current and last.import_id == 4
    counts = [(r.imported, r.replaced, r.removed, r.skipped) for r in reports]
    # 3.6 turned the ingredients into a taxonomy: 86 new nodes, 323 changed, 18 gone; the
    # other 498 records (products, purchases, recipes...) are as they were.
    assert counts[3] == (86, 323, 18, 498)
    # The 3.5 export after F028: products and inventory rows gained fields (new content keys,
    # the old ones removed), ingredients changed, suppliers and purchases appeared.
    assert counts[1] == (463, 218, 308, 163)
    assert _query(db_url, "SELECT COUNT(*) FROM docmigrate_records") == [(907,)]


def test_older_snapshot_after_a_newer_one_changes_nothing_current(
    db_url: str, full_backup: Family
) -> None:
    """A backup older than the current state is kept by id, the state and head stay."""
    with SQLStore(db_url) as store:
        store.write(_upgraded(NEWEST), full_backup, Provenance("new", "1", "3.6"))
        before = _rows(db_url)
        older = store.write(_upgraded(DEC_27), full_backup, Provenance("old", "2", "3.5"))
        assert (older.current, older.imported, older.replaced, older.removed) == (False, 0, 0, 0)
        assert canonical_text(export_document(store, full_backup)) == canonical_text(
            _upgraded(NEWEST)
        )
    after = _rows(db_url)
    for table in ("docmigrate_records", "docmigrate_heads"):
        assert after[table] == before[table]
    assert len(after["docmigrate_snapshots"]) == 2


def test_reimporting_every_backup_changes_nothing(
    db_url: str, full_backup: Family, tmp_path: Path
) -> None:
    """Re-importing all files already imported: the database is row for row the same."""
    registry = Registry.from_paths(FULL_BACKUP, builtin=True)
    with SQLStore(db_url) as store:
        first = list(import_paths(list(CHRONOLOGICAL), registry, store))
        assert all(report.ok for report in first)
        before = _rows(db_url)
        again = list(import_paths([BACKUPS / "3.5", BACKUPS / "3.6"], registry, store))
    assert [r.action.startswith("already imported as import") for r in again] == [True] * 4
    assert _rows(db_url) == before


def test_export_import_id_on_the_command_line(
    capsys: pytest.CaptureFixture[str], db_url: str, tmp_path: Path
) -> None:
    """Re-import says it changed nothing; export --import ID gives an older snapshot (bad id 1)."""
    family_path = ("--family-path", FULL_BACKUP)
    code, out, _ = _run(capsys, "import", DEC_27, NEWEST, "--db", db_url, *family_path)
    assert code == 0, out
    assert "86 imported, 498 skipped, 323 replaced, 18 removed (import 2)" in out
    code, out, _ = _run(capsys, "import", DEC_27, NEWEST, "--db", db_url, *family_path)
    assert code == 0 and out.count("(already imported as import ") == 2
    output = tmp_path / "older.json"
    args = ("export", "--db", db_url, "--family", "full-backup", *family_path)
    code, _, err = _run(capsys, *args, "--import", "1", "-o", output)
    assert code == 0, err
    older = jsonio.load_path(output).value
    assert canonical_text(older) == canonical_text(_upgraded(DEC_27))
    code, _, err = _run(capsys, *args, "--import", "7")
    assert code == 1 and "no import 7 of family 'full-backup'" in err
    code, _, err = _run(
        capsys, "export", "--db", db_url, "--family", "production-history", "--import", "1"
    )
    assert code == 2 and "merges its imports" in err


def test_identical_unkeyed_records_in_one_array_are_all_kept(
    db_url: str, full_backup: Family
) -> None:
    """Two equal records without a key are two records, not a key used twice."""
    document = jsonio.clone(_upgraded(NEWEST))
    document["products"].append(jsonio.clone(document["products"][0]))
    with SQLStore(db_url) as store:
        store.write(document, full_backup, Provenance("twice", "t", "3.6"))
        assert export_document(store, full_backup)["products"] == document["products"]


# -- small families: merge and snapshot semantics, exact comparison, pointers -----------------

MERGE = (
    'version_pointer = "/v"\n[detect]\nrequired = ["/items"]\n'
    '[records]\npointer = "/items"\nkey = "id"\n'
)


def _family(make_family: FamilyMaker, toml: str = MERGE, **item_properties: Any) -> Family:
    properties = {"n": {}, "x": {}, **item_properties}
    schema = simple_schema("1", **properties)
    schema["properties"]["title"] = {"type": "string"}
    return load_family(make_family({"1": schema}, toml=toml))


def _doc(items: list[Any], title: str = "t") -> Any:
    return jsonio.loads(json.dumps({"v": "1", "title": title, "items": items}))


def test_replace_tells_true_from_1_decimals_and_key_order(
    db_url: str, make_family: FamilyMaker
) -> None:
    """--on-duplicate replace compares exact JSON text: true/1, 1.0/1.00, key order differ."""
    family = _family(make_family)
    before = jsonio.loads(
        '{"v": "1", "items": [{"id": "a", "n": 1}, {"id": "b", "n": 1.0},'
        ' {"id": "c", "n": 1, "x": 2}, {"id": "d", "n": 5}]}'
    )
    after = jsonio.loads(
        '{"v": "1", "items": [{"id": "a", "n": true}, {"id": "b", "n": 1.00},'
        ' {"id": "c", "x": 2, "n": 1}, {"id": "d", "n": 5}]}'
    )
    with SQLStore(db_url) as store:
        store.write(before, family, Provenance("a", "a", "1"))
        report = store.write(after, family, Provenance("b", "b", "1"), on_duplicate="replace")
        assert (report.replaced, report.skipped, report.imported) == (3, 1, 0)
        exported = {item["id"]: item for item in export_document(store, family)["items"]}
    assert [canonical_text(exported[item["id"]]) for item in after["items"]] == [
        canonical_text(item) for item in after["items"]
    ]


def test_all_duplicate_file_with_a_new_header_replaces_the_header(
    db_url: str, make_family: FamilyMaker
) -> None:
    """A merge file whose records are all stored still brings its header (not silently lost)."""
    family = _family(make_family)
    with SQLStore(db_url) as store:
        store.write(_doc([{"id": "a"}], "old"), family, Provenance("1", "1", "1"))
        report = store.write(_doc([{"id": "a"}], "new"), family, Provenance("2", "2", "1"))
        assert (report.import_id, report.skipped) == (2, 1)
        assert export_document(store, family)["title"] == "new"


def test_reimporting_an_empty_file_adds_no_provenance_row(
    db_url: str, make_family: FamilyMaker, registry: Registry, tmp_path: Path
) -> None:
    """The same empty file imported twice (generic and relational families): one import row."""
    family = _family(make_family)
    both = Registry.of(family, registry.get("production-history"))
    generic = tmp_path / "empty.json"
    generic.write_text('{"v": "1", "title": "t", "items": []}')
    history = tmp_path / "history.json"
    history.write_text(
        '{"version": "1.1", "exported_at": "2025-12-21T12:00:00", "production_runs": []}'
    )
    with SQLStore(db_url) as store:
        for _ in range(3):
            assert all(r.ok for r in import_paths([generic, history], both, store))
        assert [row["family"] for row in store.imports()] == ["demo", "production-history"]


def test_snapshot_without_newest_by_the_last_import_is_the_state(
    db_url: str, make_family: FamilyMaker
) -> None:
    """No newest_by: the last snapshot imported wins; re-importing an earlier one is a no-op."""
    toml = 'mode = "snapshot"\n' + MERGE
    family = _family(make_family, toml)
    one, two = _doc([{"id": "a"}, {"id": "b"}]), _doc([{"id": "b", "n": 2}])
    with SQLStore(db_url) as store:
        store.write(one, family, Provenance("1", "1", "1"))
        report = store.write(two, family, Provenance("2", "2", "1"))
        assert (report.removed, report.replaced) == (1, 1)
        assert store.write(one, family, Provenance("1", "1", "1")).already_imported == 1
        assert export_document(store, family) == two


def test_snapshot_on_duplicate_error_refuses_a_change(
    db_url: str, make_family: FamilyMaker
) -> None:
    """In snapshot mode, 'error' refuses a snapshot that would replace or remove a record."""
    family = _family(make_family, 'mode = "snapshot"\n' + MERGE)
    with SQLStore(db_url) as store:
        store.write(_doc([{"id": "a"}]), family, Provenance("1", "1", "1"))
        before = _rows(db_url)
        grown = _doc([{"id": "a"}, {"id": "b"}], "grown")
        assert store.write(grown, family, Provenance("2", "2", "1"), on_duplicate="error").imported
        with pytest.raises(DuplicateRecordError):
            store.write(
                _doc([{"id": "b"}]), family, Provenance("3", "3", "1"), on_duplicate="error"
            )
    assert len(_rows(db_url)["docmigrate_imports"]) == len(before["docmigrate_imports"]) + 1


def test_merge_newest_by_keeps_the_newest_header(db_url: str, make_family: FamilyMaker) -> None:
    """Merge with newest_by: an older file adds its records but not its header."""
    family = _family(make_family, 'newest_by = "/title"\n' + MERGE)
    with SQLStore(db_url) as store:
        store.write(_doc([{"id": "a"}], "2026-01-01T00:00:00Z"), family, Provenance("1", "1", "1"))
        older = store.write(
            _doc([{"id": "b"}], "2025-01-01T00:00:00Z"), family, Provenance("2", "2", "1")
        )
        assert (older.current, older.imported) == (False, 1)
        exported = export_document(store, family)
    assert (exported["title"], [i["id"] for i in exported["items"]]) == (
        "2026-01-01T00:00:00Z",
        ["a", "b"],
    )


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        ('"abc"', r"\$\.items is a string, not an array"),
        ('{"id": "a"}', r"\$\.items is an object, not an array"),
        (None, r"the document has no \$\.items"),
    ],
)
def test_document_without_its_records_array_stores_nothing(
    db_url: str, make_family: FamilyMaker, items: str | None, problem: str
) -> None:
    """A records pointer at a string, an object or nothing: RecordsPointerError, nothing stored."""
    schema = simple_schema("1")
    schema["required"] = ["v"]
    schema["properties"]["items"] = {}  # the schema does not say: only the document can tell
    family = load_family(make_family({"1": schema}, toml=MERGE))
    document = jsonio.loads('{"v": "1"' + ("" if items is None else f', "items": {items}') + "}")
    with SQLStore(db_url) as store:
        with pytest.raises(RecordsPointerError, match=problem) as caught:
            store.write(document, family, Provenance("x", "x", "1"))
        assert caught.value.pointer == "/items"
    assert all(rows == [] for rows in _rows(db_url).values())


def test_cli_import_names_a_missing_records_pointer(
    capsys: pytest.CaptureFixture[str], make_family: FamilyMaker, tmp_path: Path
) -> None:
    """On the command line a missing array is a per-file error naming the pointer (exit 1)."""
    schema = simple_schema("1")
    schema["required"] = ["v"]
    folder = make_family(
        {"1": schema}, toml=MERGE.replace('required = ["/items"]', "required = []")
    )
    source = tmp_path / "no-items.json"
    source.write_text('{"v": "1"}')
    code, out, err = _run(
        capsys,
        "import",
        source,
        "--db",
        tmp_path / "s.db",
        "--family-path",
        folder,
        "--family",
        "demo",
    )
    assert code == 1
    assert "/items: the document has no $.items" in out and "Traceback" not in out + err


@pytest.mark.parametrize(
    ("items_schema", "pointer", "problem"),
    [
        ({"type": "string"}, "/items", "the schema makes it string, not an array"),
        ({"type": "array"}, "/items/0/tags", "goes through an array at /items"),
        ({"type": "array"}, "/other", "the schema allows no member 'other' at /"),
    ],
)
def test_records_pointer_the_schema_rules_out_is_refused_at_load(
    make_family: FamilyMaker, items_schema: dict[str, Any], pointer: str, problem: str
) -> None:
    """Not an array, through an array, or a member a closed object cannot have: FamilyError."""
    schema = simple_schema("1")
    schema["properties"]["items"] = items_schema
    schema["additionalProperties"] = False
    toml = MERGE.replace('pointer = "/items"', f'pointer = "{pointer}"')
    with pytest.raises(FamilyError, match=re.escape(problem)):
        load_family(make_family({"1": schema}, toml=toml))


def test_collections_declared_as_tables_load_in_order(make_family: FamilyMaker) -> None:
    """[records.NAME] tables are collections in family.toml order; overlapping ones are refused."""
    schema = simple_schema("1")
    schema["properties"]["more"] = {"type": "array"}
    toml = (
        'version_pointer = "/v"\nmode = "snapshot"\n[records.things]\npointer = "/items"\n'
        'key = "id"\n[records.more]\npointer = "/more"\n'
    )
    family = load_family(make_family({"1": schema}, toml=toml))
    assert [(c.name, c.pointer, c.key) for c in family.collections] == [
        ("things", ("items",), "id"),
        ("more", ("more",), None),
    ]
    assert family.mode == "snapshot"
    overlapping = toml.replace('pointer = "/more"', 'pointer = "/items"')
    with pytest.raises(FamilyError, match="overlap"):
        load_family(make_family({"1": schema}, toml=overlapping, name="other"))


def test_layout_1_database_is_refused_before_anything_is_created(db_url: str) -> None:
    """A database of the old layout is refused with what to do, and no new table appears."""
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE docmigrate_layout (version INTEGER PRIMARY KEY)"))
        conn.execute(text("INSERT INTO docmigrate_layout VALUES (1)"))
    engine.dispose()
    with pytest.raises(StoreLayoutError, match=r"layout 1.*import the exports into a new database"):
        SQLStore(db_url)
    engine = create_engine(db_url)
    try:
        assert inspect(engine).get_table_names() == ["docmigrate_layout"]
    finally:
        engine.dispose()


def _readme_sql(dialect: str) -> str:
    blocks = re.findall(r"```sql\n(.*?)```", README, re.S)
    marker = "json_extract" if dialect == "sqlite" else "::jsonb"
    return next(block for block in blocks if marker in block)


def test_readme_collection_queries_run(db_url: str, full_backup: Family) -> None:
    """The README's SQL over a collection runs on SQLite and PostgreSQL: the 15 taxonomy roots."""
    with SQLStore(db_url) as store:
        store.write(_upgraded(NEWEST), full_backup, Provenance("n", "n", "3.6"))
    dialect = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    rows = _query(db_url, _readme_sql(dialect))
    roots = [i for i in _upgraded(NEWEST)["ingredients"] if i["hierarchy_level"] == 0]
    assert [(slug, int(level)) for slug, _, level in rows] == [(i["slug"], 0) for i in roots]
    assert len(rows) == 15
