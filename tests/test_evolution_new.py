"""docmigrate new (versions and families), --from-diff, and check's step coverage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_cli import run

from docmigrate.evolution.coverage import step_coverage
from docmigrate.evolution.lock import read_lock
from docmigrate.loader import load_family
from docmigrate.registry import BUILTIN_FOLDER


@pytest.fixture
def family(tmp_path: Path) -> Path:
    """A copy of the built-in family named "bakes", without a lock."""
    folder = tmp_path / "bakes"
    shutil.copytree(
        BUILTIN_FOLDER / "production_history",
        folder,
        ignore=shutil.ignore_patterns("__pycache__", "docmigrate.lock"),
    )
    toml = folder / "family.toml"
    toml.write_text(toml.read_text().replace('"production-history"', '"bakes"'))
    return folder


def _add_oven(folder: Path) -> None:
    path = folder / "1.2.schema.json"
    schema = json.loads(path.read_text())
    run = schema["$defs"]["run"]
    run["properties"]["oven"] = {"type": "string", "default": "main"}
    run["required"].append("oven")
    path.write_text(json.dumps(schema, indent=2))


def test_new_version_scaffolds_and_never_overwrites(
    family: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """New copies the head's schema relabelled, adds a stub, folders and a lock; twice exits 2."""
    code, out, _ = run(capsys, "new", "bakes", "1.2", "--family-path", family)
    assert code == 0 and "next:" in out and "docmigrate diff bakes 1.1 1.2" in out
    schema = json.loads((family / "1.2.schema.json").read_text())
    assert schema["properties"]["version"] == {"const": "1.2"}
    assert '@upgrade("1.1", "1.2", each="/production_runs")' in (family / "steps.py").read_text()
    assert (family / "examples" / "1.2" / "valid").is_dir()
    lock = read_lock(family)
    assert lock is not None
    assert {v: e.status for v, e in lock.versions.items()} == {
        "1.0": "released", "1.1": "released", "1.2": "draft",
    }  # fmt: skip
    before = (family / "1.2.schema.json").read_bytes()
    code, _, err = run(capsys, "new", "bakes", "1.2", "--family-path", family)
    assert code == 2 and "never overwrites" in err
    assert (family / "1.2.schema.json").read_bytes() == before


def test_stub_fails_the_laws_until_written(
    family: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The stub raises, so check fails on the new step (exit 1)."""
    run(capsys, "new", "bakes", "1.2", "--family-path", family)
    code, out, _ = run(
        capsys, "check", "bakes", "--family-path", family, "--examples", "5", "--no-store"
    )
    assert code == 1 and "write the 1.1 -> 1.2 step" in out


def test_from_diff_writes_the_step_from_schema_defaults(
    family: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An added property with a default gets a generated step; laws and coverage then pass."""
    run(capsys, "new", "bakes", "1.2", "--family-path", family)
    _add_oven(family)
    code, _, _ = run(capsys, "new", "bakes", "1.2", "--from-diff", "--family-path", family)
    assert code == 0
    assert "record.setdefault('oven', defaults['oven'])" in (family / "steps.py").read_text()
    code, out, _ = run(
        capsys, "check", "bakes", "--family-path", family, "--examples", "5", "--no-store"
    )
    assert code == 0, out
    assert "ok    step coverage 1.1 -> 1.2: 2 reader-breaking change(s)" in out  # label, oven


def test_from_diff_refuses_changes_it_cannot_write(
    family: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A change other than a defaulted addition is named and refused (exit 2)."""
    run(capsys, "new", "bakes", "1.2", "--family-path", family)
    path = family / "1.2.schema.json"
    path.write_text(path.read_text().replace('"maxLength": 40', '"maxLength": 10', 1))
    code, _, err = run(capsys, "new", "bakes", "1.2", "--from-diff", "--family-path", family)
    assert code == 2 and "maxLength 40 became 10" in err


def test_uncovered_reader_breaking_change_fails_coverage(
    family: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A step that does not add a new required field leaves the change uncovered, named."""
    run(capsys, "new", "bakes", "1.2", "--family-path", family)
    _add_oven(family)
    steps = family / "steps.py"
    steps.write_text(
        steps.read_text().replace(
            '    raise NotImplementedError("write the 1.1 -> 1.2 step in steps.py")\n',
            "    return record\n",
        )
    )
    results = step_coverage(load_family(family), examples=40)
    uncovered = [f.change.summary for r in results for f, _ in r.uncovered]
    assert uncovered == [
        "property 'oven' added (required, default \"main\"); old files never had it"
    ]


def test_new_family_folder_loads_with_version_1_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a version, new FAMILY --family-path DIR creates a family at 1.0, lock draft."""
    code, out, _ = run(capsys, "new", "recipe-book", "--family-path", tmp_path)
    assert code == 0 and "created" in out
    loaded = load_family(tmp_path / "recipe_book")
    assert loaded.versions == ("1.0",)
    lock = read_lock(tmp_path / "recipe_book")
    assert lock is not None and lock.versions["1.0"].status == "draft"
    code, _, err = run(capsys, "new", "recipe-book", "--family-path", tmp_path)
    assert code == 2 and "already exists" in err
